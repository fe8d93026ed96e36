# syntax=docker/dockerfile:1.7
# GridOS container image: wheels are built in the first stage, the runtime stage only installs them.
# Built and pushed by .github/workflows/ci-cd.yml (buildx); there is no Docker engine in the dev sandbox.
#
# The base image is pinned by digest (python:3.11.13-slim-bookworm, multi-arch index digest); bump tag and
# digest together (a Dependabot/Renovate docker update does exactly that; see docs/delivery.md).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN pip install --no-cache-dir uv==0.13.9
# Dependencies first (cached while only the source changes): exactly the locked versions, hashes checked.
# Runtime only (--no-dev, no extras): gridctl's `tooling` extra (hcl2, kubernetes-validate, regopy, ...)
# is not in the image; `gridctl --help` and its delivery commands still work without it. The `iec104`
# extra (c104, GPL-3.0) is left out too: `--build-arg EXTRAS=iec104` builds an image with it, whose
# licence terms are then GPL-3.0's (docs/adr/0055).
ARG EXTRAS=""
COPY pyproject.toml uv.lock README.md ./
RUN uv export --frozen --no-dev --no-emit-project ${EXTRAS:+--extra "$EXTRAS"} --format requirements-txt \
      --output-file /tmp/requirements.txt \
    && pip wheel --no-cache-dir --require-hashes --only-binary=:all: --wheel-dir /wheels -r /tmp/requirements.txt
COPY src ./src
RUN uv build --wheel --out-dir /wheels

FROM ${PYTHON_IMAGE} AS runtime
ARG EXTRAS=""
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/gridos/gridos
LABEL org.opencontainers.image.title="gridos" \
      org.opencontainers.image.description="GridOS SCADA telemetry service" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/gridos/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRIDOS_HOST=0.0.0.0 \
    GRIDOS_PORT=8000 \
    GRIDOS_DATA_DIR=/var/lib/gridos/data \
    GRIDOS_BUILD_REVISION=${REVISION}
# No compiler and no build tool here: only the wheels of the first stage, installed offline. pip itself is
# removed from the virtual environment afterwards so the image carries no installer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/gridos \
    && /opt/gridos/bin/pip install --no-cache-dir --no-index --find-links /wheels "gridos${EXTRAS:+[$EXTRAS]}" \
    && /opt/gridos/bin/pip uninstall --yes pip \
    && groupadd --gid 10001 gridos \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gridos \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gridos
WORKDIR /var/lib/gridos
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"]
# `gridos serve` by default; the migration Job runs the same image with args ["migrate"].
ENTRYPOINT ["gridos"]
CMD ["serve"]
