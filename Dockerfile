# The learning-twin image: the `twin` command line with every dependency (board emulator,
# shadowing twin, ledger). Built by docker-compose.yml for the `board` and `shadow` services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/home/twin/numba-cache

WORKDIR /app
COPY pyproject.toml README.md ./
COPY twin ./twin
COPY hw_bridge ./hw_bridge
COPY schemas ./schemas
RUN pip install --no-cache-dir . \
    && useradd --create-home twin
USER twin
# Compile the numba kernels into the image (as `make warm` does): a container starts in seconds
# instead of spending about a minute compiling, well within the board's 20 s start period.
RUN mkdir -p "$NUMBA_CACHE_DIR" \
    && TWIN_DB_URL=off twin train --steps 2 --json > /dev/null \
    && TWIN_DB_URL=off twin simulate --duration 0.002 --json > /dev/null \
    && TWIN_DB_URL=off twin simulate --duration 0.002 --engine agents --json > /dev/null \
    && TWIN_DB_URL=off twin shadow --emulate --duration 0.01 --no-db --json > /dev/null

ENTRYPOINT ["twin"]
CMD ["--help"]
