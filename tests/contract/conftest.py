"""Real engines for the contract suites: a Slurm cluster started by `scripts/slurm-up.sh` (CI starts it).

Without one, the Slurm tests are skipped with the command that starts it; with `--require-slurm` (CI) they fail.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

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
