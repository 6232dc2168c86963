"""One Alembic chain builds exactly the schema the ORM declares, on SQLite and on PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from suanli.store.database import make_engine
from suanli.store.tables import Base


def test_migrated_schema_matches_the_tables(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
