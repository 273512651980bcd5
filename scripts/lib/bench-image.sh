# shellcheck shell=bash
# bench-image.sh: the LARGE image that scripts/bench-inspect times `dockvar inspect` on, built
# with the private engine (engine.sh) and exported in every format dockvar reads. Everything is
# cached under $DOCKVAR_TARGET_DIR/bench/inspect/ and in the engine, so a second run reuses it.
#
#   source scripts/lib/engine.sh scripts/lib/registry.sh scripts/lib/bench-image.sh
#   engine_start; registry_start
#   bench_image_build            # sets BENCH_IMAGE, BENCH_KIND, BENCH_DIR
#   bench_image_export           # sets BENCH_OUT (docker-archive.tar, oci/, oci-zstd.tar)
#   bench_image_push             # sets BENCH_REGISTRY_REF (gzip layers, plain registry)
#
# The image: a Debian bookworm root file system made with `debootstrap --variant=minbase`
# plus the packages of a python:3.11-slim-like runtime (--include, for 100+ dpkg packages;
# the synthetic fallback carries this machine's /var/lib/dpkg/status instead), imported
# with `docker import`, then grown with the legacy builder (DOCKER_BUILDKIT=0,
# --network=none) by four COPY layers of random data (half incompressible, half base64 text,
# plus many small files), a Python-like tree under /usr/local/lib/python3.11 with pip's
# dist-info, a RUN that deletes a file (a whiteout) and ENV PYTHON_VERSION.
#
# Settings (environment, all optional):
#   DOCKVAR_TARGET_DIR         default <repo>/target
#   DOCKVAR_BENCH_ROOTFS       auto (default: debootstrap, synthetic if it cannot fetch),
#                              debootstrap or synthetic
#   DOCKVAR_BENCH_MIRROR       default http://deb.debian.org/debian
#   DOCKVAR_BENCH_INCLUDE      extra packages for debootstrap --include (comma-separated)
#   DOCKVAR_BENCH_DATA_MB      MB of generated data over the four COPY layers; default 320
#   DOCKVAR_BENCH_REBUILD=1    rebuild the image and its exports (the root fs is kept)

_dvb_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
_dvb_root="$(cd "$_dvb_lib_dir/../.." && pwd -P)"
# Bump when the image's recipe changes: a cached image with another spec is rebuilt.
_DVB_RECIPE=2

_dvb_log() { printf 'bench-image: %s\n' "$*" >&2; }

_dvb_docker() { "${DOCKVAR_TEST_DOCKER_CLI:-/usr/bin/docker}" "$@"; }

_dvb_python() {
  if [[ -x /usr/bin/python3 ]]; then /usr/bin/python3 "$@"; else python3 "$@"; fi
}

