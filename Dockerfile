# fedmin: the API, the tiles and the map in one image.
#
#   docker build -t fedmin .
#   docker run -p 8000:8000 -v fedmin-data:/data fedmin                  # official URLs
#   docker run -p 8000:8000 -v fedmin-data:/data \
#       -v "$PWD/../shared/data:/mirror:ro" -e FEDMIN_DATA_MIRROR=/mirror fedmin   # local mirror
#
# Air-gapped with a mirror: add -e FEDMIN_OFFLINE=1 (optional sources are then recorded as
# absent instead of tried). Another port: -e FEDMIN_PORT=9000 (the health check follows it).
#
# The data is provisioned at the first start (`fedmin data fetch && fedmin data build`, both
# idempotent: later starts verify checksums and skip the build when nothing changed) into
# FEDMIN_DATA_DIR=/data, a volume. GDAL, PROJ and GEOS come inside the pyogrio, rasterio,
# pyproj and shapely wheels, so the image needs no system GDAL.
#
# The source tree keeps its layout under /app (editable install): layers/reference.py reads
# the committed reference tables from <repo root>/data/*.csv, i.e. /app/data, which is not
# the volume (/data).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- 1. the map's browser assets, from the committed package-lock.json -------------------
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
# Same flags as app/map/vendor.py: exact locked versions, no package install scripts.
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# --- 2. the Python dependencies in a venv, then the source (editable) ---------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first, from pyproject.toml alone, so editing the source reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY . /app
# --no-deps: everything is installed above; -e keeps /app's layout (see the header).
RUN pip install --no-deps -e /app \
    && python -m compileall -q /app/app /app/geo /app/layers
COPY --from=assets /src/node_modules /tmp/node_modules
# Copies exactly the files app/map/assets.py lists into app/static/vendor/.
RUN python -c "from pathlib import Path; from app.map.vendor import copy_assets; copy_assets(Path('/tmp/node_modules'))" \
    && rm -rf /tmp/node_modules

# --- 3. the runtime: slim Python, the venv, the source tree, a non-root user --------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FEDMIN_DATA_DIR=/data \
    FEDMIN_HOST=0.0.0.0 \
    FEDMIN_PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home fedmin \
    && mkdir /data \
    && chown fedmin:fedmin /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
# Numeric, so the host and Kubernetes' runAsNonRoot can resolve it (the user fedmin).
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
# The first start downloads and builds the data before /health answers: a long start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('FEDMIN_PORT', '8000'), timeout=4)"]
# Extra arguments (`docker run fedmin --port 9000`) go to `fedmin serve`.
ENTRYPOINT ["/bin/sh", "-c", "fedmin data fetch --quiet && fedmin data build --quiet && exec fedmin serve --host 0.0.0.0 \"$@\"", "fedmin"]
CMD []
