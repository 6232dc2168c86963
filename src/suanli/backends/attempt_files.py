"""Files the engines keep per attempt under their state directory: safe paths, JSON records, the job's files,
and reading a log at an offset. Shared by the local, Slurm, Ray, federation and Kubernetes engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suanli.domain.errors import BackendError
from suanli.domain.jobs.spec import check_relative_path


def attempt_path(attempts_dir: Path, attempt_id: str, suffix: str = "") -> Path:
    """`attempts_dir/<attempt id><suffix>`, refusing ids that would leave it or clash with staging names."""
    if "/" in attempt_id or attempt_id in ("", ".", "..") or attempt_id.startswith("."):
        raise BackendError(f"bad attempt id {attempt_id!r}", retryable=False)
    return attempts_dir / f"{attempt_id}{suffix}"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON record, or None when it is missing or half-written."""
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_files(work: Path, files: dict[str, str]) -> None:
    """The job's files (relative path → UTF-8 text) under its working directory."""
    for rel, content in files.items():
        target = work / check_relative_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def read_at(path: Path, offset: int, limit: int) -> bytes:
    """Up to `limit` bytes of a file from `offset` (nothing if it does not exist yet)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(limit)
    except FileNotFoundError:
        return b""