# Mount points under DIR, deepest first (debootstrap mounts /proc and /sys in its target).
_dvb_unmount_under() {
  local dir=$1 mp
  [[ -n $dir && -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd -P)
  while IFS= read -r mp; do
    [[ -n $mp ]] || continue
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || _dvb_log "could not unmount $mp"
  done < <(awk -v d="$dir" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print length($5) "\t" $5 }' \
    /proc/self/mountinfo | sort -rn | cut -f2-)
}

# Remove a directory tree that debootstrap may have left mounts in.
_dvb_rm_tree() {
  local dir=$1
  [[ -e $dir ]] || return 0
  _dvb_unmount_under "$dir"
  rm -rf --one-file-system "$dir"
}

_dvb_apt_install() {
  local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
    _dvb_log "need root to apt-get install $*"
    return 1
  fi
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  _dvb_log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || rc=1
  fi
  if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; fi
  return "$rc"
}

# _dvb_rootfs_debootstrap DIR: a minbase bookworm root file system (DIR appears only when done).
_dvb_rootfs_debootstrap() {
  local dir=$1 tmp=$1.tmp log=$BENCH_DIR/debootstrap.log mirror=${DOCKVAR_BENCH_MIRROR:-http://deb.debian.org/debian}
  local include=${DOCKVAR_BENCH_INCLUDE-ca-certificates,netbase,tzdata,procps,curl,gnupg,less,xz-utils,openssl,libsqlite3-0,libffi8,libreadline8}
  if ! command -v debootstrap >/dev/null 2>&1 && [[ ! -x /usr/sbin/debootstrap ]]; then
    _dvb_apt_install debootstrap || return 1
  fi
  _dvb_rm_tree "$tmp"
  mkdir -p "$BENCH_DIR/debs"
  _dvb_log "debootstrap --variant=minbase ${include:+--include=$include }bookworm $tmp $mirror (log: $log)"
  if ! PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    debootstrap --variant=minbase ${include:+"--include=$include"} --cache-dir="$BENCH_DIR/debs" \
    bookworm "$tmp" "$mirror" >"$log" 2>&1; then
    _dvb_log "debootstrap failed; last lines of $log:"
    tail -n 15 "$log" >&2 || true
    _dvb_rm_tree "$tmp"
    return 1
  fi
  _dvb_unmount_under "$tmp"
  rm -rf "${tmp:?}"/var/cache/apt/archives/*.deb "${tmp:?}"/var/lib/apt/lists/*_Packages 2>/dev/null || true
  mv "$tmp" "$dir"
}

# _dvb_rootfs_synthetic DIR: this machine's dpkg status and os-release, the few binaries the
# in-container method runs (sh, printenv, dpkg-query, with their libraries) and filler files.
_dvb_rootfs_synthetic() {
  local dir=$1 tmp=$1.tmp bin lib
  _dvb_rm_tree "$tmp"
  mkdir -p "$tmp"/{etc,tmp,root,proc,sys,dev,bin,usr/bin,usr/lib,usr/share/bench-filler} \
    "$tmp"/var/lib/dpkg/{info,updates}
  cp /var/lib/dpkg/status "$tmp/var/lib/dpkg/status"
  : >"$tmp/var/lib/dpkg/available"
  cp -L /etc/os-release "$tmp/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$tmp/etc/os-release"
  if [[ -f /etc/debian_version ]]; then cp /etc/debian_version "$tmp/etc/debian_version"; fi
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/etc/passwd"
  printf 'root:x:0:\n' >"$tmp/etc/group"
  for bin in sh dash printenv dpkg-query env cat ls rm mkdir; do
    bin=$(command -v "$bin" 2>/dev/null) || continue
    bin=$(readlink -f "$bin")
    mkdir -p "$tmp$(dirname "$bin")"
    cp -L "$bin" "$tmp$bin"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
      [[ -e $tmp$lib ]] || { mkdir -p "$tmp$(dirname "$lib")" && cp -L "$lib" "$tmp$lib"; }
    done
  done
  [[ -e $tmp/bin/sh ]] || ln -s "$(readlink -f "$(command -v dash || command -v sh)")" "$tmp/bin/sh"
  # Some bulk, as a real base image has (the COPY layers add the rest).
  _dvb_python - "$tmp/usr/share/bench-filler" 64 <<'PY'
import os, sys
d, mb = sys.argv[1], int(sys.argv[2])
for i in range(mb):
    with open(os.path.join(d, f"f{i:04d}"), "wb") as f:
        f.write(os.urandom(1 << 20))
PY
  mv "$tmp" "$dir"
}

# _dvb_context DIR MB: the build context of the large image.
_dvb_context() {
  local ctx=$1 mb=$2
  mkdir -p "$ctx"
  _dvb_python - "$ctx" "$mb" <<'PY'
import base64, os, random, sys
ctx, total_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20240611)
words = ("import def return class self from None True False for in if else elif while try except "
         "with as yield lambda pass raise assert global nonlocal dict list tuple str int float "
         "requirement distribution package metadata version wheel install resolver index").split()

def text(n):
    out, size = [], 0
    while size < n:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out)[:n]

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)

per_layer = total_mb * (1 << 20) // 4
for layer in range(1, 5):
    root = os.path.join(ctx, f"data{layer}", "opt", "bench", f"data{layer}")
    binary, b64, small = per_layer // 2, per_layer * 2 // 5, per_layer // 10
    for i in range(4):                      # incompressible blobs
        write(os.path.join(root, f"bin-{i}"), os.urandom(binary // 4))
    chunk = 256 << 10                       # base64 text: compressible, Huffman-coded
    for i in range(max(1, b64 // chunk)):
        write(os.path.join(root, "text", f"t{i:04d}.b64"), base64.b64encode(os.urandom(chunk * 3 // 4)))
    n, i = 0, 0                             # many small source-like files
    while n < small:
        size = rnd.randint(1024, 12 * 1024)
        write(os.path.join(root, "src", f"m{i // 100:03d}", f"mod{i:05d}.py"), text(size))
        n, i = n + size, i + 1

# A Python-like tree, as python:3.11 images have it (COPY python/ /usr/local/).
py = os.path.join(ctx, "python", "lib", "python3.11")
for i in range(300):
    write(os.path.join(py, f"stdlib_{i:03d}.py"), text(rnd.randint(2048, 40 * 1024)))
sp = os.path.join(py, "site-packages")
dists = {"pip": "23.0.1", "setuptools": "65.5.1", "wheel": "0.40.0", "requests": "2.31.0",
         "urllib3": "2.0.7", "certifi": "2023.7.22", "idna": "3.4", "charset-normalizer": "3.3.2"}
for name, version in dists.items():
    di = os.path.join(sp, f"{name.replace('-', '_')}-{version}.dist-info")
    write(os.path.join(di, "METADATA"),
          f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name} for the dockvar benchmark\n\n{text(4096)}")
    write(os.path.join(di, "INSTALLER"), "pip\n")
    write(os.path.join(di, "WHEEL"), "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.40.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    records = []
    pkg = name.replace("-", "_")
    for j in range(120 if name == "pip" else 30):
        rel = f"{pkg}/_internal/m{j // 20}/mod_{j:03d}.py"
        write(os.path.join(sp, rel), text(rnd.randint(1024, 24 * 1024)))
        records.append(f"{rel},,\n")
    write(os.path.join(di, "RECORD"), "".join(records))
    write(os.path.join(di, "top_level.txt"), pkg + "\n")
write(os.path.join(ctx, "python", "bin", "pip3"), "#!/usr/local/bin/python3.11\nimport sys\n")
PY
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
ARG BASE=dockvar-bench/debian:1
FROM ${BASE}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
COPY data1/ /
COPY data2/ /
COPY python/ /usr/local/
COPY data3/ /
RUN rm -f /opt/bench/data1/bin-0 && echo Etc/UTC > /etc/timezone
COPY data4/ /
ENV PYTHON_VERSION=3.11.9 PYTHON_PIP_VERSION=23.0.1 GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D
WORKDIR /app
CMD ["sh"]
DOCKERFILE
}

_dvb_image_exists() { _dvb_docker image inspect "$1" >/dev/null 2>&1; }

_dvb_label() {
  _dvb_docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# Pick the root file system (debootstrap, else synthetic), import it, build the large image.
bench_image_build() {
  local want=${DOCKVAR_BENCH_ROOTFS:-auto} mb=${DOCKVAR_BENCH_DATA_MB:-320} kind spec ctx rootfs t0
  local target=${DOCKVAR_TARGET_DIR:-$_dvb_root/target}
  BENCH_DIR=$target/bench/inspect
  mkdir -p "$BENCH_DIR"
  case $want in
    auto)
      if [[ -d $BENCH_DIR/rootfs-debootstrap ]] || _dvb_image_exists dockvar-bench/debian:1; then
        kind=debootstrap
      elif [[ -d $BENCH_DIR/rootfs-synthetic && -f $BENCH_DIR/debootstrap.failed ]]; then
        kind=synthetic
      elif _dvb_rootfs_debootstrap "$BENCH_DIR/rootfs-debootstrap"; then
        kind=debootstrap
        rm -f "$BENCH_DIR/debootstrap.failed"
      else
        _dvb_log "debootstrap could not build a root file system: falling back to a synthetic tree"
        date -u +%FT%TZ >"$BENCH_DIR/debootstrap.failed"
        kind=synthetic
      fi
      ;;
    debootstrap | synthetic) kind=$want ;;
    *) _dvb_log "DOCKVAR_BENCH_ROOTFS must be auto, debootstrap or synthetic"; return 1 ;;
  esac
  BENCH_KIND=$kind
  if [[ $kind == debootstrap ]]; then
    BENCH_BASE_IMAGE=dockvar-bench/debian:1
    BENCH_IMAGE=dockvar-bench/large:1
  else
    BENCH_BASE_IMAGE=dockvar-bench/synthetic-base:1
    BENCH_IMAGE=dockvar-bench/large-synthetic:1
  fi
  spec="recipe=$_DVB_RECIPE kind=$kind data_mb=$mb"
  if [[ ${DOCKVAR_BENCH_REBUILD:-0} == 1 ]]; then
    _dvb_docker rmi -f "$BENCH_IMAGE" >/dev/null 2>&1 || true
  fi
  if _dvb_image_exists "$BENCH_IMAGE" && [[ $(_dvb_label "$BENCH_IMAGE" io.dockvar.bench.spec) == "$spec" ]]; then
    _dvb_log "reusing $BENCH_IMAGE ($spec)"
    export BENCH_IMAGE BENCH_KIND BENCH_DIR BENCH_BASE_IMAGE
    return 0
  fi
  if ! _dvb_image_exists "$BENCH_BASE_IMAGE"; then
    rootfs=$BENCH_DIR/rootfs-$kind
    if [[ ! -d $rootfs ]]; then
      if [[ $kind == debootstrap ]]; then
        _dvb_rootfs_debootstrap "$rootfs" || return 1
      else
        _dvb_rootfs_synthetic "$rootfs" || return 1
      fi
    fi
    _dvb_log "importing $rootfs as $BENCH_BASE_IMAGE"
    tar --numeric-owner -C "$rootfs" -c . | _dvb_docker import - "$BENCH_BASE_IMAGE" >/dev/null
  fi
  ctx=$BENCH_DIR/context
  rm -rf "$ctx"
  t0=$(date +%s)
  _dvb_log "generating ${mb} MB of layer data in $ctx"
  _dvb_context "$ctx" "$mb"
  _dvb_log "building $BENCH_IMAGE from $BENCH_BASE_IMAGE (legacy builder, --network=none)"
  DOCKER_BUILDKIT=0 _dvb_docker build -q --network=none --force-rm \
    --build-arg "BASE=$BENCH_BASE_IMAGE" --label "io.dockvar.bench.spec=$spec" \
    -t "$BENCH_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  _dvb_log "built $BENCH_IMAGE in $(($(date +%s) - t0)) s"
  export BENCH_IMAGE BENCH_KIND BENCH_DIR BENCH_BASE_IMAGE
}

# docker save (uncompressed docker-archive), OCI layout (gzip) and OCI archive (zstd), tag 1;
# redone only when the image ID changed.
bench_image_export() {
  local id out
  id=$(_dvb_docker image inspect -f '{{.Id}}' "$BENCH_IMAGE")
  BENCH_OUT=$BENCH_DIR/export-$BENCH_KIND
  out=$BENCH_OUT
  export BENCH_OUT
  if [[ -f $out/image-id && $(cat "$out/image-id") == "$id" && -f $out/docker-archive.tar \
    && -f $out/oci/index.json && -f $out/oci-zstd.tar ]]; then
    _dvb_log "reusing the exports in $out"
    return 0
  fi
  rm -rf "$out"
  mkdir -p "$out"
  _dvb_log "docker save $BENCH_IMAGE -> $out/docker-archive.tar"
  _dvb_docker save -o "$out/docker-archive.tar" "$BENCH_IMAGE"
  _dvb_log "skopeo copy -> $out/oci:1 (gzip) and $out/oci-zstd.tar:1 (zstd)"
  skopeo copy -q --dest-compress --dest-compress-format gzip \
    "docker-archive:$out/docker-archive.tar" "oci:$out/oci:1" >&2
  skopeo copy -q --dest-compress --dest-compress-format zstd \
    "docker-archive:$out/docker-archive.tar" "oci-archive:$out/oci-zstd.tar:1" >&2
  printf '%s\n' "$id" >"$out/image-id"
}

# Push to the plain private registry with gzip layers (skipped when it already holds this config).
bench_image_push() {
  local id name have
  [[ -n ${DOCKVAR_TEST_REGISTRY:-} ]] || { _dvb_log "DOCKVAR_TEST_REGISTRY is not set"; return 1; }
  id=$(_dvb_docker image inspect -f '{{.Id}}' "$BENCH_IMAGE")
  name=${BENCH_IMAGE%%:*}
  BENCH_REGISTRY_REF=$DOCKVAR_TEST_REGISTRY/$name:1
  export BENCH_REGISTRY_REF
  have=''
  if skopeo inspect --tls-verify=false --config --raw "docker://$BENCH_REGISTRY_REF" \
    >"$BENCH_DIR/registry-config.json" 2>/dev/null; then
    have=sha256:$(sha256sum <"$BENCH_DIR/registry-config.json" | cut -d' ' -f1)
  fi
  rm -f "$BENCH_DIR/registry-config.json"
  if [[ $have == "$id" ]]; then
    _dvb_log "the registry already holds $BENCH_REGISTRY_REF"
    return 0
  fi
  _dvb_log "pushing $BENCH_REGISTRY_REF (gzip layers)"
  skopeo copy -q --dest-tls-verify=false --dest-compress-format gzip \
    "docker-archive:$BENCH_OUT/docker-archive.tar" "docker://$BENCH_REGISTRY_REF" >&2
}

# The gzip layer blobs of the OCI layout, one path a line.
bench_image_gzip_blobs() {
  local oci=$BENCH_OUT/oci manifest
  manifest=$(jq -r '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "1")][0].digest' \
    "$oci/index.json")
  jq -r '.layers[] | select(.mediaType | endswith("gzip")) | .digest' "$oci/blobs/${manifest/://}" |
    while IFS= read -r d; do printf '%s\n' "$oci/blobs/${d/://}"; done
}
