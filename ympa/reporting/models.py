"""Reporting stores nothing of its own: it reads the vaccination record and writes to the access log."""
