"""Diagnostics of a trained classifier: plots, error analysis, embedding maps, attributions."""
