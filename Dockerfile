# Minqing web / worker / beat image (docker-compose.yml uses it for all four services).

# The console's chart and map libraries (ECharts, Leaflet + markercluster), from the project's own lock file (served by the app: no CDN),
# and the collectors' field app (mobile/) bundled by esbuild into build/mobile (served at /app/).
FROM node:20-bookworm-slim AS node-packages
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY mobile ./mobile
COPY scripts/common.sh scripts/build-mobile.sh ./scripts/
RUN bash scripts/build-mobile.sh

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPATIALITE_LIBRARY_PATH=mod_spatialite \
    PYTHONPATH=/app

# SpatiaLite, so the image can also run on the embedded database (no PostGIS); the
# PostgreSQL client tools for `minqing backup` / `minqing restore` on PostGIS.
# Not pinned (DL3008): bookworm's security updates must reach the image on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-mod-spatialite postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README*.md ./
COPY geo ./geo
COPY sync ./sync
COPY server ./server
COPY migrations ./migrations
COPY --from=node-packages /build/node_modules/echarts/dist/echarts.min.js ./node_modules/echarts/dist/
COPY --from=node-packages /build/node_modules/leaflet/dist ./node_modules/leaflet/dist
COPY --from=node-packages /build/node_modules/leaflet.markercluster/dist ./node_modules/leaflet.markercluster/dist
COPY --from=node-packages /build/build/mobile ./build/mobile
# The sources stay in /app and PYTHONPATH=/app imports them from here, so the app finds
# /app/migrations and /app/instance next to its package (server/config.py: PROJECT_ROOT).
RUN pip install . \
 && useradd --system --create-home --uid 10001 --user-group minqing \
 && mkdir -p /app/instance/media \
 && chown -R minqing:minqing /app/instance

USER 10001:10001
EXPOSE 8000
ENV MINQING_BIND=0.0.0.0:8000
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5).status == 200 else 1)"]
CMD ["gunicorn", "-c", "python:server.gunicorn_conf", "server.wsgi:app"]
