# The learning-twin image: the `twin` command line with every dependency (board emulator,
# shadowing twin, ledger). Built by docker-compose.yml for the `board` and `shadow` services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache

WORKDIR /app
COPY pyproject.toml README.md ./
COPY twin ./twin
COPY hw_bridge ./hw_bridge
COPY schemas ./schemas
RUN pip install --no-cache-dir . \
    && useradd --create-home twin
USER twin

ENTRYPOINT ["twin"]
CMD ["--help"]
