#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (2 CPU slots), for .ci/slurm.sh: `source` it, then `start_slurm STATE_DIR`.
# Sets SLURM_CONF for the commands that follow; `stop_slurm` ends the daemons it started (by their pid files).
# start_slurm returns non-zero with a one-line reason in SLURM_SKIP_REASON when Slurm cannot start here.

start_slurm() {
  local state="$1"
  SLURM_SKIP_REASON=""
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then SLURM_SKIP_REASON="not root and no sudo: cannot install or start Slurm"; return 1; fi
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if ! command -v apt-get >/dev/null; then SLURM_SKIP_REASON="no apt-get: cannot install Debian's slurm-wlm and munge"; return 1; fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >"$state.apt.log" 2>&1; then
      SLURM_SKIP_REASON="apt-get install slurm-wlm munge failed ($(tail -1 "$state.apt.log"))"; return 1
    fi
  fi
  mkdir -p "$state/ctld" "$state/d" /run/munge
  chown munge:munge /run/munge 2>/dev/null || true
  [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  if ! munge -n >/dev/null 2>&1; then
    # munged runs as the munge user, which can write its pid file only into its own /run/munge
    if ! su -s /bin/sh munge -c "munged --pid-file=/run/munge/cover-ci.pid" 2>"$state/munged.err" && ! munged --force --pid-file=/run/munge/cover-ci.pid 2>>"$state/munged.err"; then
      SLURM_SKIP_REASON="munged did not start ($(tail -1 "$state/munged.err"))"; return 1
    fi
  fi
  if (exec 3<>/dev/tcp/127.0.0.1/16817) 2>/dev/null; then SLURM_SKIP_REASON="port 16817 is in use (another slurmctld of this stage still running?)"; return 1; fi
  local host; host="$(hostname -s)"
  local cpus=2
  cat >"$state/slurm.conf" <<CONF
ClusterName=coverci
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=30
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$state/slurm.conf"
  slurmctld -i 2>"$state/slurmctld.err" || { SLURM_SKIP_REASON="slurmctld did not start ($(tail -1 "$state/slurmctld.err"))"; return 1; }
  slurmd 2>"$state/slurmd.err" || { SLURM_SKIP_REASON="slurmd did not start ($(tail -1 "$state/slurmd.err"))"; stop_slurm "$state"; return 1; }
  local i
  for i in $(seq 1 30); do
    if sinfo -h -o "%T" 2>/dev/null | grep -qx "idle"; then return 0; fi
    sleep 1
  done
  SLURM_SKIP_REASON="the node did not become idle in 30 s (sinfo: $(sinfo -h -o '%T %E' 2>&1 | tr '\n' ' '); slurmd log: $(tail -1 "$state/slurmd.log" 2>/dev/null))"
  stop_slurm "$state"
  return 1
}

stop_slurm() {
  local state="$1" f
  local pids=""
  for f in "$state/slurmd.pid" "$state/slurmctld.pid"; do
    if [ -f "$f" ]; then pids="$pids $(cat "$f")"; kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  # slurmctld saves its state as it stops: wait (up to 10 s) so that the folder is not removed under it
  for _ in $(seq 1 50); do
    local alive=0 p
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  if [ -f /run/munge/cover-ci.pid ]; then kill "$(cat /run/munge/cover-ci.pid)" 2>/dev/null || true; rm -f /run/munge/cover-ci.pid; fi
}
