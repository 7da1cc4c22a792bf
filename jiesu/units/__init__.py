"""Handling units (streets, departments, companies, communities), users, roles and permissions."""
