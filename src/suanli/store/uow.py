"""The SQL unit of work (one transaction over every repository) and the store that makes them."""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from suanli.store.database import make_engine, migrate
from suanli.store.repos_centres import SqlCentreRepo, SqlPoolRepo, SqlPriceRepo
from suanli.store.repos_jobs import SqlAttemptRepo, SqlJobRepo, SqlLogRepo, SqlUsageRepo, SqlWaitRepo
from suanli.store.repos_ledger import SqlLedgerRepo
from suanli.store.repos_people import SqlCatalogueRepo, SqlTenantRepo, SqlTokenRepo, SqlUserRepo
from suanli.store.repos_vouchers import SqlVoucherRepo

_SCHEDULER_LOCK_KEY = 0x53756E5363686564  # PostgreSQL advisory lock of the scheduler leader


class SqlUnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.session: Session | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False, autoflush=False)
        s = self.session
        self.tenants = SqlTenantRepo(s)
        self.users = SqlUserRepo(s)
        self.tokens = SqlTokenRepo(s)
        self.catalogue = SqlCatalogueRepo(s)
        self.centres = SqlCentreRepo(s)
        self.pools = SqlPoolRepo(s)
        self.prices = SqlPriceRepo(s)
        self.jobs = SqlJobRepo(s)
        self.attempts = SqlAttemptRepo(s)
        self.logs = SqlLogRepo(s)
        self.usage = SqlUsageRepo(s)
        self.waits = SqlWaitRepo(s)
        self.ledger = SqlLedgerRepo(s)
        self.vouchers = SqlVoucherRepo(s)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self.session is not None
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
            self.session = None


class SqlLeaderLock:
    """PostgreSQL: a session-level advisory lock on a dedicated connection. SQLite: one process, so a mutex."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._local = threading.Lock()
        self._held = False

    def acquire(self) -> bool:
        if self._held:
            return True
        if self._engine.dialect.name != "postgresql":
            self._held = self._local.acquire(blocking=False)
            return self._held
        conn = self._engine.connect()
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _SCHEDULER_LOCK_KEY}).scalar())
        conn.commit()
        if got:
            self._conn, self._held = conn, True
        else:
            conn.close()
        return got

    def release(self) -> None:
        if not self._held:
            return
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEDULER_LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        else:
            self._local.release()
        self._held = False


class SqlStore:
    """The store behind every service: SQLite by default, PostgreSQL when the URL says so."""

    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate_schema:
            migrate(self.engine)
        self._leader = SqlLeaderLock(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def leader_lock(self) -> SqlLeaderLock:
        return self._leader

    def close(self) -> None:
        self._leader.release()
        self.engine.dispose()
