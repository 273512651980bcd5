# shellcheck shell=bash
# engine.sh: a PRIVATE Docker engine (Debian's docker.io) for dockvar's tests.
#
#   source scripts/lib/engine.sh
#   trap 'engine_stop' EXIT
#   engine_start            # exports DOCKER_HOST, DOCKVAR_TEST_DOCKER_HOST, ...
#
# It never talks to a daemon it did not start: its own containerd and dockerd,
# with their own sockets, data-root and exec-root under target/dockerd/ (the
# sockets and exec-root go under a short /tmp/dv.XXXX when the project path is
# too long for a unix socket), stopped by the pids it recorded. See README.md.
#
# Safe to source under `set -euo pipefail`; both functions are idempotent.
# Settings (environment, all optional):
#   DOCKVAR_TARGET_DIR               default <repo>/target
#   DOCKVAR_DOCKER_STORAGE_DRIVER    driver(s) to try, in order; default
#                                    "overlay2 fuse-overlayfs vfs"
#   DOCKVAR_ENGINE_TIMEOUT           seconds to wait for `docker info`; default 60
#   DOCKVAR_ENGINE_FRESH=1           wipe target/dockerd/data before starting

_dve_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dve_root="$(cd "$_dve_lib_dir/../.." && pwd -P)"

_dve_log() { printf 'engine: %s\n' "$*" >&2; }

# Install Debian packages as root, without letting their maintainer scripts
# start any system service.
_dve_apt_install() {
  local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
    _dve_log "need root to apt-get install $*"
    return 1
  fi
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  _dve_log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || rc=1
  fi
  if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; fi
  return "$rc"
}

_dve_install() {
  if command -v dockerd >/dev/null 2>&1 && [[ -x /usr/bin/docker ]] \
    && command -v containerd >/dev/null 2>&1 && command -v runc >/dev/null 2>&1; then
    return 0
  fi
  _dve_apt_install docker.io
}

