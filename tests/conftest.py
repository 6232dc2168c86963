"""Shared fixtures. The suite runs against SQLite by default and against PostgreSQL when
SUANLI_TEST_DATABASE_URL names one (CI runs both; `--require-postgres` fails if PostgreSQL is unusable)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from suanli.config import Settings
from suanli.domain.centres import EngineKind
from suanli.domain.tenants import Principal, Role, TenantKind
from suanli.service import agents, centres, tenants
from suanli.service.auth import authenticate, create_token, mint_agent_token
from suanli.service.context import Context
from suanli.service.tenants import bootstrap
from suanli.store.database import make_engine, migrate
from suanli.store.memory import MemoryStore
from suanli.store.tables import Base
from suanli.store.uow import SqlStore

PG_ENV = "SUANLI_TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgres",
        action="store_true",
        help="fail (instead of running on SQLite) unless SUANLI_TEST_DATABASE_URL is a usable PostgreSQL",
    )
    parser.addoption(
        "--require-ray",
        action="store_true",
        default=os.environ.get("SUANLI_REQUIRE_RAY") == "1",
        help="fail (instead of skipping) the Ray engine tests when Ray cannot start (also SUANLI_REQUIRE_RAY=1)",
    )
    parser.addoption(
        "--require-slurm",
        action="store_true",
        default=os.environ.get("SUANLI_REQUIRE_SLURM") == "1",
        help="fail (instead of skipping) the Slurm engine tests when no Slurm cluster answers "
        "(start one with scripts/slurm-up.sh; also SUANLI_REQUIRE_SLURM=1)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"suanli test database: {_backend_name()}"


def _backend_name() -> str:
    url = os.environ.get(PG_ENV)
    return "postgresql" if url else "sqlite"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------ databases


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database for the session: a SQLite file to copy, or a fresh PostgreSQL database."""
    pg = os.environ.get(PG_ENV)
    if request.config.getoption("--require-postgres") and not pg:
        pytest.exit(f"--require-postgres given but {PG_ENV} is not set", returncode=3)
    if not pg:
        path = tmp_path_factory.mktemp("db") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()  # the last connection closing checkpoints the WAL into the file we copy
        yield f"sqlite:///{path}"
        return
    base = make_url(pg)
    name = f"suanli_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.exit(f"PostgreSQL at {base.render_as_string(hide_password=True)} is not usable: {exc}", returncode=3)
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A clean database for one test (a copy of the SQLite template, or emptied PostgreSQL tables)."""
    if database_template.startswith("sqlite"):
        path = tmp_path / "suanli.db"
        shutil.copy(database_template.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    engine = create_engine(database_template)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield database_template


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlStore | MemoryStore]:
    """Every service-level test runs on the SQL store and on its in-memory fake: they must agree."""
    if request.param == "memory":
        yield MemoryStore()
        return
    s = SqlStore(request.getfixturevalue("database_url"), migrate_schema=False)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def ctx(store: SqlStore, settings: Settings, clock: FakeClock) -> Context:
    return Context(store, settings, clock)


# ------------------------------------------------------------------------------------------ a small city


@dataclass
class City:
    """A small city for tests: an admin, operators, two tenants, three centres and their agent tokens."""

    ctx: Context
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> token
    agent_tokens: dict[str, str] = field(default_factory=dict)  # centre name -> token
    ids: dict[str, str] = field(default_factory=dict)  # names -> ids

    def principal(self, who: str) -> Principal:
        return authenticate(self.ctx, self.tokens[who])

    def agent(self, centre: str) -> Principal:
        return authenticate(self.ctx, self.agent_tokens[centre])


POOLS = {
    "ai": [("npu", "Ascend910B", 2, 8, 192, 1024, "12.50")],
    "gpu": [("a100", "A100", 2, 8, 128, 1024, "18.00"), ("h800", "H800", 1, 8, 128, 1024, "30.00")],
    "hpc": [("cpu", "CPU-X86", 4, 0, 64, 256, "0.06")],
}


def build_city(ctx: Context) -> City:
    admin_secret = bootstrap(ctx).secret
    city = City(ctx, admin_secret)
    city.tokens["admin"] = admin_secret
    admin = authenticate(ctx, admin_secret)
    operator = tenants.create_tenant(ctx, admin, tenants.TenantInput("ops", "Operator Co", TenantKind.ENTERPRISE))
    city.ids["ops"] = operator.id
    for name, pools in POOLS.items():
        centre = centres.create_centre(ctx, admin, centres.CentreInput(name, operator.id, EngineKind.LOCAL))
        city.ids[name] = centre.id
        for pool_name, model, nodes, apn, cpus, mem, price in pools:
            pool = centres.add_pool(ctx, admin, centre.id, centres.PoolInput(pool_name, model, nodes, apn, cpus, mem))
            centres.add_price(ctx, admin, pool.id, price, "0.4", valid_from=ctx.clock.now() - timedelta(days=1))
            city.ids[f"{name}/{pool_name}"] = pool.id
        with ctx.store.uow() as uow:
            city.agent_tokens[name] = mint_agent_token(uow, centre.id, "agent", ctx.clock.now()).secret
    for tenant_name in ("acme", "globex"):
        tenant = tenants.create_tenant(
            ctx, admin, tenants.TenantInput(tenant_name, tenant_name.title(), TenantKind.ENTERPRISE, sme=True)
        )
        city.ids[tenant_name] = tenant.id
        for user, role in ((f"{tenant_name}-admin", Role.TENANT_ADMIN), (f"{tenant_name}-dev", Role.TENANT_MEMBER)):
            u = tenants.create_user(ctx, admin, tenant.id, tenants.UserInput(user, role))
            city.ids[user] = u.id
            city.tokens[user] = create_token(ctx, admin, u.id, "test", None).secret
    for user, role in (("auditor", Role.AUDITOR), ("operator", Role.CENTRE_OPERATOR)):
        tenant_id = admin.tenant_id if role is Role.AUDITOR else operator.id
        u = tenants.create_user(ctx, admin, tenant_id or "", tenants.UserInput(user, role))
        city.ids[user] = u.id
        city.tokens[user] = create_token(ctx, admin, u.id, "test", None).secret
    return city


def heartbeat_all(city: City) -> None:
    """Every centre's agent says it is alive (centres without a fresh heartbeat are offline)."""
    for name in POOLS:
        agents.heartbeat(city.ctx, city.agent(name), {}, [], {})


