"""Inference: batched, length-sorted prediction from a saved model folder."""
