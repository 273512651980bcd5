# shellcheck shell=bash
# images.sh: builds dockvar's test images with the private engine and exports them in every
# format the image sources read. Source it after `engine_start; registry_start`, then run
# `images_build`. Needs skopeo, busybox-static and curl (scripts/test installs them).
#
# Exports:
#   DOCKVAR_TEST_IMAGES          directory with the exported copies (below)
#   DOCKVAR_TEST_ENGINE_IMAGE    dockvar-test/engine:1 in the private engine
#   DOCKVAR_TEST_REGISTRY_*      images pushed to the private registries (registry-images.sh)
# Layout of $DOCKVAR_TEST_IMAGES:
#   engine/docker-archive.tar    `docker save` of dockvar-test/engine:1
#   engine/oci/                  OCI layout, tag 1, gzip layers
#   engine/oci-zstd.tar          OCI archive, tag 1, zstd layers
#   layered/…                    the same three for dockvar-test/layered:1
#   alpine/…                     the same three for dockvar-test/alpine:1 (apk, no Python)
#   contract/…                   the same three for dockvar-test/contract:1 (meets the contract)
#   broken/truncated.tar         a docker-archive whose last layer is cut short
#   debian/docker-archive.tar    `docker save` of every dockvar-test/deb-*:1 image (one archive,
#                                so the debootstrapped base layer is stored once)
# Both engine/ and layered/ images are also pushed to $DOCKVAR_TEST_REGISTRY as
# dockvar-test/<name>:1.

_dvi_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dvi_root="$(cd "$_dvi_lib_dir/../.." && pwd -P)"

_dvi_log() { printf 'images: %s\n' "$*" >&2; }

# shellcheck source=scripts/lib/debootstrap.sh
source "$_dvi_lib_dir/debootstrap.sh"

# The images built on the debootstrapped Debian 12 (see _dvi_debian_images), in build order.
DVI_DEBIAN_IMAGES=(deb-plain deb-pip-user deb-env deb-tz deb-venv deb-ghost)

# _dvi_wheels DIR: the wheels the Debian images install, from PyPI with `pip download` (cached
# in DIR; never committed).
_dvi_wheels() {
  local dir=$1
  if [[ -f $dir/pip-24.2-py3-none-any.whl && -f $dir/six-1.16.0-py2.py3-none-any.whl ]]; then return 0; fi
  mkdir -p "$dir"
  _dvi_log "pip download pip==24.2 six==1.16.0 into $dir"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir" pip==24.2 six==1.16.0 >&2
}

