#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the sweep integration test (and to try `npm run sweep`).
#
#   bash scripts/slurm-local.sh start    install Debian's munge/slurmctld/slurmd/slurm-client when missing,
#                                         write the config, start munged, slurmctld and slurmd; wait for the node
#   bash scripts/slurm-local.sh stop     stop the daemons this script started
#   bash scripts/slurm-local.sh status   exit 0 when the local cluster answers
#
# Needs root (apt, /etc/slurm, daemons). Exit status 3 with a one-line reason on stdout when the machine cannot
# host it (not root, no apt-get, or a Slurm configuration this script did not write: a real cluster is left alone).
# Idempotent: `start` on a running local cluster only checks it.
set -uo pipefail

MARK='# written by scripts/slurm-local.sh (one-node local cluster)'
CONF=/etc/slurm/slurm.conf
RUN=/run/slurm-local
HOST=$(hostname -s)
cmd=${1:-start}

cannot() { echo "slurm-local: $*"; exit 3; }
ours() { [ -f "$CONF" ] && grep -qF "$MARK" "$CONF"; }
answers() { timeout 10 sinfo -h -n "$HOST" -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

case "$cmd" in
  status)
    ours && answers && { echo "slurm-local: node $HOST up"; exit 0; }
    echo "slurm-local: not running"; exit 1 ;;
  stop)
    [ "$(id -u)" = 0 ] || cannot "stop needs root"
    for p in slurmd slurmctld munged; do
      if alive "$RUN/$p.pid"; then kill "$(cat "$RUN/$p.pid")"; echo "slurm-local: stopped $p"; fi
      rm -f "$RUN/$p.pid"
    done
    exit 0 ;;
  start) ;;
  *) echo "usage: bash scripts/slurm-local.sh start|stop|status" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || cannot "not root: cannot install or start Slurm here"
if [ -f "$CONF" ] && ! ours; then cannot "$CONF exists and was not written by this script; not touching a real cluster's configuration"; fi
if ours && answers; then echo "slurm-local: node $HOST already up"; exit 0; fi

need=()
for b in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
  command -v "${b%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${b%%:*}" ] || need+=("${b#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || cannot "no apt-get to install ${need[*]}"
  echo "slurm-local: installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    cannot "apt-get install ${need[*]} failed"
fi
export PATH="/usr/sbin:/sbin:$PATH"

# munge: a key owned by munge, mode 400
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$RUN"
cat >"$CONF" <<EOF
$MARK
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# short waits: a cancelled task gets SIGTERM, then SIGKILL after KillWait seconds
KillWait=5
MinJobAge=600
# a requeued task may start again after cred_expire seconds (default 120)
AuthInfo=cred_expire=5
# schedule every 2 s (a requeued task waits for the next pass)
SchedulerParameters=sched_interval=2,bf_interval=2
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
alive "$RUN/munged.pid" || munge_works || {
  # munged --force: start even when it dislikes the permissions of a container's file system
  runuser -u munge -- munged --force --pid-file=/run/munge/munged.pid 2>/dev/null || munged --force || cannot "munged did not start"
  sleep 0.5
  cp /run/munge/munged.pid "$RUN/munged.pid" 2>/dev/null || pgrep -x munged | head -1 >"$RUN/munged.pid"
}
alive "$RUN/slurmctld.pid" || slurmctld || cannot "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
alive "$RUN/slurmd.pid" || slurmd || cannot "slurmd did not start (see /var/log/slurm/slurmd.log)"

for _ in $(seq 1 60); do
  if answers; then echo "slurm-local: node $HOST up (partition local, 2 CPUs)"; exit 0; fi
  # a node that was down from an earlier run comes back
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 0.5
done
cannot "node $HOST did not come up within 30 s: $(sinfo -h -o '%T %E' 2>&1 | head -1)"
