"""Messaging: SMS through 46elks, e-mail through Django mail backends."""
