# shellcheck shell=bash
# prepare-registry-images.sh: builds the registry source's test images with the private engine
# and pushes them to the private registries. Source it after `engine_start; registry_start`:
#
#   source scripts/lib/engine.sh; source scripts/lib/registry.sh
#   trap 'engine_stop; registry_stop' EXIT
#   engine_start; registry_start
#   source prepare-registry-images.sh   # exports DOCKVAR_TEST_REGISTRY_IMAGE*
#
# Needs: docker (Debian's /usr/bin/docker 20.10, for `docker manifest`), skopeo, busybox-static.
# Images (same repository:tag on both registries where noted):
#   DOCKVAR_TEST_REGISTRY_IMAGE        dockvar/registry-test:1     Docker v2 schema 2, gzip layers
#                                      (plain and auth registry)
#   DOCKVAR_TEST_REGISTRY_IMAGE_ZSTD   dockvar/registry-test:zstd  OCI manifest, zstd layers (plain)
#   DOCKVAR_TEST_REGISTRY_IMAGE_INDEX  dockvar/registry-multi:1    Docker manifest list, linux/amd64 +
#                                      linux/arm64/v8 (plain)
#   DOCKVAR_TEST_REGISTRY_IMAGE_OCI_INDEX dockvar/registry-multi:oci  the same as an OCI image index (plain)

