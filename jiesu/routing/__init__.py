"""Smart dispatch: the category, place, unit, urgency and duplicates a new request most likely has."""
