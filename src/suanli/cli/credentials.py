"""Where the CLI finds its server and token: flags, then $SUANLI_SERVER / $SUANLI_TOKEN, then
$SUANLI_HOME/credentials.toml (written by `suanli login` and `suanli up`, readable by its owner only)."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from suanli.config import default_home

DEFAULT_SERVER = "http://127.0.0.1:8470"


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str | None


def credentials_path(home: Path | None = None) -> Path:
    return (home or default_home()) / "credentials.toml"


def load_credentials(server: str | None = None, token: str | None = None) -> Credentials:
    stored: dict[str, str] = {}
    path = credentials_path()
    if path.is_file():
        with path.open("rb") as fh:
            stored = {k: str(v) for k, v in tomllib.load(fh).items()}
    return Credentials(
        server=server or os.environ.get("SUANLI_SERVER") or stored.get("server") or DEFAULT_SERVER,
        token=token or os.environ.get("SUANLI_TOKEN") or stored.get("token"),
    )


def save_credentials(creds: Credentials, home: Path | None = None) -> Path:
    """Write the credentials file with mode 0600 (the token is a secret)."""
    path = credentials_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"server = {json.dumps(creds.server)}"]
    if creds.token:
        lines.append(f"token = {json.dumps(creds.token)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path