# _dvi_debian_images: imports the debootstrapped rootfs as dockvar-test/bookworm:1 (once per
# tarball) and builds the DVI_DEBIAN_IMAGES on it, offline:
#   deb-plain     the distro's python3, python3-pip and tzdata, nothing else
#   deb-pip-user  pip upgraded from a wheel into /usr/local/lib/python3.11/dist-packages, user
#                 airbyte with six installed `--user`, /airbyte a directory, USER airbyte
#   deb-env       a misleading PYTHON_VERSION, /etc/localtime re-pointed to the US/Eastern
#                 alias (while /etc/timezone still says Etc/UTC), USER 1001:1002
#   deb-tz        a dangling /etc/localtime, no /etc/timezone, /airbyte a symlink to
#                 /opt/airbyte, USER airbyte:staff
#   deb-venv      a venv first on PATH (pip and six in it) beside the distro's python3, and a
#                 TZ naming a zone the image lacks
#   deb-ghost     USER ghost, whom /etc/passwd does not know (the container cannot start)
_dvi_debian_images() {
  local docker=${DOCKVAR_TEST_DOCKER_CLI:-docker} key have ctx name out=$DOCKVAR_TEST_IMAGES/debian
  debootstrap_rootfs
  key=$(basename "$DOCKVAR_TEST_DEBIAN_ROOTFS" .tar)
  have=$("$docker" image inspect -f '{{index .Config.Labels "io.dockvar.rootfs"}}' dockvar-test/bookworm:1 2>/dev/null || true)
  if [[ $have != "$key" ]]; then
    _dvi_log "docker import $DOCKVAR_TEST_DEBIAN_ROOTFS as dockvar-test/bookworm:1"
    "$docker" import -q --change "LABEL io.dockvar.rootfs=$key" "$DOCKVAR_TEST_DEBIAN_ROOTFS" dockvar-test/bookworm:1 >/dev/null
  fi
  ctx=$(mktemp -d)
  _dvi_wheels "${DOCKVAR_TARGET_DIR:-$_dvi_root/target}/wheels"
  mkdir -p "$ctx/wheels"
  cp "${DOCKVAR_TARGET_DIR:-$_dvi_root/target}/wheels/"{pip-24.2-py3-none-any.whl,six-1.16.0-py2.py3-none-any.whl} "$ctx/wheels/"
  local pip='python3 -m pip install -q --break-system-packages --no-index --no-cache-dir --disable-pip-version-check'
  for name in "${DVI_DEBIAN_IMAGES[@]}"; do
    {
      echo 'FROM dockvar-test/bookworm:1'
      case $name in
        deb-plain) ;;
        deb-pip-user)
          echo 'COPY wheels/ /wheels/'
          echo "RUN $pip /wheels/pip-24.2-py3-none-any.whl && useradd -m -u 1000 -U airbyte \\"
          echo ' && mkdir /airbyte && chown airbyte:airbyte /airbyte && chmod 750 /airbyte'
          echo 'USER airbyte'
          echo "RUN $pip --user /wheels/six-1.16.0-py2.py3-none-any.whl"
          ;;
        deb-env)
          echo 'RUN ln -sf /usr/share/zoneinfo/US/Eastern /etc/localtime'
          echo 'ENV PYTHON_VERSION=3.11.9'
          echo 'USER 1001:1002'
          ;;
        deb-tz)
          echo 'RUN useradd -u 1000 -U airbyte && mkdir -p /opt/airbyte && chown airbyte:airbyte /opt/airbyte \'
          echo ' && ln -s /opt/airbyte /airbyte && ln -sf /usr/share/zoneinfo/Nowhere/Town /etc/localtime \'
          echo ' && rm /etc/timezone'
          echo 'USER airbyte:staff'
          ;;
        deb-venv)
          echo 'COPY wheels/ /wheels/'
          echo "RUN python3 -m venv --without-pip /opt/venv && $pip --target /opt/venv/lib/python3.11/site-packages \\"
          echo '    /wheels/pip-24.2-py3-none-any.whl /wheels/six-1.16.0-py2.py3-none-any.whl && rm -r /wheels'
          echo 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TZ=Mars/Olympus'
          ;;
        deb-ghost) echo 'USER ghost' ;;
      esac
      echo "LABEL io.dockvar.test=$name"
    } >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 "$docker" build -q --network=none -t "dockvar-test/$name:1" "$ctx" >/dev/null
  done
  rm -rf "$ctx"
  mkdir -p "$out"
  "$docker" save -o "$out/docker-archive.tar" "${DVI_DEBIAN_IMAGES[@]/#/dockvar-test/}"
}

