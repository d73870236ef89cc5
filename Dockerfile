# syntax=docker/dockerfile:1
# Two stages: the builder makes the wheel (the build hook compiles the catalogs into it) and
# installs it with its dependencies, pinned and hash-checked from requirements.lock, into a
# virtual environment; the final image gets that environment and nothing else (no source,
# no build tools, no pip cache). Runs as a non-root user and works with a read-only root
# filesystem: everything the bot writes goes to /data (see README, "Docker").
#
# PYTHON_IMAGE: any Debian-like image with Python 3.11+ on PATH as `python` (and venv);
# .ci/image builds with a local one, as no registry is reachable there.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/bot
COPY requirements.lock ./
RUN /opt/bot/bin/pip install --require-hashes --only-binary=:all: -r requirements.lock
COPY pyproject.toml hatch_build.py README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
RUN /opt/bot/bin/pip wheel --no-deps --wheel-dir /dist . \
    && /opt/bot/bin/pip install --no-deps --no-index /dist/*.whl \
    && /opt/bot/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/bot/bin:$PATH \
    BOT_DATA_DIR=/data \
    HTTP_LISTEN=0.0.0.0:8080
RUN groupadd --gid 10001 bot \
    && useradd --uid 10001 --gid bot --home-dir /data --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir /data && chown bot:bot /data && chmod 0700 /data
COPY --from=builder /opt/bot /opt/bot
USER bot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz on METRICS_LISTEN's port if set, else HTTP_LISTEN's: 200 once serving updates, 503
# with the reason before.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = (os.environ.get('METRICS_LISTEN') or os.environ['HTTP_LISTEN']).rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=3)"]
# Same start command as the README; TELEGRAM_BOT_TOKEN comes from the environment.
ENTRYPOINT ["python", "-m", "bot"]
