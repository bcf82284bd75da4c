# The ledger's image: the API (`serve`) and the projection worker (`project --follow`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md cli.py ./
COPY ledger ledger
COPY policies policies
COPY projections projections
COPY api api
RUN pip install --no-cache-dir . && useradd --system --uid 10001 ledger
USER ledger
EXPOSE 8000
CMD ["incentive-ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
