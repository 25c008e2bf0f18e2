# A small image that runs `smm serve` (API + web pages + publisher) on SQLite in the /data volume.
# For PostgreSQL set SMM_DATABASE_URL; for more publishers run the same image with `smm worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SMM_HOST=0.0.0.0 \
    SMM_PORT=8000 \
    SMM_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY app ./app
COPY connectors ./connectors
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app smm \
    && mkdir -p /data && chown smm /data

USER smm
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"SMM_PORT\",\"8000\")}/healthz', timeout=4)"
CMD ["smm", "serve"]