@pytest.fixture
def city(ctx: Context) -> City:
    c = build_city(ctx)
    heartbeat_all(c)
    return c


# ------------------------------------------------------------------------------------------ a real Slurm
# A cluster started by `scripts/slurm-up.sh` (CI starts it). Without one, the Slurm tests are skipped with the
# command that starts it; with `--require-slurm` (CI) they fail.

SLURM_CONF = Path(os.environ.get("SUANLI_SLURM_DIR", "/tmp/suanli-slurm")) / "etc" / "slurm.conf"


def _slurm_problem() -> str | None:
    if not SLURM_CONF.exists():
        return f"no Slurm test cluster ({SLURM_CONF} missing)"
    try:
        proc = subprocess.run(
            ["sinfo", "--noheader", "--format=%P %D %t"],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "SLURM_CONF": str(SLURM_CONF)},
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if proc.returncode != 0:
        return f"the Slurm test cluster does not answer: {proc.stderr.strip()}"
    return None


@pytest.fixture(scope="session")
def slurm_conf(request: pytest.FixtureRequest) -> str:
    """SLURM_CONF of the running test cluster."""
    problem = _slurm_problem()
    if problem is not None:
        message = f"{problem}; start one with scripts/slurm-up.sh"
        if request.config.getoption("--require-slurm"):
            pytest.fail(f"--require-slurm: {message}", pytrace=False)
        pytest.skip(message)
    return str(SLURM_CONF)


