# shellcheck shell=bash
# registry.sh: PRIVATE OCI/Docker registries (Debian's docker-registry, the
# CNCF distribution registry 2.x) on 127.0.0.1 for dockvar's tests.
#
#   source scripts/lib/registry.sh
#   trap 'registry_stop' EXIT
#   registry_start   # exports DOCKVAR_TEST_REGISTRY (+ _AUTH, _USER, _PASSWORD)
#
# Two instances, each on a free loopback port, with config, storage and logs
# under target/registry/:
#   plain: no auth                      -> DOCKVAR_TEST_REGISTRY=127.0.0.1:PORT
#   auth:  htpasswd (bcrypt) basic auth -> DOCKVAR_TEST_REGISTRY_AUTH=127.0.0.1:PORT2
#          with DOCKVAR_TEST_REGISTRY_USER / DOCKVAR_TEST_REGISTRY_PASSWORD
# Docker treats 127.0.0.0/8 registries as insecure (plain HTTP) by default,
# so `docker push 127.0.0.1:PORT/x:1` needs no daemon setting.
#
# Safe to source under `set -euo pipefail`; both functions are idempotent.
# Settings (environment, all optional):
#   DOCKVAR_TARGET_DIR              default <repo>/target
#   DOCKVAR_REGISTRY_AUTH=0         do not start the auth instance
#   DOCKVAR_REGISTRY_KEEP=1         keep stored images from an earlier run
#                                   (default: storage is wiped at each start)
#   DOCKVAR_REGISTRY_TIMEOUT        seconds to wait for GET /v2/; default 30
#   DOCKVAR_TEST_REGISTRY_USER      user name for the auth instance; default dockvar

_dvr_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dvr_root="$(cd "$_dvr_lib_dir/../.." && pwd -P)"
_DVR_BIN=/usr/bin/docker-registry

_dvr_log() { printf 'registry: %s\n' "$*" >&2; }

_dvr_paths() {
  _DVR_STATE=${DOCKVAR_TARGET_DIR:-$_dvr_root/target}/registry
}

# Install Debian packages as root, without letting their maintainer scripts
# start any system service (docker-registry ships one).
_dvr_apt_install() {
  local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
    _dvr_log "need root to apt-get install $*"
    return 1
  fi
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  _dvr_log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || rc=1
  fi
  if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; fi
  return "$rc"
}

