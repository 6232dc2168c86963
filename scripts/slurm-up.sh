#!/usr/bin/env bash
# Start a real single-host Slurm cluster for suanli's tests and benchmarks; idempotent.
#
#   scripts/slurm-up.sh            # install Slurm if missing (root + apt-get), start it, wait until nodes are idle
#   eval "$(scripts/slurm-up.sh --env)"   # export SLURM_CONF for sbatch/squeue/... in this shell
#   scripts/slurm-down.sh          # stop only what this script started (by pid file)
#
# Everything lives under $SUANLI_SLURM_DIR (default /tmp/suanli-slurm): slurmrestd (JWT auth, as user slurmrest) on
# port 16820, its munged (the standard socket; one already running is used and left alone),
# slurmdbd on the local MariaDB (database suanli_slurm_acct; sacct has accounting), one slurmctld and one slurmd
# per node (Slurm's multiple-slurmd mode), on private ports. Nodes, all on this host:
#   n1, n2   partition gpu   4 x gres gpu:a100 each (device files are empty files: no real GPU is touched)
#   n3       partition npu   8 x gres npu:910b
#   n4, n5   partition cpu   CPUs only
# The machine may have 2 cores; each node declares 8 CPUs and 16 GiB (config_overrides) so jobs can be packed.
set -euo pipefail

DIR="${SUANLI_SLURM_DIR:-/tmp/suanli-slurm}"
CONF="$DIR/etc/slurm.conf"
HOST="$(hostname -s)"
CTLD_PORT="${SUANLI_SLURM_PORT:-16817}"
DBD_PORT=$((CTLD_PORT + 2))
REST_PORT=$((CTLD_PORT + 3))
NODE_PORT0=$((CTLD_PORT + 200))
DB_NAME="suanli_slurm_acct"
DB_USER="suanli_slurm"
DB_PASS="suanli-slurm-test"
NODES=(n1 n2 n3 n4 n5)

if [ "${1:-}" = "--env" ]; then
  echo "export SLURM_CONF=$CONF SUANLI_SLURMRESTD=http://127.0.0.1:$REST_PORT"
  exit 0
fi

