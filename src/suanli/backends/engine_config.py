"""An agent's engine configuration file: engine options plus per-pool settings that only the centre knows.

    # slurm.yaml, for `suanli agent --engine slurm --engine-config slurm.yaml`
    slurm_conf: /etc/slurm/slurm.conf   # optional; the default is Slurm's own lookup
    accounting: true                    # usage from sacct (false: from scontrol and wall time)
    pools:                              # suanli pool name -> how this engine runs it
      a100: {partition: gpu, gres: "gpu:a100", account: suanli}
      910b: {partition: ascend, gres: "npu:910b"}
      cpu:  {partition: cpu}

The pools themselves (nodes, accelerators, stack) come from the server; this file only adds engine details.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from suanli.domain.errors import FieldError, InvalidInput


def load_engine_config(path: Path | None) -> dict[str, Any]:
    """The file's mapping (empty without a file); a clear error naming the file when it is not one."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput([FieldError("engine_config", f"cannot read {path}: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput([FieldError("engine_config", f"{path} is not valid YAML: {exc}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("engine_config", f"{path} must hold a mapping")])
    pools = data.get("pools", {})
    if not isinstance(pools, dict) or not all(isinstance(v, dict) for v in pools.values()):
        raise InvalidInput([FieldError("pools", "pools must map each pool name to a mapping of settings")])
    return data


def merge_pools(server_pools: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The server's pools with the file's per-pool settings added; a pool the centre lacks is an error."""
    extra: dict[str, dict[str, Any]] = {str(k): v for k, v in config.get("pools", {}).items()}
    known = {p["name"] for p in server_pools}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise InvalidInput(
            [
                FieldError(f"pools.{name}", f"this centre has no pool {name!r}; it has {sorted(known)}")
                for name in unknown
            ]
        )
    return [{**p, **extra.get(p["name"], {})} for p in server_pools]


def register_optional() -> None:
    """Register the engines whose client library is an optional extra (kubernetes), when it is installed."""
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        return
    from suanli.backends import kubernetes as _kubernetes  # noqa: F401 - registers the "kubernetes" engine