# _dvr_alive PID NEEDLE: PID runs (not a zombie) and its command line
# contains NEEDLE (our own config path), so a reused pid is never taken for ours.
_dvr_alive() {
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

_dvr_pid() { cat "$1" 2>/dev/null || true; }

# A TCP port on 127.0.0.1 that nobody listens on right now.
_dvr_free_port() {
  local py p i hex used
  for py in python3 /usr/bin/python3; do
    p=$("$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) || continue
    if [[ $p =~ ^[0-9]+$ ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    hex=$(printf '%04X' "$p")
    used=$(awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true)
    if [[ -z $used ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

# HTTP status of GET http://127.0.0.1:PORT/v2/ (empty when nothing answers).
_dvr_probe() {
  local port=$1 line=''
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 --noproxy '*' \
      "http://127.0.0.1:$port/v2/" 2>/dev/null | sed 's/^000$//' || true
    return 0
  fi
  # No curl: bash's /dev/tcp.
  if { exec 9<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&9 || true
    IFS=' ' read -r -t 2 _ line _ <&9 || true
    exec 9<&- 9>&- || true
  fi
  printf '%s' "$line"
}

# A bcrypt htpasswd line for USER PASSWORD (the registry only accepts bcrypt).
_dvr_htpasswd_line() {
  local user=$1 pw=$2 line py
  if command -v htpasswd >/dev/null 2>&1; then
    line=$(htpasswd -nbB "$user" "$pw" 2>/dev/null | head -n 1) || line=''
    if [[ $line == "$user:\$2"* ]]; then printf '%s\n' "$line"; return 0; fi
  fi
  # Python's crypt module uses libxcrypt, which does bcrypt ($2b$).
  for py in /usr/bin/python3 python3; do
    line=$(DVR_PW=$pw "$py" -W ignore -c 'import crypt, os
print(crypt.crypt(os.environ["DVR_PW"], crypt.mksalt(crypt.METHOD_BLOWFISH)))' 2>/dev/null) || continue
    if [[ $line == "\$2"* ]]; then printf '%s:%s\n' "$user" "$line"; return 0; fi
  done
  # Last resort: apache2-utils' htpasswd.
  if _dvr_apt_install apache2-utils >/dev/null; then
    line=$(htpasswd -nbB "$user" "$pw" 2>/dev/null | head -n 1) || line=''
    if [[ $line == "$user:\$2"* ]]; then printf '%s\n' "$line"; return 0; fi
  fi
  return 1
}

# _dvr_write_config NAME PORT [HTPASSWD]
_dvr_write_config() {
  local name=$1 port=$2 htp=${3:-} secret
  secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$_DVR_STATE/data/$name"
  {
    cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $_DVR_STATE/data/$name
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [[ -n $htp ]]; then
      cat <<EOF
auth:
  htpasswd:
    realm: dockvar-test
    path: $htp
EOF
    fi
  } >"$_DVR_STATE/config-$name.yml"
}

# Is instance NAME running and answering? Prints its port.
_dvr_instance_up() {
  local name=$1 port code
  _dvr_alive "$(_dvr_pid "$_DVR_STATE/$name.pid")" "$_DVR_STATE/config-$name.yml" || return 1
  port=$(cat "$_DVR_STATE/$name.port" 2>/dev/null || true)
  [[ $port =~ ^[0-9]+$ ]] || return 1
  code=$(_dvr_probe "$port")
  [[ -n $code ]] || return 1
  printf '%s\n' "$port"
}

# _dvr_start_instance NAME [HTPASSWD]: start it on a free port; prints the port.
_dvr_start_instance() {
  local name=$1 htp=${2:-} log=$_DVR_STATE/$1.log timeout=${DOCKVAR_REGISTRY_TIMEOUT:-30}
  local attempt port pid i code died
  : >"$log"
  for ((attempt = 1; attempt <= 3; attempt++)); do
    port=$(_dvr_free_port) || { _dvr_log "no free port"; return 1; }
    _dvr_write_config "$name" "$port" "$htp"
    printf '=== %s start %s on 127.0.0.1:%s ===\n' "$name" "$(date -u +%FT%TZ)" "$port" >>"$log"
    rm -f "$_DVR_STATE/$name.pid"
    # shellcheck disable=SC2016 # $$ and $@ are for the inner bash
    setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$_DVR_STATE/$name.pid" \
      "$_DVR_BIN" serve "$_DVR_STATE/config-$name.yml" </dev/null >>"$log" 2>&1
    # Wait for it to answer. The pid file is written by the forked shell,
    # which a loaded machine may schedule late: until it appears, only the
    # probe decides; once it is there, a dead process ends the wait. (Checking
    # the command line here made CI fail: it raced with the exec.)
    died=0
    for ((i = 0; i < timeout * 10; i++)); do
      pid=$(_dvr_pid "$_DVR_STATE/$name.pid")
      # The process only: while it execs, its command line can read empty for a moment.
      if [[ -n $pid ]] && ! _dvr_alive "$pid" ""; then
        died=1
        break
      fi
      code=$(_dvr_probe "$port")
      if [[ -n $code ]]; then
        printf '%s\n' "$port" >"$_DVR_STATE/$name.port"
        printf '%s\n' "$port"
        return 0
      fi
      sleep 0.1
    done
    if [[ $died -eq 0 ]]; then
      _dvr_log "$name instance (pid ${pid:-unknown}) did not answer within ${timeout}s (attempt $attempt)"
    else
      _dvr_log "$name instance (pid $pid) exited before answering (attempt $attempt)"
    fi
    _dvr_stop_instance "$name"
    if [[ -z ${pid:-} ]]; then
      # No pid file: kill whatever serves this config, by its command line.
      pkill -f -- "serve $_DVR_STATE/config-$name.yml" 2>/dev/null || true
    fi
    sleep 1
  done
  _dvr_log "$name instance did not answer GET /v2/; last 50 lines of $log:"
  tail -n 50 "$log" >&2 || true
  return 1
}

_dvr_stop_instance() {
  local name=$1 pidf=$_DVR_STATE/$1.pid needle=$_DVR_STATE/config-$1.yml pid i
  pid=$(_dvr_pid "$pidf")
  if _dvr_alive "$pid" "$needle"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      _dvr_alive "$pid" "$needle" || break
      sleep 0.1
    done
    if _dvr_alive "$pid" "$needle"; then
      _dvr_log "$name (pid $pid) still running after 10s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        _dvr_alive "$pid" "$needle" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidf" "$_DVR_STATE/$name.port"
}

_dvr_export_plain() { export DOCKVAR_TEST_REGISTRY="127.0.0.1:$1"; }

_dvr_export_auth() {
  local user='' pw=''
  { read -r user && read -r pw; } <"$_DVR_STATE/auth/credentials" || return 1
  export DOCKVAR_TEST_REGISTRY_AUTH="127.0.0.1:$1"
  export DOCKVAR_TEST_REGISTRY_USER=$user
  export DOCKVAR_TEST_REGISTRY_PASSWORD=$pw
}

registry_start() {
  local t0 t1 port port2='' user pw line want_auth=${DOCKVAR_REGISTRY_AUTH:-1}
  _dvr_paths
  if port=$(_dvr_instance_up plain); then
    if [[ $want_auth != 1 ]] || port2=$(_dvr_instance_up auth); then
      _dvr_export_plain "$port"
      if [[ -n $port2 ]]; then _dvr_export_auth "$port2" || true; fi
      _dvr_log "already running: DOCKVAR_TEST_REGISTRY=$DOCKVAR_TEST_REGISTRY${port2:+, DOCKVAR_TEST_REGISTRY_AUTH=127.0.0.1:$port2}"
      return 0
    fi
  fi
  t0=$(date +%s.%N)
  if [[ ! -x $_DVR_BIN ]]; then
    _dvr_apt_install docker-registry || { _dvr_log "cannot install docker-registry"; return 1; }
  fi
  registry_stop >/dev/null 2>&1 || true
  mkdir -p "$_DVR_STATE"
  if [[ ${DOCKVAR_REGISTRY_KEEP:-0} != 1 ]]; then
    rm -rf "$_DVR_STATE/data"
  fi
  port=$(_dvr_start_instance plain) || { registry_stop; return 1; }
  _dvr_export_plain "$port"
  if [[ $want_auth == 1 ]]; then
    user=${DOCKVAR_TEST_REGISTRY_USER:-dockvar}
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    mkdir -p "$_DVR_STATE/auth"
    chmod 700 "$_DVR_STATE/auth"
    if line=$(_dvr_htpasswd_line "$user" "$pw"); then
      printf '%s\n' "$line" >"$_DVR_STATE/auth/htpasswd"
      printf '%s\n%s\n' "$user" "$pw" >"$_DVR_STATE/auth/credentials"
      chmod 600 "$_DVR_STATE/auth/htpasswd" "$_DVR_STATE/auth/credentials"
      if port2=$(_dvr_start_instance auth "$_DVR_STATE/auth/htpasswd"); then
        _dvr_export_auth "$port2" || true
      else
        _dvr_log "auth instance did not start: DOCKVAR_TEST_REGISTRY_AUTH not set"
        port2=''
      fi
    else
      _dvr_log "no way to make a bcrypt htpasswd line: auth instance skipped"
    fi
  fi
  t1=$(date +%s.%N)
  _dvr_log "$("$_DVR_BIN" --version 2>/dev/null | awk '{print $NF}') up in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s: DOCKVAR_TEST_REGISTRY=$DOCKVAR_TEST_REGISTRY${port2:+, DOCKVAR_TEST_REGISTRY_AUTH=127.0.0.1:$port2 (user ${DOCKVAR_TEST_REGISTRY_USER:-})}"
  return 0
}

registry_stop() {
  _dvr_paths
  [[ -d $_DVR_STATE ]] || return 0
  _dvr_stop_instance plain
  _dvr_stop_instance auth
  unset DOCKVAR_TEST_REGISTRY DOCKVAR_TEST_REGISTRY_AUTH DOCKVAR_TEST_REGISTRY_PASSWORD
  return 0
}
