# syntax=docker/dockerfile:1.7
#
# hero-reward server image: GPU reward model + sandboxed verifier, served by `hero-reward serve`.
#
#   docker build -t hero-reward:0.1.0 .
#   docker run --gpus all -p 8000:8000 -e HERO_RM_MODEL=Skywork/Skywork-Reward-V2-Qwen3-8B \
#       -v hf-cache:/cache/huggingface hero-reward:0.1.0
#
# Base image. The torch wheels on PyPI bundle their own CUDA user-space (cuda-toolkit / nvidia-*-cu13
# wheels: cudart, cuBLAS, cuDNN, NCCL), so the image needs no CUDA toolkit or cuDNN of its own: only
# the driver, which the NVIDIA container toolkit injects from the node. The `-base` flavour is therefore
# enough (runtime/cudnn flavours would add gigabytes of duplicate libraries). We still start from
# nvidia/cuda rather than a plain distro because it sets NVIDIA_VISIBLE_DEVICES /
# NVIDIA_DRIVER_CAPABILITIES and NVIDIA_REQUIRE_CUDA, so a node whose driver is too old for the
# bundled CUDA fails at container start with a clear message instead of torch silently seeing no GPU.
# Keep the CUDA major of BASE_IMAGE equal to the one of the torch wheel that gets installed:
#   * default: torch from PyPI (2.14+) is built for CUDA 13  -> nvidia/cuda:13.x-base, driver >= 580.
#   * older drivers (R550/R570): --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
# Both stages must use the same image: the virtual environment's interpreter is a symlink to
# /usr/bin/python3. For production, pin the base by digest (nvidia/cuda:13.0.1-base-ubuntu24.04@sha256:...).
ARG BASE_IMAGE=nvidia/cuda:13.0.1-base-ubuntu24.04

# ---------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder

# Set to a PyTorch wheel index (e.g. https://download.pytorch.org/whl/cu128) to take torch from there
# instead of PyPI; must match the CUDA major of BASE_IMAGE (see above).
ARG TORCH_INDEX_URL=""

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Unpinned on purpose: the distro's python3 tracks the base image's security updates; the base image
# itself is the pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "$VIRTUAL_ENV"

WORKDIR /src

# Dependency layer, cached until pyproject.toml changes: read the build requirements, the base
# dependencies and the `server` extra straight from pyproject.toml and install them without the
# project. Editing the source below does not re-download torch.
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; m = tomllib.load(open("pyproject.toml", "rb")); p = m["project"]; \
print("\n".join(m["build-system"]["requires"] + p["dependencies"] + p["optional-dependencies"]["server"]))' \
    > /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch([<>=!~ ;]|$)' /tmp/requirements.txt)"; \
    fi \
    && pip install -r /tmp/requirements.txt

# The project itself: small, rebuilt on every source change. No build isolation: setuptools and wheel
# are already in the venv (from build-system.requires above) and every dependency is satisfied, so this
# step downloads nothing. pip check fails the build on a broken dependency set. (DL3013 wants pinned
# versions; this is the local project, whose dependencies the layer above installed.)
COPY README.md ./
COPY client ./client
COPY service ./service
# hadolint ignore=DL3013
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-build-isolation ".[server]" \
    && pip check

# ---------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ARG APP_UID=10001

# tini is PID 1: it forwards SIGTERM to the server (which then drains for HERO_DRAIN_TIMEOUT_S) and
# reaps any orphaned verifier worker processes, which a Python PID 1 would leave as zombies.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid "$APP_UID" hero \
    && useradd --system --uid "$APP_UID" --gid hero --home-dir /home/hero --create-home --shell /usr/sbin/nologin hero \
    && mkdir -p /cache/huggingface /home/hero/.cache \
    && chown -R "$APP_UID:$APP_UID" /cache /home/hero

COPY --from=builder /opt/venv /opt/venv

# HF_HOME: model downloads go to /cache/huggingface, the path the Helm chart mounts its model-cache
# volume on (PVC, existing claim or emptyDir), so a restart does not re-download a 16 GB reward model.
# XDG_CACHE_HOME / TRITON_CACHE_DIR: small compile caches; the chart mounts an emptyDir here so the root
# filesystem can stay read-only. HERO_HOST: a container must listen on all interfaces.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/hero \
    HF_HOME=/cache/huggingface \
    XDG_CACHE_HOME=/home/hero/.cache \
    TRITON_CACHE_DIR=/home/hero/.cache/triton \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HERO_HOST=0.0.0.0 \
    HERO_PORT=8000

WORKDIR /home/hero
# Numeric UID so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

# Docker/Podman only; Kubernetes ignores HEALTHCHECK and uses the chart's probes. Liveness, not
# readiness: /health answers while the model is still loading. No curl in the image, so plain Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('HERO_PORT', '8000'), timeout=4)"]

# Exec form throughout: no shell in between, so SIGTERM reaches tini and then the server.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["hero-reward", "serve"]
