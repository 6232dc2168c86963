"""Pure value types and rules: no I/O, no clock, no database. Everything else builds on these."""