# Sets the _DVE_* path globals.
_dve_paths() {
  local target=${DOCKVAR_TARGET_DIR:-$_dve_root/target} rd=''
  _DVE_STATE=$target/dockerd
  _DVE_DATA=$_DVE_STATE/data
  if [[ -f $_DVE_STATE/rundir ]]; then rd=$(cat "$_DVE_STATE/rundir" 2>/dev/null || true); fi
  if [[ -n $rd && -d $rd ]]; then
    _DVE_RUN=$rd
  elif (( ${#_DVE_STATE} <= 64 )); then
    # Longest socket: $RUN/exec/libnetwork/<12 hex>.sock = RUN + 34 bytes < 108.
    _DVE_RUN=$_DVE_STATE
  else
    _DVE_RUN=''   # decided (mktemp) by engine_start
  fi
  _DVE_CONFIG=$_DVE_STATE/docker-config
}

_dve_sock() { printf '%s/docker.sock' "$_DVE_RUN"; }

# _dve_alive PID [NEEDLE]: PID runs (not a zombie) and its command line
# contains NEEDLE. The needle (our own config/socket path) makes sure a reused
# pid of someone else's process is never taken for ours.
_dve_alive() {
  local pid=${1:-} needle=${2:-} st cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
  st=${st%% *}
  [[ -n $st && $st != Z && $st != X ]] || return 1
  if [[ -n $needle ]]; then
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$needle"* ]] || return 1
  fi
  return 0
}

# Last 50 lines of this attempt's part of a log (from the last HEADER line).
_dve_log_tail() {
  awk -v h="$2" 'index($0, h) == 1 { n = 0 } { buf[n++] = $0 } END { for (i = (n > 50 ? n - 50 : 0); i < n; i++) print buf[i] }' "$1" >&2 || true
}

# Is any (non-zombie) process of this exact name running?
_dve_any_alive() {
  local p
  for p in $(pgrep -x "$1" 2>/dev/null || true); do
    if _dve_alive "$p"; then return 0; fi
  done
  return 1
}

_dve_pid() { cat "$1" 2>/dev/null || true; }

# _dve_kill PIDFILE NEEDLE NAME TIMEOUT_S
_dve_kill() {
  local pidf=$1 needle=$2 name=$3 t=${4:-20} pid i
  pid=$(_dve_pid "$pidf")
  if _dve_alive "$pid" "$needle"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do
      _dve_alive "$pid" "$needle" || break
      sleep 0.1
    done
    if _dve_alive "$pid" "$needle"; then
      _dve_log "$name (pid $pid) still running after ${t}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        _dve_alive "$pid" "$needle" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidf"
}

# Start "$@" in its own session, detached from the caller; its pid goes to $1.
_dve_spawn() {
  local pidf=$1 log=$2
  shift 2
  rm -f "$pidf"
  # shellcheck disable=SC2016 # $$ and $@ are for the inner bash
  setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" "$@" \
    </dev/null >>"$log" 2>&1
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidf ]] && return 0
    sleep 0.05
  done
  return 1
}

_dve_running() {
  [[ -n $_DVE_RUN ]] || return 1
  _dve_alive "$(_dve_pid "$_DVE_STATE/dockerd.pid")" "$_DVE_DATA" || return 1
  timeout 10 /usr/bin/env DOCKER_HOST="unix://$(_dve_sock)" DOCKER_CONFIG="$_DVE_CONFIG" \
    /usr/bin/docker info >/dev/null 2>&1
}

# Mount points under DIR (from /proc/self/mountinfo), deepest first.
_dve_mounts_under() {
  local dir=$1
  [[ -n $dir ]] || return 0
  awk -v d="$dir" '
    function unesc(s) { gsub(/\\040/, " ", s); gsub(/\\011/, "\t", s); gsub(/\\012/, "\n", s); gsub(/\\134/, "\\", s); return s }
    { mp = unesc($5); if (mp == d || index(mp, d "/") == 1) print length(mp) "\t" mp }
  ' /proc/self/mountinfo | sort -rn | cut -f2-
}

_dve_unmount_all() {
  local dir mp n=0
  for dir in "$@"; do
    [[ -n $dir ]] || continue
    while IFS= read -r mp; do
      [[ -n $mp ]] || continue
      umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || _dve_log "could not unmount $mp"
      n=$((n + 1))
    done < <(_dve_mounts_under "$dir")
  done
  if ((n > 0)); then _dve_log "unmounted $n leftover mount(s)"; fi
  return 0
}

# Last-resort cleanup of processes of OUR engine that outlived dockerd:
# containerd shims bound to our containerd socket, and the processes of our
# containers (found through the cgroups named after our container ids).
_dve_kill_leftovers() {
  local csock=$_DVE_RUN/containerd.sock pid cmd id cg p
  [[ -n $_DVE_RUN ]] || return 0
  for pid in $(pgrep -f 'containerd-shim' 2>/dev/null || true); do
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $cmd == *"-address $csock "* || $cmd == *"-address $csock" ]]; then
      _dve_log "killing leftover shim $pid"
      kill -KILL "$pid" 2>/dev/null || true
      # Its socket, which a killed shim leaves behind: containerd 1.6 names
      # it /run/containerd/s/sha256(<containerd address>/<namespace>/<id>).
      local ns='' cid='' prev='' w sock
      for w in $cmd; do
        case $prev in -namespace) ns=$w ;; -id) cid=$w ;; esac
        prev=$w
      done
      if [[ -n $ns && -n $cid ]]; then
        sock=/run/containerd/s/$(printf '%s' "$csock/$ns/$cid" | sha256sum | cut -d' ' -f1)
        if [[ -S $sock ]]; then rm -f "$sock"; fi
      fi
    fi
  done
  if [[ -d $_DVE_DATA/containers ]]; then
    for id in $(ls "$_DVE_DATA/containers" 2>/dev/null || true); do
      [[ $id =~ ^[0-9a-f]{64}$ ]] || continue
      for cg in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id"; do
        [[ -f $cg/cgroup.procs ]] || continue
        while read -r p; do
          if [[ -n $p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
        done <"$cg/cgroup.procs"
        rmdir "$cg" 2>/dev/null || true
      done
    done
  fi
  return 0
}

_dve_write_configs() {
  mkdir -p "$_DVE_STATE" "$_DVE_DATA" "$_DVE_RUN/exec" "$_DVE_CONFIG"
  # Our own daemon.json keeps /etc/docker/daemon.json out of the picture; the
  # key path (a daemon.json-only setting in 20.10) keeps /etc/docker/key.json.
  printf '{\n  "deprecated-key-path": "%s"\n}\n' "$_DVE_STATE/key.json" >"$_DVE_STATE/daemon.json"
  [[ -f $_DVE_CONFIG/config.json ]] || printf '{}\n' >"$_DVE_CONFIG/config.json"
  cat >"$_DVE_STATE/containerd.toml" <<EOF
version = 2
root = "$_DVE_DATA/containerd"
state = "$_DVE_RUN/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$_DVE_RUN/containerd.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$_DVE_DATA/containerd/opt"
EOF
}

_dve_start_containerd() {
  local log=$_DVE_STATE/containerd.log i
  printf '\n=== containerd start %s ===\n' "$(date -u +%FT%TZ)" >>"$log"
  rm -f "$_DVE_RUN/containerd.sock" "$_DVE_RUN/containerd.sock.ttrpc"
  _dve_spawn "$_DVE_STATE/containerd.pid" "$log" \
    containerd --config "$_DVE_STATE/containerd.toml" || return 1
  for ((i = 0; i < 200; i++)); do
    [[ -S $_DVE_RUN/containerd.sock ]] && return 0
    _dve_alive "$(_dve_pid "$_DVE_STATE/containerd.pid")" || break
    sleep 0.1
  done
  _dve_log "containerd did not start; last 50 lines of $log:"
  _dve_log_tail "$log" '=== containerd start'
  return 1
}

# _dve_try_driver DRIVER: start dockerd with DRIVER and wait for `docker info`.
_dve_try_driver() {
  local drv=$1 log=$_DVE_STATE/dockerd.log timeout=${DOCKVAR_ENGINE_TIMEOUT:-60} i got
  if [[ $drv == fuse-overlayfs ]] && ! command -v fuse-overlayfs >/dev/null 2>&1; then
    _dve_apt_install fuse-overlayfs || return 1
  fi
  printf '\n=== dockerd start %s, storage driver %s ===\n' "$(date -u +%FT%TZ)" "$drv" >>"$log"
  rm -f "$(_dve_sock)"
  _dve_spawn "$_DVE_STATE/dockerd.pid" "$log" \
    dockerd \
    --host "unix://$(_dve_sock)" \
    --data-root "$_DVE_DATA" \
    --exec-root "$_DVE_RUN/exec" \
    --pidfile "$_DVE_RUN/exec/dockerd.pid" \
    --containerd "$_DVE_RUN/containerd.sock" \
    --config-file "$_DVE_STATE/daemon.json" \
    --storage-driver "$drv" \
    --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --userland-proxy=false \
    --shutdown-timeout 5 || return 1
  for ((i = 0; i < timeout * 5; i++)); do
    if _dve_alive "$(_dve_pid "$_DVE_STATE/dockerd.pid")"; then
      if [[ -S $(_dve_sock) ]]; then
        got=$(timeout 10 /usr/bin/env DOCKER_HOST="unix://$(_dve_sock)" DOCKER_CONFIG="$_DVE_CONFIG" \
          /usr/bin/docker info --format '{{.Driver}}' 2>/dev/null || true)
        if [[ -n $got ]]; then
          if [[ $got == "$drv" ]]; then return 0; fi
          _dve_log "asked for storage driver $drv, got $got"
          return 1
        fi
      fi
    else
      break
    fi
    sleep 0.2
  done
  _dve_log "dockerd with storage driver $drv did not answer; last 50 lines of $log:"
  _dve_log_tail "$log" '=== dockerd start'
  return 1
}

_dve_export() {
  DOCKVAR_TEST_DOCKER_HOST="unix://$(_dve_sock)"
  export DOCKVAR_TEST_DOCKER_HOST
  export DOCKER_HOST=$DOCKVAR_TEST_DOCKER_HOST
  export DOCKER_CONFIG=$_DVE_CONFIG
  export DOCKER_BUILDKIT=0
  export DOCKVAR_TEST_DOCKER_CLI=/usr/bin/docker
  export DOCKVAR_TEST_DOCKER_DATA_ROOT=$_DVE_DATA
  DOCKVAR_TEST_DOCKER_STORAGE_DRIVER=$(cat "$_DVE_STATE/driver" 2>/dev/null || true)
  export DOCKVAR_TEST_DOCKER_STORAGE_DRIVER
}

engine_start() {
  local t0 t1 drv drivers d
  _dve_paths
  if _dve_running; then
    _dve_export
    _dve_log "already running (pid $(_dve_pid "$_DVE_STATE/dockerd.pid")), storage driver $DOCKVAR_TEST_DOCKER_STORAGE_DRIVER, DOCKER_HOST=$DOCKER_HOST"
    return 0
  fi
  t0=$(date +%s.%N)
  _dve_install || { _dve_log "cannot install docker.io"; return 1; }
  # Whatever a previous run of ours left behind (it may have been killed).
  engine_stop >/dev/null 2>&1 || true
  _dve_paths
  if [[ -z $_DVE_RUN ]]; then
    _DVE_RUN=$(mktemp -d /tmp/dv.XXXX) || return 1
    mkdir -p "$_DVE_STATE"
    printf '%s\n' "$_DVE_RUN" >"$_DVE_STATE/rundir"
    _dve_log "project path is long: sockets and exec-root in $_DVE_RUN"
  fi
  if [[ ${DOCKVAR_ENGINE_FRESH:-0} == 1 && -d $_DVE_DATA ]]; then
    _dve_unmount_all "$_DVE_DATA"
    rm -rf "$_DVE_DATA"
  fi
  # Remember which shared runtime dirs existed, so engine_stop removes only
  # the (empty) ones our daemons created.
  mkdir -p "$_DVE_STATE"
  local -a maybe=(/run/containerd/s /run/containerd /run/docker/plugins /run/docker /run/runc /run/mount)
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    # cgroup parents that dockerd makes (cgroupfs driver, v1 or v2)
    if [[ -d $d ]]; then maybe+=("${d%/}/docker/buildkit" "${d%/}/docker"); fi
  done
  for d in "${maybe[@]}"; do
    [[ -e $d ]] || printf '%s\n' "$d" >>"$_DVE_STATE/created-dirs"
  done
  _dve_write_configs
  : >"$_DVE_STATE/dockerd.log"
  : >"$_DVE_STATE/containerd.log"
  _dve_start_containerd || { engine_stop; return 1; }
  drivers=${DOCKVAR_DOCKER_STORAGE_DRIVER:-overlay2 fuse-overlayfs vfs}
  for drv in $drivers; do
    if _dve_try_driver "$drv"; then
      printf '%s\n' "$drv" >"$_DVE_STATE/driver"
      _dve_export
      t1=$(date +%s.%N)
      _dve_log "dockerd $(dockerd --version 2>/dev/null | sed 's/^Docker version //') up in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s (pid $(_dve_pid "$_DVE_STATE/dockerd.pid")), storage driver $drv, DOCKER_HOST=$DOCKER_HOST"
      return 0
    fi
    _dve_kill "$_DVE_STATE/dockerd.pid" "$_DVE_DATA" dockerd 20
    _dve_kill_leftovers
    _dve_unmount_all "$_DVE_DATA" "$_DVE_RUN/exec"
  done
  _dve_log "could not start dockerd with any of: $drivers"
  engine_stop
  return 1
}

engine_stop() {
  local pid ids d
  _dve_paths
  [[ -d $_DVE_STATE ]] || return 0
  pid=$(_dve_pid "$_DVE_STATE/dockerd.pid")
  if [[ -n $_DVE_RUN ]] && _dve_alive "$pid" "$_DVE_DATA"; then
    # Kill running containers first, so that dockerd's shutdown is quick.
    ids=$(timeout 10 /usr/bin/env DOCKER_HOST="unix://$(_dve_sock)" DOCKER_CONFIG="$_DVE_CONFIG" \
      /usr/bin/docker ps -q 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      timeout 20 /usr/bin/env DOCKER_HOST="unix://$(_dve_sock)" DOCKER_CONFIG="$_DVE_CONFIG" \
        /usr/bin/docker kill $ids >/dev/null 2>&1 || true
    fi
  fi
  _dve_kill "$_DVE_STATE/dockerd.pid" "$_DVE_DATA" dockerd 30
  _dve_kill_leftovers
  _dve_kill "$_DVE_STATE/containerd.pid" "$_DVE_STATE/containerd.toml" containerd 15
  _dve_unmount_all "$_DVE_DATA" "$_DVE_RUN"
  if [[ -n $_DVE_RUN ]]; then
    rm -f "$_DVE_RUN/docker.sock" "$_DVE_RUN/containerd.sock" "$_DVE_RUN/containerd.sock.ttrpc"
    if [[ $_DVE_RUN != "$_DVE_STATE" ]]; then
      # The short socket dir under /tmp: ours, made by mktemp.
      if [[ -z $(_dve_mounts_under "$_DVE_RUN") ]]; then rm -rf "$_DVE_RUN"; fi
      rm -f "$_DVE_STATE/rundir"
    else
      if [[ -z $(_dve_mounts_under "$_DVE_RUN/exec") ]]; then
        rm -rf "$_DVE_RUN/exec" "$_DVE_RUN/containerd-state"
      fi
    fi
  fi
  # Empty runtime dirs that our daemons created (never if another runs).
  if [[ -f $_DVE_STATE/created-dirs ]]; then
    if ! _dve_any_alive containerd && ! _dve_any_alive dockerd; then
      while IFS= read -r d; do
        if [[ -n $d ]]; then rmdir "$d" 2>/dev/null || true; fi
      done <"$_DVE_STATE/created-dirs"
    fi
    rm -f "$_DVE_STATE/created-dirs"
  fi
  if [[ ${DOCKER_HOST:-} == "unix://$(_dve_sock)" ]]; then unset DOCKER_HOST; fi
  if [[ ${DOCKER_CONFIG:-} == "$_DVE_CONFIG" ]]; then unset DOCKER_CONFIG; fi
  unset DOCKVAR_TEST_DOCKER_HOST DOCKVAR_TEST_DOCKER_CLI DOCKVAR_TEST_DOCKER_DATA_ROOT \
    DOCKVAR_TEST_DOCKER_STORAGE_DRIVER
  return 0
}
