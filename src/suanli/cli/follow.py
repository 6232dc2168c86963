"""Reading a job spec file for submission, and following a job's logs and state until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from suanli.client import SuanliClient
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.jobs.spec import load_yaml_mapping

TERMINAL = {"succeeded", "failed", "cancelled", "rejected"}
_SKIP_DIRS = {"__pycache__", ".git", ".venv", "node_modules"}
MAX_WORKDIR_BYTES = 1024 * 1024


def read_spec_file(path: Path) -> dict[str, Any]:
    """Load a YAML/JSON spec; a `workdir:` (relative to the file) is packed into `files`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput([FieldError("", f"cannot read {path}: {exc.strerror}")]) from None
    data = load_yaml_mapping(text, str(path))
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("", f"{path}: a job spec must be a mapping of fields")])
    workdir = data.pop("workdir", None)
    if workdir is not None:
        root = (path.parent / str(workdir)).resolve()
        if not root.is_dir():
            raise InvalidInput([FieldError("workdir", f"{root} is not a directory")])
        files = dict(data.get("files") or {})
        files.update(pack_workdir(root))
        data["files"] = files
    return data


def pack_workdir(root: Path) -> dict[str, str]:
    """Text files under `root` (hidden files and caches skipped), at most 1 MiB in all."""
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part in _SKIP_DIRS for part in rel.parts) or not path.is_file():
            continue
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                [FieldError("workdir", f"{rel} is not UTF-8 text; only text files are uploaded")]
            ) from None
        total += len(content.encode())
        if total > MAX_WORKDIR_BYTES:
            raise InvalidInput([FieldError("workdir", f"more than {MAX_WORKDIR_BYTES} bytes of files under {root}")])
        files[rel.as_posix()] = content
    return files


def follow(
    client: SuanliClient,
    job_id: str,
    write: Callable[[str], None],
    on_state: Callable[[dict[str, Any]], None],
    interval: float = 1.0,
    logs: bool = True,
) -> dict[str, Any]:
    """Stream the job's output (every attempt in turn) and report state changes; returns the final job."""
    attempt, offset, last_state = 0, 0, None
    while True:
        job = client.job(job_id)
        if job["state"] != last_state:
            on_state(job)
            last_state = job["state"]
        if logs and job["attempts"]:
            if job["attempts"] != attempt:
                attempt, offset = job["attempts"], 0
                if attempt > 1:
                    write(f"\n--- attempt {attempt} ---\n")
            for piece in _drain(client, job_id, attempt, offset):
                write(piece["data"])
                offset = piece["next_offset"]
        if job["state"] in TERMINAL:
            if logs and job["attempts"]:
                for piece in _drain(client, job_id, attempt, offset):
                    write(piece["data"])
            return job
        time.sleep(interval)


def _drain(client: SuanliClient, job_id: str, attempt: int, offset: int) -> Iterator[dict[str, Any]]:
    while True:
        piece = client.logs(job_id, offset=offset, attempt=attempt)
        if piece["next_offset"] == offset:
            return
        offset = piece["next_offset"]
        yield piece
