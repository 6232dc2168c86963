"""The SQL store: typed ORM tables, repositories behind the ports, one Alembic chain (SQLite and PostgreSQL)."""