# _dvi_context_engine DIR: whiteouts, an opaque dir, /lib -> usr/lib, a re-pointed
# /etc/localtime, a hard link, link loops, /airbyte owned by the airbyte user, Python dist-infos.
_dvi_context_engine() {
  local ctx=$1
  mkdir -p "$ctx/base"
  cp -a "$_dvi_root/fixtures/images/debian/." "$ctx/base/"
  mkdir -p "$ctx/base/bin" "$ctx/base/opt/old" "$ctx/base/opt/dir2" "$ctx/base/usr/lib/dockvar" \
    "$ctx/base/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info" \
    "$ctx/base/usr/local/lib/python3.11/site-packages/old-1.0.dist-info" \
    "$ctx/base/var/lib/dpkg/status.d"
  cp /bin/busybox "$ctx/base/bin/busybox"
  printf 'gone\n' >"$ctx/base/gone.txt"
  printf 'a\n' >"$ctx/base/opt/old/a"
  printf 'b\n' >"$ctx/base/opt/old/b"
  printf 'x\n' >"$ctx/base/opt/dir2/x"
  printf 'marker\n' >"$ctx/base/usr/lib/dockvar/marker"
  printf 'Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n' \
    >"$ctx/base/usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA"
  printf 'Metadata-Version: 2.1\nName: old\nVersion: 1.0\n' \
    >"$ctx/base/usr/local/lib/python3.11/site-packages/old-1.0.dist-info/METADATA"
  printf 'Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n' \
    >"$ctx/base/var/lib/dpkg/status.d/base-files"
  mkdir -p "$ctx/links"
  ln -s usr/lib "$ctx/links/lib"
  mkdir -p "$ctx/extra/usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info"
  printf 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n' \
    >"$ctx/extra/usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY base/ /
COPY links/ /
RUN ["/bin/busybox", "sh", "-c", "set -e; B=/bin/busybox; \
  $B rm /gone.txt; \
  $B rm -rf /opt/old; $B mkdir /opt/old; echo c > /opt/old/c; \
  $B rm -rf /opt/dir2; echo file > /opt/dir2; \
  $B mv /etc/os-release /usr/lib/os-release; $B ln -s ../usr/lib/os-release /etc/os-release; \
  $B ln -sf /usr/share/zoneinfo/Europe/Berlin /etc/localtime; \
  $B ln /usr/lib/dockvar/marker /usr/lib/dockvar/marker.hard; \
  $B ln -s /loop2 /loop1; $B ln -s loop1 /loop2; $B ln -s /nowhere /dangling; \
  $B rm -rf /usr/local/lib/python3.11/site-packages/old-1.0.dist-info; \
  $B mkdir /usr/local/lib/python3.11/site-packages/new-2.0.dist-info; \
  printf 'Metadata-Version: 2.1\\nName: new\\nVersion: 2.0\\n' > /usr/local/lib/python3.11/site-packages/new-2.0.dist-info/METADATA; \
  printf 'Package: extra\\nStatus: install ok installed\\nVersion: 1\\nArchitecture: all\\n' > /var/lib/dpkg/status.d/extra; \
  echo 'airbyte:x:1000:1000::/airbyte:/bin/sh' >> /etc/passwd; \
  $B mkdir /airbyte; $B chown 1000:1000 /airbyte; $B chmod 750 /airbyte"]
COPY extra/ /
ENV LANG=C.UTF-8 TZ=Europe/Berlin PYTHON_VERSION=3.11.9 PATH=/usr/local/bin:/usr/bin:/bin
LABEL io.dockvar.test=engine
EXPOSE 8080/tcp
WORKDIR /airbyte
USER airbyte
CMD ["/bin/busybox", "sh"]
DOCKERFILE
}

# _dvi_context_layered DIR: the Debian fixture over several COPY layers, a whiteout, an edit.
_dvi_context_layered() {
  local ctx=$1
  cp -a "$_dvi_root/fixtures/images/debian/." "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY etc/ /etc/
COPY var/ /var/
COPY usr/ /usr/
COPY busybox /bin/busybox
RUN ["/bin/busybox", "rm", "/etc/timezone"]
RUN ["/bin/busybox", "sh", "-c", "echo DOCKVAR_LAYER=6 >> /etc/os-release"]
ENV LANG=C.UTF-8 TZ=Etc/UTC
DOCKERFILE
}

# _dvi_context_alpine DIR: the Alpine fixture (apk database, os-release, alpine-release).
_dvi_context_alpine() {
  local ctx=$1
  cp -a "$_dvi_root/fixtures/images/alpine/." "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY etc/ /etc/
COPY lib/ /lib/
COPY busybox /bin/busybox
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
ENTRYPOINT ["/bin/busybox", "sh"]
DOCKERFILE
}

# _dvi_context_contract DIR: an image that meets the connector image contract, labelled as
# the fixture monorepo's source-instagram 1.0.11.
_dvi_context_contract() {
  local ctx=$1
  mkdir -p "$ctx/root/etc" "$ctx/root/bin"
  cp /bin/busybox "$ctx/root/bin/busybox"
  cp "$_dvi_root/fixtures/images/debian/etc/os-release" "$ctx/root/etc/os-release"
  printf 'root:x:0:0:root:/root:/bin/sh\nairbyte:x:1000:1000::/airbyte:/bin/sh\n' >"$ctx/root/etc/passwd"
  printf 'root:x:0:\nairbyte:x:1000:\n' >"$ctx/root/etc/group"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /airbyte && /bin/busybox chown 1000:1000 /airbyte"]
ENV AIRBYTE_ENTRYPOINT="/bin/busybox sh /airbyte/main.sh"
ENTRYPOINT ["/bin/busybox", "sh", "/airbyte/main.sh"]
LABEL io.airbyte.name=airbyte/source-instagram io.airbyte.version=1.0.11
USER airbyte
DOCKERFILE
}