@pytest.fixture(scope="session")
def slurm_rest(slurm_conf: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """slurmrestd of the test cluster (started by scripts/slurm-up.sh) and a JWT for it."""
    import httpx

    url = os.environ.get("SUANLI_SLURMRESTD", "http://127.0.0.1:16820")
    env = {**os.environ, "SLURM_CONF": slurm_conf}
    token = (
        subprocess.run(["scontrol", "token", "username=root", "lifespan=7200"], capture_output=True, text=True, env=env)
        .stdout.strip()
        .removeprefix("SLURM_JWT=")
    )
    try:
        answer = httpx.get(
            f"{url}/slurm/v0.0.38/ping", headers={"X-SLURM-USER-NAME": "root", "X-SLURM-USER-TOKEN": token}
        )
        ok = answer.status_code == 200
    except httpx.HTTPError:
        ok = False
    if not (token and ok):
        message = f"slurmrestd does not answer at {url} with a JWT; start it with scripts/slurm-up.sh"
        if request.config.getoption("--require-slurm"):
            pytest.fail(f"--require-slurm: {message}", pytrace=False)
        pytest.skip(message)
    return url, token


# ------------------------------------------------------------------------------------------ a real Ray head


@pytest.fixture(scope="session")
def ray_head(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard address of a real local Ray head started for this session (and stopped after it): 8 CPUs,
    8 GPUs that are also the custom resource `A100`, and 8 `NPU` (no real device is touched)."""
    import signal
    import sys
    import time

    import httpx

    def give_up(message: str) -> None:
        if request.config.getoption("--require-ray"):
            pytest.fail(f"--require-ray: {message}", pytrace=False)
        pytest.skip(message)

    try:
        import ray  # noqa: F401
    except ImportError:
        give_up("Ray is not installed (pip install -e '.[ray]')")
    ray_bin = Path(sys.executable).with_name("ray")
    port = 26379 + os.getpid() % 1000
    dashboard = port + 1000
    temp = tmp_path_factory.mktemp("ray")
    env = {
        **os.environ,
        "PATH": f"{ray_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    log = (temp / "head.log").open("wb")
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", f"--dashboard-port={dashboard}",
         "--dashboard-host=127.0.0.1", f"--ray-client-server-port={port + 1}", f"--temp-dir={temp}",
         "--num-cpus=8", "--num-gpus=8", '--resources={"A100": 8, "NPU": 8}', "--include-dashboard=true",
         "--disable-usage-stats"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    address = f"http://127.0.0.1:{dashboard}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if head.poll() is not None:
                give_up(f"the Ray head exited: {(temp / 'head.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{address}/api/version", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            give_up(f"the Ray head did not answer at {address} within 90 s")
        _wait_for_ray_jobs(address, deadline, give_up)
        yield address
    finally:
        try:
            os.killpg(head.pid, signal.SIGTERM)
            head.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(head.pid, signal.SIGKILL)
        log.close()


def _wait_for_ray_jobs(address: str, deadline: float, give_up: Callable[[str], None]) -> None:
    """Until the head takes jobs: its dashboard answers before the agent that runs submissions has registered
    ("No available agent to submit job, please try again later"), so submit a trivial job until one runs."""
    import time

    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(address)
    last = ""
    while time.monotonic() < deadline:
        try:
            probe = client.submit_job(entrypoint="true")
        except Exception as exc:  # noqa: BLE001 - the SDK raises RuntimeError while no agent is there
            last = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
            time.sleep(0.5)
            continue
        while time.monotonic() < deadline and not client.get_job_status(probe).is_terminal():
            time.sleep(0.2)
        client.delete_job(probe)
        return
    give_up(f"the Ray head at {address} took no job within 90 s: {last}")