log() { echo "slurm-up: $*" >&2; }
die() { echo "slurm-up: error: $*" >&2; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing slurm-wlm, slurmdbd, slurmrestd, munge from Debian's packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmdbd slurmrestd munge >/dev/null
  else
    die "Slurm is not installed and this is not a root shell with apt-get (install slurm-wlm slurmdbd munge)"
  fi
fi
command -v mysql >/dev/null || die "the mysql client is missing (MariaDB is needed for slurmdbd accounting)"

mkdir -p "$DIR"/{etc,run,log,state,spool,dev}

# ---------------------------------------------------------------------------------------------- config
for i in 0 1 2 3; do : >"$DIR/dev/gpu$i"; done
# the key that signs JWTs for slurmrestd's clients (`scontrol token`)
[ -f "$DIR/etc/jwt_hs256.key" ] || { mkdir -p "$DIR/etc"; dd if=/dev/urandom of="$DIR/etc/jwt_hs256.key" bs=32 count=1 status=none; chmod 600 "$DIR/etc/jwt_hs256.key"; }
for i in 0 1 2 3 4 5 6 7; do : >"$DIR/dev/npu$i"; done

cat >"$DIR/etc/slurm.conf" <<EOF
# written by scripts/slurm-up.sh
ClusterName=suanli
SlurmctldHost=$HOST
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$DIR/etc/jwt_hs256.key
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$HOST
AccountingStoragePort=$DBD_PORT
AccountingStorageTRES=gres/gpu,gres/npu
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# multifactor priority with the weights of suanli's slurm policy (bench/slurm_fidelity.py compares them)
PriorityType=priority/multifactor
PriorityWeightQOS=100000
PriorityWeightFairshare=10000
PriorityWeightAge=1000
PriorityWeightJobSize=1000
PriorityMaxAge=7-0
PriorityFavorSmall=NO
PriorityCalcPeriod=1
SchedulerParameters=bf_interval=1,sched_interval=5,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
MessageTimeout=20
GresTypes=gpu,npu
NodeName=n[1-2] NodeHostname=$HOST Port=$NODE_PORT0-$((NODE_PORT0 + 1)) CPUs=8 RealMemory=16000 Gres=gpu:a100:4 State=UNKNOWN
NodeName=n3 NodeHostname=$HOST Port=$((NODE_PORT0 + 2)) CPUs=8 RealMemory=16000 Gres=npu:910b:8 State=UNKNOWN
NodeName=n[4-5] NodeHostname=$HOST Port=$((NODE_PORT0 + 3))-$((NODE_PORT0 + 4)) CPUs=8 RealMemory=16000 State=UNKNOWN
PartitionName=gpu Nodes=n[1-2] Default=YES MaxTime=INFINITE State=UP
PartitionName=npu Nodes=n3 MaxTime=INFINITE State=UP
PartitionName=cpu Nodes=n[4-5] MaxTime=INFINITE State=UP
EOF
# Port ranges must be written as [a-b] in Slurm; fix the two range lines above.
sed -i -E "s/Port=([0-9]+)-([0-9]+)/Port=[\1-\2]/" "$DIR/etc/slurm.conf"

cat >"$DIR/etc/gres.conf" <<EOF
NodeName=n[1-2] Name=gpu Type=a100 File=$DIR/dev/gpu[0-3]
NodeName=n3 Name=npu Type=910b File=$DIR/dev/npu[0-7]
EOF

cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$DIR/etc/jwt_hs256.key
DbdHost=$HOST
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
chmod 600 "$DIR/etc/slurmdbd.conf"
export SLURM_CONF="$CONF"

# ---------------------------------------------------------------------------------------------- daemons
# munge on its standard socket: an existing munged is used as it is (and never stopped); else one is started here.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; chmod 400 /etc/munge/munge.key; }
  munged --force --num-threads=10 --pid-file="$DIR/run/munged.pid" 2>>"$DIR/log/munged.stderr"
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || die "munge does not work (see $DIR/log/munged.stderr)"

if ! alive "$DIR/run/slurmdbd.pid"; then
  mysql -uroot -h127.0.0.1 -e "CREATE DATABASE IF NOT EXISTS $DB_NAME;
    CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
    CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost'; GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';" \
    || die "cannot reach MariaDB at 127.0.0.1:3306 as root (slurmdbd keeps accounting there)"
  log "starting slurmdbd on port $DBD_PORT"
  slurmdbd 2>>"$DIR/log/slurmdbd.stderr" || die "slurmdbd did not start: $(tail -5 "$DIR/log/slurmdbd.log")"
  for _ in $(seq 1 50); do timeout 5 sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
fi
if ! sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx suanli; then
  sacctmgr -i add cluster suanli >/dev/null || die "sacctmgr could not add the cluster"
fi

if ! alive "$DIR/run/slurmctld.pid"; then
  log "starting slurmctld on port $CTLD_PORT"
  slurmctld -f "$CONF" 2>>"$DIR/log/slurmctld.stderr" || die "slurmctld did not start: $(tail -5 "$DIR/log/slurmctld.log")"
fi
for node in "${NODES[@]}"; do
  if ! alive "$DIR/run/slurmd.$node.pid"; then
    mkdir -p "$DIR/spool/$node"
    slurmd -f "$CONF" -N "$node" 2>>"$DIR/log/slurmd.stderr" || die "slurmd $node did not start: $(tail -5 "$DIR/log/slurmd.$node.log")"
  fi
done

# slurmrestd (JWT): it must not run as root; it passes each client's token through (SLURM_JWT=daemon)
if ! alive "$DIR/run/slurmrestd.pid"; then
  id slurmrest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin slurmrest
  log "starting slurmrestd on 127.0.0.1:$REST_PORT"
  setpriv --reuid=slurmrest --regid="$(id -g slurmrest)" --init-groups -- \
    env SLURM_JWT=daemon SLURM_CONF="$CONF" slurmrestd -a rest_auth/jwt -s openapi/v0.0.38,openapi/dbv0.0.38 \
    "127.0.0.1:$REST_PORT" >>"$DIR/log/slurmrestd.log" 2>&1 &
  echo $! >"$DIR/run/slurmrestd.pid"
fi

# ---------------------------------------------------------------------------------------------- ready?
for _ in $(seq 1 150); do
  states="$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)"
  if [ -n "$states" ] && ! grep -qvE ' (idle|mix|alloc)$' <<<"$states"; then
    log "ready: $(sinfo -h -o '%P %D %G' | tr '\n' ';') (SLURM_CONF=$CONF; slurmrestd http://127.0.0.1:$REST_PORT)"
    exit 0
  fi
  sleep 0.2
done
die "nodes did not become idle: $(sinfo -N 2>&1 | tr '\n' ' '); see $DIR/log"
