"""History import: a city's tickets from its older system, loaded in bulk (`jiesu tickets import`).

`importer.import_tickets` is the entry (what it writes, and how rows are rejected, is in its docstring); it
reads (read.py: CSV, JSON Lines, rows), checks (check.py: each row into a clean record or a rejection) and
writes (write.py: PostgreSQL COPY or SQLite batched inserts, in threads beside the reading).
"""