# _dvp_push_oci_layout DIR REGISTRY REPOSITORY TAG: pushes the one manifest of an OCI layout
# (monolithic blob uploads, then the manifest) over plain HTTP.
_dvp_push_oci_layout() {
  local dir=$1 reg=$2 repo=$3 tag=$4 manifest digest location
  manifest=$(sed -n 's/.*"digest":"sha256:\([0-9a-f]\{64\}\)".*/\1/p' "$dir/index.json" | head -n 1)
  [[ -n $manifest ]] || { echo "prepare: no manifest in $dir/index.json" >&2; return 1; }
  for digest in $(grep -o 'sha256:[0-9a-f]\{64\}' "$dir/blobs/sha256/$manifest" | sort -u); do
    location=$(curl -fsS -o /dev/null -D - -X POST "http://$reg/v2/$repo/blobs/uploads/" |
      tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [[ -n $location ]] || { echo "prepare: no upload location from $reg" >&2; return 1; }
    [[ $location == http* ]] || location="http://$reg$location"
    [[ $location == *\?* ]] && location="$location&digest=$digest" || location="$location?digest=$digest"
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary "@$dir/blobs/sha256/${digest#sha256:}" "$location" || return 1
  done
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$dir/blobs/sha256/$manifest" "http://$reg/v2/$repo/manifests/$tag"
}

_dvp_prepare() {
  local repo_root docker work ctx reg auth busybox
  # Run from the repository root (scripts/test does), or set DOCKVAR_REPO_ROOT.
  repo_root=${DOCKVAR_REPO_ROOT:-$PWD}
  docker=${DOCKVAR_TEST_DOCKER_CLI:-/usr/bin/docker}
  reg=${DOCKVAR_TEST_REGISTRY:?registry_start first}
  auth=${DOCKVAR_TEST_REGISTRY_AUTH:-}
  busybox=$(command -v busybox || true)
  [[ -n $busybox ]] || { echo "prepare: busybox-static is needed" >&2; return 1; }
  work=$(mktemp -d /tmp/dvp.XXXXXX)
  ctx=$work/ctx

  # Layer 1: the Debian fixture tree (os-release, dpkg status, passwd, /etc/localtime link…).
  # Layer 2: static busybox. Layer 3: files a later layer deletes. Layer 4: a whiteout
  # (rm /etc/remove-me) and an opaque directory (/opt/app removed and re-created).
  mkdir -p "$ctx/extra/etc" "$ctx/extra/opt/app"
  cp -a "$repo_root/fixtures/images/debian" "$ctx/debian"
  cp "$busybox" "$ctx/busybox"
  echo 'deleted in a later layer' >"$ctx/extra/etc/remove-me"
  echo 'kept' >"$ctx/extra/etc/keep-me"
  echo 'hidden by an opaque directory' >"$ctx/extra/opt/app/old"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY debian/ /
COPY busybox /bin/busybox
COPY extra/ /
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox rm /etc/remove-me && /bin/busybox rm -r /opt/app && /bin/busybox mkdir -p /opt/app && echo new >/opt/app/new"]
ENV LANG=C.UTF-8 TZ=Etc/UTC
LABEL org.dockvar.test=registry
CMD ["/bin/busybox", "sh"]
EOF
  # The second platform of the index: one small layer, an arm64 config.
  mkdir -p "$work/arm/etc"
  echo arm64 >"$work/arm/etc/arch"
  printf 'FROM scratch\nCOPY etc/ /etc/\n' >"$work/arm/Dockerfile"

  "$docker" build -q --network=none -t dockvar/registry-test:1 "$ctx" >/dev/null &&
    "$docker" build -q --network=none --platform linux/arm64/v8 -t dockvar/registry-test:arm64 "$work/arm" >/dev/null &&
    "$docker" save -o "$work/test.tar" dockvar/registry-test:1 &&
    "$docker" save -o "$work/arm.tar" dockvar/registry-test:arm64 || { rm -rf "$work"; return 1; }

  local -a tls=(--dest-tls-verify=false)
  skopeo copy -q "${tls[@]}" "docker-archive:$work/test.tar" "docker://$reg/dockvar/registry-test:1" &&
    # skopeo pushing to a registry swaps in the gzip blobs its blob info cache knows for the
    # same content, so the zstd layout is pushed with the distribution API directly.
    skopeo copy -q --format oci --dest-compress-format zstd \
      "docker-archive:$work/test.tar" "oci:$work/zstd:zstd" &&
    _dvp_push_oci_layout "$work/zstd" "$reg" dockvar/registry-test zstd &&
    skopeo copy -q "${tls[@]}" "docker-archive:$work/test.tar" "docker://$reg/dockvar/registry-multi:amd64" &&
    skopeo copy -q "${tls[@]}" "docker-archive:$work/arm.tar" "docker://$reg/dockvar/registry-multi:arm64" ||
    { rm -rf "$work"; return 1; }
  if [[ -n $auth ]]; then
    skopeo copy -q "${tls[@]}" --dest-creds "$DOCKVAR_TEST_REGISTRY_USER:$DOCKVAR_TEST_REGISTRY_PASSWORD" \
      "docker-archive:$work/test.tar" "docker://$auth/dockvar/registry-test:1" || { rm -rf "$work"; return 1; }
  fi

  # `docker manifest` reads each image's platform from its config and pushes a Docker
  # manifest list; skopeo converts that list to an OCI index.
  DOCKER_CONFIG=$work/docker-config "$docker" manifest create --insecure "$reg/dockvar/registry-multi:1" \
    "$reg/dockvar/registry-multi:amd64" "$reg/dockvar/registry-multi:arm64" >/dev/null &&
    DOCKER_CONFIG=$work/docker-config "$docker" manifest annotate "$reg/dockvar/registry-multi:1" \
      "$reg/dockvar/registry-multi:arm64" --variant v8 >/dev/null &&
    DOCKER_CONFIG=$work/docker-config "$docker" manifest push --insecure "$reg/dockvar/registry-multi:1" >/dev/null &&
    skopeo copy -q --all --format oci --src-tls-verify=false "${tls[@]}" \
      "docker://$reg/dockvar/registry-multi:1" "docker://$reg/dockvar/registry-multi:oci" ||
    { rm -rf "$work"; return 1; }

  rm -rf "$work"
  export DOCKVAR_TEST_REGISTRY_IMAGE=dockvar/registry-test:1
  export DOCKVAR_TEST_REGISTRY_IMAGE_ZSTD=dockvar/registry-test:zstd
  export DOCKVAR_TEST_REGISTRY_IMAGE_INDEX=dockvar/registry-multi:1
  export DOCKVAR_TEST_REGISTRY_IMAGE_OCI_INDEX=dockvar/registry-multi:oci
}
_dvp_prepare
