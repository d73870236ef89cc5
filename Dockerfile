# syntax=docker/dockerfile:1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BOT_DATA_DIR=/data

WORKDIR /app
RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot /data
COPY pyproject.toml hatch_build.py README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
# Editable install keeps locales/ next to the package, where bot.i18n looks for catalogs;
# the build hook compiles the .po files to .mo during this step.
RUN pip install -e . && chown -R bot /app/locales

USER bot
VOLUME ["/data"]
# Same start command as the README; TELEGRAM_BOT_TOKEN comes from the environment.
ENTRYPOINT ["python", "-m", "bot"]
