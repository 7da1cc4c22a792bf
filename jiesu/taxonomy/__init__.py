"""Request types, the category tree and the deadline policy per category and urgency."""
