# imagegate: a multi-stage image, run as a non-root user, with a health check on /healthz.
#   docker build -t imagegate .
#   docker build --build-arg EXTRAS='[screening]' -t imagegate .   # with local output screening (NudeNet)
#   docker run -p 8000:8000 -v imagegate-data:/var/lib/imagegate imagegate
# (Docker is not available where this project is developed: this file is written, not run, there.)

FROM python:3.12-slim AS build
WORKDIR /src
RUN python -m venv /opt/imagegate
COPY pyproject.toml README.md ./
COPY src ./src
ARG EXTRAS=""
RUN /opt/imagegate/bin/pip install --no-cache-dir ".${EXTRAS}"

FROM python:3.12-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/imagegate imagegate
COPY --from=build /opt/imagegate /opt/imagegate
ENV PATH=/opt/imagegate/bin:$PATH \
    IMAGEGATE_DATA_DIR=/var/lib/imagegate \
    IMAGEGATE_HOST=0.0.0.0 \
    IMAGEGATE_PORT=8000 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER imagegate
WORKDIR /var/lib/imagegate
VOLUME ["/var/lib/imagegate"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["imagegate", "serve", "--workers", "2"]
