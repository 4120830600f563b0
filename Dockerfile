# syntax=docker/dockerfile:1
# minio-s3-mirror: the worker as a small, non-root image whose root filesystem can be read-only.
#
#   docker build -t minio-s3-mirror .
#   docker run --rm --stop-timeout 60 -e MINIO_URL=... -e BUCKET_PAIR=minio/src:aws/dst ... \
#     minio-s3-mirror --dry-run
#
# The base is pinned to an exact Python and Debian release; pin it further by digest
# (python:3.12.12-slim-bookworm@sha256:...) where builds must be bit-for-bit repeatable.
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

# Builder: the project's wheel and the wheels of its dependencies, as pyproject.toml asks,
# at the exact versions of constraints.txt (scripts/lock-image.sh), so that two builds of
# one commit get the same packages.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY mirror/ ./mirror/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt .

# Final: a virtual environment without pip, filled from the builder's wheels through a bind
# mount, so neither the wheels nor any cache or build tool end up in a layer.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
# The image's own Python by its path: with /opt/venv/bin first on PATH, a bare `python`
# would be the new environment's, which has no pip, once the shell looks it up again.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    /usr/local/bin/python -m venv --without-pip /opt/venv \
    && /usr/local/bin/python -m pip --python /opt/venv/bin/python install --no-cache-dir \
        --no-index --find-links=/wheels /wheels/minio_s3_mirror-*.whl \
    && /usr/local/bin/python -m pip uninstall --yes --no-cache-dir pip \
    && groupadd --system --gid 10001 mirror \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin mirror
# A numeric user, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
WORKDIR /tmp
# Exec form: the console script's Python is PID 1 and receives SIGTERM itself; the worker
# handles it (finishes or aborts the transfers in flight, logs its summary, exits 143).
ENTRYPOINT ["minio-s3-mirror"]
