"""Jiesu (接诉即办): software for a city's 12345 citizen hotline."""

__version__ = "0.1.0"
