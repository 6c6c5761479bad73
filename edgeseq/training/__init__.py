"""The TensorFlow side: model builders, training loops, checkpoints and run folders.

Importing the package loads nothing: ``tf_setup`` is the one module that imports TensorFlow
(quietly), and every module that needs TensorFlow imports it through there. ``specs``,
``launch`` and ``run_folder`` are standard library only, so the CLI checks a training
request before TensorFlow loads. May import data, evaluation, contract, atomic.
"""
