# shellcheck shell=bash
# debootstrap.sh: a real Debian 12 (bookworm) root file system for dockvar's image tests,
# made once with Debian's `debootstrap` and cached as a tarball under target/.
#
#   source scripts/lib/debootstrap.sh
#   debootstrap_rootfs        # exports DOCKVAR_TEST_DEBIAN_ROOTFS=<target>/debootstrap/<key>.tar
#
# The rootfs is `debootstrap --variant=minbase --include=python3,python3-pip,tzdata bookworm`
# from DOCKVAR_DEBIAN_MIRROR (default http://deb.debian.org/debian). It is made once: the
# tarball's name carries a key of everything that shapes it, so a rerun with the same settings
# takes no time, and a changed setting makes a new one. Downloaded .debs and apt lists are
# removed before packing; nothing else is changed, so the tree is what debootstrap made.
# Needs root (debootstrap chroots) and the mirror; installs debootstrap if it is missing.
# Taking a few minutes the first time, it can run in the background:
#   debootstrap_rootfs &   ...   wait
# Safe to source under `set -euo pipefail`.

_dvd_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dvd_root="$(cd "$_dvd_lib_dir/../.." && pwd -P)"

_dvd_log() { printf 'debootstrap: %s\n' "$*" >&2; }

_DVD_SUITE=bookworm
_DVD_PACKAGES=python3,python3-pip,tzdata
# Bump when the steps below change what the tarball holds.
_DVD_RECIPE=1

_dvd_tarball() {
  local target=${DOCKVAR_TARGET_DIR:-$_dvd_root/target} key
  key=$(printf '%s|%s|%s|%s' "$_DVD_SUITE" "$_DVD_PACKAGES" "${DOCKVAR_DEBIAN_MIRROR:-}" "$_DVD_RECIPE" |
    sha256sum | cut -c1-12)
  printf '%s/debootstrap/%s-minbase-%s.tar' "$target" "$_DVD_SUITE" "$key"
}

debootstrap_rootfs() {
  local tar work mirror=${DOCKVAR_DEBIAN_MIRROR:-http://deb.debian.org/debian} t0 rc=0
  tar=$(_dvd_tarball)
  if [[ -s $tar ]]; then
    export DOCKVAR_TEST_DEBIAN_ROOTFS=$tar
    return 0
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
      _dvd_log "debootstrap is missing; run as root to install it"
      return 1
    fi
    _dvd_log "apt-get install -y debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; } || return 1
  fi
  mkdir -p "$(dirname "$tar")"
  work=$(mktemp -d "$(dirname "$tar")/work.XXXXXX")
  t0=$(date +%s)
  _dvd_log "debootstrap --variant=minbase --include=$_DVD_PACKAGES $_DVD_SUITE ($mirror), log in $work.log"
  if debootstrap --variant=minbase --include="$_DVD_PACKAGES" "$_DVD_SUITE" "$work/root" "$mirror" \
    >"$work.log" 2>&1; then
    # What debootstrap leaves behind for apt: not part of the system.
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* \
      "$work/root/var/log/bootstrap.log"
    # Mount points debootstrap may leave mounted after a failure of its own.
    tar --numeric-owner --xattrs -C "$work/root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" || rc=1
  else
    rc=1
    _dvd_log "debootstrap failed; last lines of $work.log:"
    tail -n 30 "$work.log" >&2 || true
  fi
  local mp
  for mp in proc sys dev/pts dev; do
    if mountpoint -q "$work/root/$mp" 2>/dev/null; then umount -l "$work/root/$mp" || true; fi
  done
  rm -rf "$work" "$tar.tmp"
  if [[ $rc -eq 0 ]]; then
    rm -f "$work.log"
    _dvd_log "$tar ($(du -h "$tar" | cut -f1)) in $(($(date +%s) - t0))s"
    export DOCKVAR_TEST_DEBIAN_ROOTFS=$tar
  fi
  return "$rc"
}
