"""Ympa: an open-source vaccination record system for Sweden."""
