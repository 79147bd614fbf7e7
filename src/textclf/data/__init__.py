"""Data in: readers, validation, label spaces, splits and synthetic demo data.

This package works on Arrow tables and arrays only; it never imports torch or transformers.
"""
