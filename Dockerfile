# One image for the API, the worker and migrations; the command picks the role.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY clr clr
COPY api api
COPY worker worker
COPY dispatch dispatch
COPY store store
COPY cli cli
COPY migrations migrations
RUN pip install .
RUN useradd --create-home clr && mkdir -p /var/lib/clr && chown clr /var/lib/clr
USER clr
ENV CLR_HOME=/var/lib/clr
EXPOSE 8000
CMD ["clr-service", "api", "--host", "0.0.0.0", "--port", "8000"]
