#!/usr/bin/env bash
# Stop the Slurm cluster that scripts/slurm-up.sh started: only its own daemons, found by their pid files.
#   scripts/slurm-down.sh           # stop the daemons, keep state and logs
#   scripts/slurm-down.sh --purge   # also delete $SUANLI_SLURM_DIR and the accounting database
set -euo pipefail

DIR="${SUANLI_SLURM_DIR:-/tmp/suanli-slurm}"

stop() {
  local pidfile="$1" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop "$DIR/run/slurmrestd.pid"
for pidfile in "$DIR"/run/slurmd.*.pid; do stop "$pidfile"; done
stop "$DIR/run/slurmctld.pid"
stop "$DIR/run/slurmdbd.pid"
stop "$DIR/run/munged.pid"

if [ "${1:-}" = "--purge" ]; then
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS suanli_slurm_acct" 2>/dev/null || true
  rm -rf "$DIR"
fi
echo "slurm-down: stopped" >&2
