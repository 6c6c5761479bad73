"""The TensorFlow side: model builders, the training loop, checkpoints and run folders.

Importing the package loads nothing: only ``tf_setup`` imports TensorFlow, and the specs,
the run folder's place and the cluster are checked before it loads. May import data,
evaluation, contract, atomic.
"""