# _dvi_connector_image TAG FAMILY PYTHON PIP EXTRA_PACKAGE [ENV_LINE...]: an image shaped like a
# 2023 Airbyte Python connector (the notebook's env, pip in site-packages, an entrypoint) on the
# Debian or Alpine fixture; EXTRA_PACKAGE (or -) is a dpkg stanza appended to the status file.
# These images are what reports/sample was generated from.
_dvi_connector_image() {
  local tag=$1 family=$2 python=$3 pip=$4 extra=$5 ctx docker=${DOCKVAR_TEST_DOCKER_CLI:-docker}
  shift 5
  local minor=${python%.*} site
  ctx=$(mktemp -d)
  cp -a "$_dvi_root/fixtures/images/$family/." "$ctx/"
  mkdir -p "$ctx/bin" "$ctx/airbyte/integration_code"
  cp /bin/busybox "$ctx/bin/busybox"
  site=$ctx/usr/local/lib/python$minor/site-packages
  # The official python image's layout: the interpreter on PATH (a placeholder here: these
  # images are never run) and CPython's patchlevel.h, which says the exact version.
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/include/python$minor"
  printf '#!/bin/busybox sh\necho "placeholder for CPython %s: dockvar sample image" >&2\nexit 1\n' "$python" \
    >"$ctx/usr/local/bin/python$minor"
  chmod 755 "$ctx/usr/local/bin/python$minor"
  ln -s "python$minor" "$ctx/usr/local/bin/python3"
  ln -s python3 "$ctx/usr/local/bin/python"
  printf '/* Python version identification scheme (excerpt) */\n#define PY_VERSION              "%s"\n' "$python" \
    >"$ctx/usr/local/include/python$minor/patchlevel.h"
  mkdir -p "$site/pip-$pip.dist-info" "$site/setuptools-58.1.0.dist-info"
  printf 'Metadata-Version: 2.1\nName: pip\nVersion: %s\n' "$pip" >"$site/pip-$pip.dist-info/METADATA"
  printf 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n' >"$site/pip-$pip.dist-info/WHEEL"
  printf 'Metadata-Version: 2.1\nName: setuptools\nVersion: 58.1.0\n' >"$site/setuptools-58.1.0.dist-info/METADATA"
  if [[ $family == debian ]]; then
    cp -a "$_dvi_root/fixtures/images/python/usr/local/lib/python3.9/site-packages/numpy-1.25.2.dist-info" "$site/"
  else
    mkdir -p "$ctx/etc" "$ctx/usr/share/zoneinfo/Etc"
    cp "$_dvi_root/fixtures/images/debian/usr/share/zoneinfo/Etc/UTC" "$ctx/usr/share/zoneinfo/Etc/UTC"
    ln -s /usr/share/zoneinfo/Etc/UTC "$ctx/etc/localtime"
    echo Etc/UTC >"$ctx/etc/timezone"
  fi
  if [[ -n ${DVI_USER:-} ]]; then
    printf '%s:x:1000:1000::/airbyte:/bin/sh\n' "$DVI_USER" >>"$ctx/etc/passwd"
  fi
  if [[ $extra != - ]]; then
    printf '\nPackage: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 1.0-1\nDescription: added by the connector\n' \
      "$extra" >>"$ctx/var/lib/dpkg/status"
  fi
  {
    echo 'FROM scratch'
    echo 'COPY . /'
    echo 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8'
    echo 'ENV GPG_KEY=E3FF2839C048B25C084DEBE9B26995E310250568'
    echo "ENV PYTHON_VERSION=$python PYTHON_PIP_VERSION=$pip PYTHON_SETUPTOOLS_VERSION=58.1.0"
    echo "ENV PYTHON_GET_PIP_URL=https://github.com/pypa/get-pip/raw/9af82b715db434abb94a0a6f3569f43e72157346/public/get-pip.py"
    local line
    for line in "$@"; do echo "ENV $line"; done
    echo 'WORKDIR /airbyte/integration_code'
    echo 'ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]'
    if [[ -n ${DVI_USER:-} ]]; then echo "USER $DVI_USER"; fi
  } >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 "$docker" build -q --network=none -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# _dvi_sample_images: the images reports/sample.map names, and one that meets the sample's
# checks.yaml.
_dvi_sample_images() {
  local entry='AIRBYTE_ENTRYPOINT="python /airbyte/integration_code/main.py"'
  _dvi_connector_image dockvar-sample/python-base:1 debian 3.9.18 23.0.1 -
  _dvi_connector_image dockvar-sample/v1:1 debian 3.9.18 23.0.1 libgdal32 "$entry"
  _dvi_connector_image dockvar-sample/v2:1 alpine 3.9.11 22.0.4 - "$entry"
  _dvi_connector_image dockvar-sample/v3:1 debian 3.9.17 23.0.1 - "$entry"
  _dvi_connector_image dockvar-sample/zendesk-chat:1 debian 3.9.16 23.0.1 unixodbc \
    'AIRBYTE_ENTRYPOINT="python /airbyte/integration_code/main_dev.py"' \
    AIRBYTE_IMPL_MODULE=source_zendesk_chat AIRBYTE_IMPL_PATH=SourceZendeskChat CODE_PATH=source_zendesk_chat
  _dvi_connector_image dockvar-sample/slack:1 debian 3.9.18 23.0.1 - "$entry" CODE_PATH=source_slack \
    WORKDIR=/airbyte/integration_code
  _dvi_connector_image dockvar-sample/klaviyo:1 debian 3.9.11 22.0.4 - "$entry" TZ=Europe/Berlin
  # Built on the recommended base: meets reports/sample/checks.yaml.
  DVI_USER=airbyte _dvi_connector_image dockvar-sample/conforming:1 debian 3.9.18 23.0.1 - "$entry" TZ=UTC
}

# _dvi_export NAME: builds dockvar-test/NAME:1 and writes its three exported copies.
_dvi_export() {
  local name=$1 out=$DOCKVAR_TEST_IMAGES/$1 ctx docker=${DOCKVAR_TEST_DOCKER_CLI:-docker}
  ctx=$(mktemp -d)
  "_dvi_context_$name" "$ctx"
  DOCKER_BUILDKIT=0 "$docker" build -q --network=none -t "dockvar-test/$name:1" "$ctx" >/dev/null
  rm -rf "$ctx" "$out"
  mkdir -p "$out"
  "$docker" save -o "$out/docker-archive.tar" "dockvar-test/$name:1"
  skopeo copy -q --dest-compress --dest-compress-format gzip \
    "docker-archive:$out/docker-archive.tar" "oci:$out/oci:1"
  skopeo copy -q --dest-compress --dest-compress-format zstd \
    "docker-archive:$out/docker-archive.tar" "oci-archive:$out/oci-zstd.tar:1"
}

images_build() {
  local bin
  for bin in skopeo curl; do
    command -v "$bin" >/dev/null 2>&1 || { _dvi_log "$bin is missing"; return 1; }
  done
  [[ -x /bin/busybox ]] || { _dvi_log "/bin/busybox is missing (busybox-static)"; return 1; }
  export DOCKVAR_TEST_IMAGES=${DOCKVAR_TEST_IMAGES:-${DOCKVAR_TARGET_DIR:-$_dvi_root/target}/test-images}
  mkdir -p "$DOCKVAR_TEST_IMAGES"
  _dvi_log "building test images into $DOCKVAR_TEST_IMAGES"
  _dvi_export engine
  _dvi_export layered
  _dvi_export alpine
  _dvi_export contract
  _dvi_debian_images
  _dvi_sample_images
  export DOCKVAR_TEST_ENGINE_IMAGE=dockvar-test/engine:1
  local name
  for name in engine layered; do
    skopeo copy -q --dest-tls-verify=false "docker-archive:$DOCKVAR_TEST_IMAGES/$name/docker-archive.tar" \
      "docker://$DOCKVAR_TEST_REGISTRY/dockvar-test/$name:1"
  done
  # A docker-archive whose last layer stops in the middle: the layer reader must say so.
  mkdir -p "$DOCKVAR_TEST_IMAGES/broken"
  python3 - "$DOCKVAR_TEST_IMAGES/layered/docker-archive.tar" "$DOCKVAR_TEST_IMAGES/broken/truncated.tar" <<'PY'
import json, sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t:
    manifest = json.load(t.extractfile("manifest.json"))
    last = manifest[0]["Layers"][-1]
    with tarfile.open(dst, "w") as out:
        for m in t.getmembers():
            data = t.extractfile(m) if m.isfile() else None
            if m.name == last:
                payload = data.read()
                cut = payload[: max(1024, len(payload) // 2)]
                m.size = len(cut)
                import io
                out.addfile(m, io.BytesIO(cut))
            else:
                out.addfile(m, data)
PY
  # shellcheck source=scripts/lib/registry-images.sh
  source "$_dvi_lib_dir/registry-images.sh"
  _dvi_log "done"
}
