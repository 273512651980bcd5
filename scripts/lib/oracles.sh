# shellcheck shell=bash
# oracles.sh: the reference implementations dockvar is tested against, from PyPI, in a venv
# under target/ (never committed):
#   dockerfile 3.4.0   BuildKit's own Dockerfile parser (moby/buildkit v0.12.5 through cgo)
#   simpleeval, PyYAML what airbyte-ci evaluates `--metadata-query` with
#
#   source scripts/lib/oracles.sh
#   oracles_install     # exports DOCKVAR_TEST_ORACLE_PYTHON (the venv's python3)
#
# Reruns reuse the venv when it already has every package at its pinned version.

_dvo_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dvo_root="$(cd "$_dvo_lib_dir/../.." && pwd -P)"

# Pinned so that a new release never changes what the tests compare against.
DOCKVAR_ORACLE_PACKAGES=(dockerfile==3.4.0 simpleeval==1.0.8 PyYAML==6.0.2)

oracles_install() {
  local venv=${DOCKVAR_TARGET_DIR:-$_dvo_root/target}/oracles stamp want
  stamp=$venv/.installed
  want="${DOCKVAR_ORACLE_PACKAGES[*]}"
  if [[ ! -x $venv/bin/python3 || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
    printf 'oracles: installing %s into %s\n' "$want" "$venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || return 1
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${DOCKVAR_ORACLE_PACKAGES[@]}" >&2 || return 1
    printf '%s' "$want" >"$stamp"
  fi
  DOCKVAR_TEST_ORACLE_PYTHON=$venv/bin/python3
  export DOCKVAR_TEST_ORACLE_PYTHON
}
