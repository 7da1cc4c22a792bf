"""Proactive governance (主动治理): hot spots, surges, topics of the month and projects."""
