"""One typed settings tree. Every value has a documented default and an environment name derived from its
path: `SUANLI_` + the path joined with `__`, e.g. `scheduler.interval_s` is `SUANLI_SCHEDULER__INTERVAL_S`.

Sources, strongest first: keyword arguments, environment variables, the TOML config file
(`$SUANLI_CONFIG`, else `$SUANLI_HOME/config.toml`), the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


def default_home() -> Path:
    """`$SUANLI_HOME`, else `~/.suanli`: holds config, CLI credentials and the embedded default's data."""
    return Path(os.environ.get("SUANLI_HOME") or Path.home() / ".suanli")


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8470, ge=1, le=65535, description="port the API listens on")
    public_url: str | None = Field(None, description="URL agents and the CLI use to reach the API")

    def url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class SchedulerSettings(BaseModel):
    enabled: bool = Field(True, description="run the scheduler loop in this server")
    policy: str = Field("suanli", description="scheduling policy by name (see docs/scheduling.md)")
    fallback_policy: str = Field(
        "fifo",
        description="the live loop places with this policy in a cycle where `policy` fails (logged and counted "
        "in /readyz), so one bad decision does not stop the city; empty: none",
    )
    interval_s: float = Field(1.0, gt=0, description="seconds between scheduling cycles")
    heartbeat_timeout_s: float = Field(
        30.0, gt=0, description="a centre is offline after this long without a heartbeat"
    )
    placement_timeout_s: float = Field(
        120.0, gt=0, description="a placed job its centre has not taken within this is put back in the queue"
    )
    lost_timeout_s: float = Field(
        600.0,
        gt=0,
        description="running jobs of a centre offline (or its engine unreachable) this long are declared lost",
    )
    resync_s: float = Field(60.0, gt=0, description="the scheduler rebuilds its cache from the database this often")
    fairshare_half_life_h: float = Field(168.0, gt=0, description="tenants' past usage counts half after this long")


class AgentSettings(BaseModel):
    poll_interval_s: float = Field(1.0, gt=0, description="seconds between agent loop ticks")
    lease_batch: int = Field(16, ge=1, le=1000, description="most placed jobs leased per tick")
    max_backoff_s: float = Field(30.0, gt=0, description="longest wait between retries when the server is unreachable")


class LimitSettings(BaseModel):
    max_spec_bytes: int = Field(2 * 1024 * 1024, description="largest job spec accepted, files included")
    max_files_bytes: int = Field(1024 * 1024, description="largest total size of a job's workdir files")
    max_log_chunk_bytes: int = Field(256 * 1024, description="largest log chunk an agent may send at once")
    max_log_bytes: int = Field(
        16 * 1024 * 1024, description="log bytes kept per attempt; the rest is dropped and marked"
    )
    max_page_size: int = Field(500, description="largest page of a list endpoint")


class AuthSettings(BaseModel):
    token_ttl_days: int = Field(90, ge=1, description="default lifetime of a user API token")


class BillingSettings(BaseModel):
    platform_fee_rate: Decimal = Field(
        Decimal("0"), ge=0, le=1, description="share of each usage charge kept by the platform (0.05 = 5%)"
    )
    service_meter_interval_s: int = Field(
        3600, ge=60, le=31 * 86400, description="a running service is charged for each period of this many seconds"
    )


class Settings(BaseSettings):
    """Everything configurable in suanli."""

    model_config = SettingsConfigDict(env_prefix="SUANLI_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=default_home, description="config, credentials and embedded data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in $SUANLI_HOME/data")
    server: ServerSettings = ServerSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    agent: AgentSettings = AgentSettings()
    limits: LimitSettings = LimitSettings()
    auth: AuthSettings = AuthSettings()
    billing: BillingSettings = BillingSettings()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'suanli.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads `$SUANLI_CONFIG` or `$SUANLI_HOME/config.toml` when it exists."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("SUANLI_CONFIG") or default_home() / "config.toml")
        if not path.is_file():
            return {}
        with path.open("rb") as fh:
            return tomllib.load(fh)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings tree (fails fast on a bad value)."""
    return Settings(**overrides)


def describe(model: type[BaseModel] = Settings, prefix: str = "SUANLI_") -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for docs and `--help` pages."""
    rows = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += describe(annotation, env + "__")
            continue
        default = "(derived)" if field.default_factory is not None else repr(field.default)
        rows.append((env, default, field.description or ""))
    return rows
