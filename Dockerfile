# One image for the API, the relay, the workers and migrations; the command picks the role.
# Build: docker build -t clr-service .   (the CUDA build of torch comes from PyPI: the same image serves GPU nodes)

# Stage 1: the wheel, from exactly the files copied here (tests/deploy builds and runs the same wheel).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY clr clr
COPY api api
COPY worker worker
COPY dispatch dispatch
COPY store store
COPY cli cli
COPY client client
COPY migrations migrations
RUN pip wheel --no-deps --wheel-dir /dist .

# Stage 2: the wheel and its dependencies only; no source tree, no build tools.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# torch==2.14.1 on x86_64 PyPI is the CUDA build; its nvidia-* wheels bring the CUDA runtime with it.
COPY --from=build /dist /dist
RUN pip install /dist/*.whl && rm -r /dist
# Mount points owned by the service user, so named volumes mounted there start writable by it.
RUN useradd --create-home --uid 10001 clr \
 && mkdir -p /var/lib/clr /artifacts /data /weights \
 && chown clr /var/lib/clr /artifacts
USER clr
WORKDIR /home/clr
ENV CLR_HOME=/var/lib/clr
EXPOSE 8000
# For the API role; compose turns it off for workers, migrate and flower.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["clr-service", "api", "--host", "0.0.0.0", "--port", "8000"]
