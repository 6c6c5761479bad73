"""Text and CSV files to arrays: vocabularies, batches, series, windows, scalers, samples.

numpy and the standard library only; may import contract, choices and errors."""
