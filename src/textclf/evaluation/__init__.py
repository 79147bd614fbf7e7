"""Metrics, decision rules and reports: pure functions of arrays (no torch, no transformers)."""
