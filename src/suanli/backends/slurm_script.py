"""The files one attempt becomes on a Slurm cluster: a batch script, a per-rank script, and sbatch's options.

The batch script runs on the first node of the allocation; it starts one task per node with `srun`, each task
running `rank.sh`, which sets the suanli environment (rank, peers, accelerator ids named per stack), runs
`setup` then `run`, and leaves small marker files the engine reads back (devices, exit codes). The runtime limit
is Slurm's `--time` (whole minutes, checked by slurmctld about every 30 s) and, to the second, `timeout` around
`srun`; a job cut by either is reported as a timeout.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from suanli.domain.accelerators import VISIBLE_DEVICES_ENV
from suanli.ports import AttemptSpec

JOB_NAME_PREFIX = "suanli-"


@dataclass(frozen=True)
class SlurmPool:
    """A suanli pool as a Slurm partition: `gres` is `name[:type]` (e.g. `gpu:a100`, `npu:910b`); none for CPUs."""

    name: str
    partition: str
    gres: str | None = None
    account: str | None = None
    qos: str | None = None


def job_name(attempt_id: str) -> str:
    return f"{JOB_NAME_PREFIX}{attempt_id}"


def sbatch_options(spec: AttemptSpec, pool: SlurmPool, attempt_dir: str) -> list[str]:
    """sbatch's options for one attempt: one task per node, the GRES per node, the whole-minute time limit."""
    options = [
        f"--job-name={job_name(spec.attempt_id)}",
        f"--partition={pool.partition}",
        f"--nodes={spec.nodes}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={max(1, math.ceil(spec.cpus))}",
        f"--mem={max(1, math.ceil(spec.memory_gib * 1024))}M",
        f"--time={max(1, math.ceil(spec.max_runtime_s / 60))}",
        f"--chdir={attempt_dir}/work",
        f"--output={attempt_dir}/output.log",
        "--export=NONE",
        "--no-requeue",
        f"--comment=suanli job {spec.job_id} of tenant {spec.tenant}",
    ]
    if spec.per_node > 0:
        if not pool.gres:
            raise ValueError(f"pool {pool.name} has no GRES configured for accelerators")
        options.append(f"--gres={pool.gres}:{spec.per_node}")
    if pool.account:
        options.append(f"--account={pool.account}")
    if pool.qos:
        options.append(f"--qos={pool.qos}")
    return options


def batch_script(spec: AttemptSpec, attempt_dir: str, base_env: dict[str, str]) -> str:
    """The batch script: the job's environment, peers and port, then one `rank.sh` per node under a timeout."""
    att = shlex.quote(attempt_dir)
    env = dict(base_env)
    env.update(spec.envs)
    env.update(
        {
            "SUANLI_JOB_ID": spec.job_id,
            "SUANLI_JOB_NAME": spec.job_name,
            "SUANLI_ATTEMPT_ID": spec.attempt_id,
            "SUANLI_ACCELERATOR_MODEL": spec.model,
            "SUANLI_ACCELERATORS_PER_NODE": str(spec.per_node),
            "PYTHONUNBUFFERED": "1",
        }
    )
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    limit = max(1, spec.max_runtime_s)
    return f"""#!/bin/bash
# suanli attempt {spec.attempt_id} (job {spec.job_id})
ATT={att}
{exports}
export SLURM_EXPORT_ENV=ALL
ips=""
for n in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
  addr=$(scontrol --oneliner show node "$n" | sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p')
  ips="$ips${{ips:+$'\\n'}}${{addr:-$n}}"
done
export SUANLI_NODE_IPS="$ips"
export MASTER_ADDR="$(head -n 1 <<<"$ips")"
export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))
begin=$SECONDS
timeout --kill-after=5 {limit} srun --kill-on-bad-exit=1 --ntasks-per-node=1 --nodes={spec.nodes} bash "$ATT/rank.sh"
rc=$?
if [ "$rc" -eq 124 ] && [ $((SECONDS - begin)) -ge {limit} ]; then : >"$ATT/timed_out"; fi
exit "$rc"
"""


def rank_script(spec: AttemptSpec, attempt_dir: str) -> str:
    """One node's part: its accelerator ids (Slurm's GRES indices), the stack's variable, setup, then run."""
    visible = VISIBLE_DEVICES_ENV[spec.stack]
    set_visible = "\n".join(f'[ -n "${{{name}+x}}" ] || export {name}="$ids"' for name in visible)
    prefix = spec.nodes > 1
    return f"""#!/bin/bash
ATT={shlex.quote(attempt_dir)}
R="$SLURM_NODEID"
export SUANLI_NODE_RANK="$R" SUANLI_NUM_NODES="$SLURM_JOB_NUM_NODES" SUANLI_NODE_NAME="$SLURMD_NODENAME"
ids=""
while read -r nodes idx; do
  if scontrol show hostnames "$nodes" | grep -qx "$SLURMD_NODENAME"; then ids="$idx"; break; fi
done < <(scontrol --details show job "$SLURM_JOB_ID" | sed -n 's/^ *Nodes=\\([^ ]*\\) .*IDX:\\([^)]*\\)).*/\\1 \\2/p')
expanded=()
IFS=, read -ra parts <<<"$ids"
for p in "${{parts[@]}}"; do
  if [[ "$p" == *-* ]]; then expanded+=($(seq "${{p%-*}}" "${{p#*-}}")); else expanded+=("$p"); fi
done
ids="$(IFS=,; echo "${{expanded[*]}}")"
export SUANLI_ACCELERATOR_IDS="$ids"
{set_visible}
echo "{{\\"node\\": \\"$SLURMD_NODENAME\\", \\"ids\\": [$ids]}}" >"$ATT/rank-$R.json"
phase() {{
  if {"true" if prefix else "false"}; then
    bash "$ATT/$1.sh" 2>&1 | awk -v p="[node $R] " '{{ print p $0; fflush() }}'
    return "${{PIPESTATUS[0]}}"
  fi
  bash "$ATT/$1.sh" 2>&1
}}
if [ -f "$ATT/setup.sh" ]; then
  phase setup; rc=$?
  if [ "$rc" -ne 0 ]; then echo "$rc" >"$ATT/setup-failed-$R"; exit "$rc"; fi
fi
phase run; rc=$?
if [ "$rc" -ne 0 ]; then echo "$rc" >"$ATT/exit-$R"; fi
exit "$rc"
"""
