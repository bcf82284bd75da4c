# The ledger's image: the API (`serve`, the default) and the projection worker
# (`project --follow`); docker-compose.yml runs both from it.
#   docker build -t incentive-ledger .
#   docker run --init -p 127.0.0.1:8000:8000 -e LEDGER_TOKEN_SECRET_FILE=... incentive-ledger
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The user the ledger runs as: no login, no home, owns none of the code it runs.
RUN groupadd --system --gid 10001 ledger \
    && useradd --system --uid 10001 --gid ledger --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin ledger

WORKDIR /src

# 1. The dependencies alone, exactly as locked (every hash checked, nothing
#    resolved): this layer is rebuilt only when requirements.txt changes, not
#    on every change of the code.
COPY requirements.txt ./
RUN pip install --require-hashes --no-deps -r requirements.txt

# 2. The ledger itself, on top, without touching the dependencies.
COPY pyproject.toml README.md LICENSE cli.py ./
COPY ledger ledger
COPY policies policies
COPY projections projections
COPY presentation presentation
COPY demo demo
COPY service service
COPY api api
RUN pip install --no-deps . && incentive-ledger --version

# A working directory the ledger may write (a SQLite file, say); the code stays root's.
RUN install --directory --owner ledger --group ledger /data
WORKDIR /data

# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001

EXPOSE 8000

# Prints one line saying why (docker inspect shows it): the /health answer or the failure.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "api.healthcheck", "http://127.0.0.1:8000/health"]

CMD ["incentive-ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
