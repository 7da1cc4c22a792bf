"""Areas: city > district > street/township > community > residential complex."""
