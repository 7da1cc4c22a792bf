"""Open311 GeoReport v2: other systems report to the city, and read its requests back, in JSON and XML."""
