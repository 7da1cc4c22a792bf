"""HTTP: the REST API under /api/v1 and the mapping of domain errors to status codes."""
