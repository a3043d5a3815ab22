"""Every setting fedmin reads, in one typed place (environment prefix ``FEDMIN_``).

Validated when the app or the CLI starts, so a bad value fails at once with a message
rather than deep inside a request.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.caches import MIB, EngineBudgets

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEDMIN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(REPO_ROOT / "data", description="Holds raw/, stores/ and store.")
    data_mirror: Path | None = Field(
        None, description="Local mirror of the sources (e.g. ../shared/data); else official URLs."
    )
    offline: bool = Field(False, description="Never download; use the mirror and raw dir only.")

    # --- fetching official sources (`fedmin data fetch`, layers/sources/) ---------------
    source_overrides: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Layers pointed at another endpoint of the same protocol, as "
        "LAYER=URL pairs separated by commas (or a JSON object), e.g. "
        "blm_claims=https://mirror.example/arcgis/rest/services/MiningClaims/MapServer; "
        "`fedmin data fetch --source` adds to them. Recorded in fetch.json and the manifest.",
    )
    fetch_timeout_s: float = Field(60.0, gt=0, description="Per connect/read, not per file.")
    fetch_retries: int = Field(
        4, ge=0, description="Retries of a request after a timeout, 429 or 5xx."
    )
    fetch_backoff_s: float = Field(
        2.0, ge=0, description="First retry delay, doubled each time (or the Retry-After)."
    )
    fetch_max_backoff_s: float = Field(120.0, ge=0, description="Longest wait between tries.")
    fetch_request_interval_s: float = Field(
        0.5, ge=0, description="Politeness: at least this long between two requests."
    )
    arcgis_page_size: int | None = Field(
        None,
        ge=1,
        description="ArcGIS pages of at most this many features (default: the "
        "layer's maxRecordCount).",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    engine: Literal["memory", "dask"] = "memory"
    dask_scheduler: str | None = Field(None, description="tcp://host:port; None = LocalCluster")

    default_page_limit: int = Field(100, ge=1)
    max_page_limit: int = Field(10_000, ge=1)
    max_features_per_tile: int = Field(20_000, ge=1)
    max_points_per_tile: int = Field(
        200,
        ge=1,
        description="Below `full_points_zoom`, a point collection's tile keeps at most this "
        "many points (the most developed first), so a national view draws a few thousand "
        "markers, not every deposit.",
    )
    full_points_zoom: int = Field(
        10, ge=0, le=24, description="From this zoom on, point tiles are not thinned."
    )
    inline_tile_features: int = Field(
        16,
        ge=0,
        description="A vector tile with at most this many features is encoded on the event "
        "loop (well under a millisecond; a thread pool hand-off costs 0.1 to 0.4 ms); "
        "larger ones are encoded in the thread pool.",
    )
    min_tile_zoom: int = Field(0, ge=0, le=24)
    max_tile_zoom: int = Field(16, ge=0, le=24)
    tile_cache_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="Bytes of rendered tiles kept in memory per process (LRU; 0: none).",
    )
    max_unpaged_bbox_deg2: float = Field(400.0, gt=0)
    max_ranking_cells: int = Field(200_000, ge=1)
    ranking_time_budget_s: float = Field(
        60.0,
        gt=0,
        description="Longest a ranking or shortlist request waits for its answer, counted "
        "from its arrival (queued time included); past it: 503 with Retry-After.",
    )
    ranking_cache_bytes: int = Field(
        256 * MIB,
        ge=0,
        description="Finished rankings the HTTP layer keeps (least recently used evicted "
        "beyond this), and a quarter of it again for their encoded responses; a national "
        "ranking at 25 km is about 23 MiB. The engine's caches have their own budgets.",
    )
    ranking_workers: int | None = Field(
        None,
        ge=1,
        description="Threads of the rankings' own executor; None: the cores this process "
        "may use less one (kept for the event loop), at least one.",
    )
    startup_threads: int | None = Field(
        None,
        ge=1,
        description="Threads building the eager collections at start-up (reading, decoding "
        "and indexing release the GIL); None: the cores this process may use.",
    )
    background_features_rows: int = Field(
        50_000,
        ge=0,
        description="A collection of at least this many rows whose encoded GeoJSON "
        "features are not beside the store yet (a first start) encodes them on a "
        "background thread once the server is up; until then its item pages wait. Later "
        "starts map the file that encoding wrote. A very large value encodes every "
        "collection during start-up.",
    )
    ranking_queue: int = Field(
        4,
        ge=0,
        description="Ranking computations that may wait for a worker; one more is refused "
        "at once with a 503 and Retry-After (cached rankings are always answered).",
    )
    gzip_min_bytes: int = Field(
        4096,
        ge=0,
        description="Responses of at least this many bytes (JSON, GeoJSON, HTML, CSV, KML; "
        "not tiles, GeoPackages or zips) are gzip-compressed when the request's "
        "Accept-Encoding allows it; 0: never compress.",
    )
    gzip_level: int = Field(
        5, ge=1, le=9, description="zlib level of that compression (1 fastest, 9 smallest)."
    )
    max_request_body_bytes: int = Field(
        1_048_576, ge=0, description="Larger request bodies are refused with a 413."
    )
    default_cell_km: float = Field(5.0, gt=0)
    overview_cell_km: float = Field(
        25.0,
        gt=0,
        description="Cell size of the national views: the ranked_cells collection (the "
        "default ranking of every deposit) and the map's first ranking; at the default 5 km "
        "the national store needs more than 200,000 cells.",
    )
    min_cell_km: float = Field(1.0, gt=0)
    max_cell_km: float = Field(100.0, gt=0)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated, e.g. "
        "https://a.example,https://b.example, or *); empty: same origin only.",
    )
    public_url: str | None = Field(
        None,
        description="The API's public base URL (e.g. https://fedmin.example.org/api): every "
        "link is made from it and the Host header is not used. Unset: links are made from "
        "the request, whose Host must then be one of FEDMIN_ALLOWED_HOSTS.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="Host names a request may name in its Host header when "
        "FEDMIN_PUBLIC_URL is unset (comma-separated; '*.example.org' for subdomains, '*' "
        "for any); another host is a 400, so a forged Host never reaches a link.",
    )
    store_check_interval_s: float = Field(
        2.0,
        ge=0,
        description="How often the server checks whether data/store points at a new build "
        "and switches to it; 0: never (serve the build opened at start-up).",
    )
    fast_paths: bool = Field(
        True,
        description="Parse the query of item pages and vector tiles by hand when it is in "
        "plain form (app/fastpath.py); false: FastAPI validates every request (same answers).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of fedmin's loggers; INFO logs one JSON line per request."
    )

    mvt_extent: int = Field(4096, ge=256, description="Vector-tile grid size (MVT extent).")
    mvt_buffer: int = Field(
        64, ge=0, description="Vector-tile buffer beyond the tile edge, in MVT extent units."
    )
    tile_max_age_s: int = Field(3600, ge=0, description="Cache-Control max-age of tiles.")
    prospectivity_pixel_m: float = Field(
        1000.0,
        gt=0,
        description="Surface pixel size (m); coarsened in 250 m steps when a filter's extent "
        "would exceed the surface's pixel limit (national deposits: about 1.25 km).",
    )
    prospectivity_bandwidth_m: float = Field(
        5000.0, gt=0, description="Gaussian kernel standard deviation of the surface (m)."
    )
    prospectivity_min_value: float = Field(
        0.02, ge=0, le=1, description="Surface values below this render transparent."
    )
    prospectivity_cache_bytes: int = Field(
        1024 * MIB,
        ge=0,
        description="Prospectivity COGs kept on disk per store build (least recently used "
        "evicted once the files pass this).",
    )
    prospectivity_resolved_bytes: int = Field(
        4 * MIB, ge=0, description="Memo of each filter's resolved surface file (in memory)."
    )
    gdal_cache_mb: int = Field(
        200,
        ge=8,
        le=99_999,
        description="GDAL's raster block cache (GDAL_CACHEMAX, in MB), set when the app is "
        "created. GDAL's own default is 5 % of the machine's memory, which writing the "
        "national prospectivity surface filled (1.2 GB on a 24 GB machine).",
    )
    prospectivity_prewarm: bool = Field(
        True,
        description="Compute the default filter's surface in the background at start-up, so "
        "the map's first prospectivity tiles are cut from a ready COG.",
    )

    # Engine memory budgets (bytes), passed to geo.caches.EngineBudgets.
    engine_components_cache_bytes: int = Field(
        512 * MIB,
        ge=0,
        description="Weight-independent ranking components kept per (filter, grid): a "
        "weights-only change reuses them.",
    )
    engine_grids_cache_bytes: int = Field(
        512 * MIB,
        ge=0,
        description="Store-wide base grids per (cell size, shape, bandwidth), with their "
        "per-cell land shares, distances and development.",
    )
    engine_evidence_cache_bytes: int = Field(
        64 * MIB, ge=0, description="Evidence weights per filter (rankings and surfaces)."
    )
    engine_rankings_cache_bytes: int = Field(
        256 * MIB, ge=0, description="Finished rankings (scores, order, explanations)."
    )
    engine_grid_files_bytes: int = Field(
        1024 * MIB,
        ge=0,
        description="Store-wide base grids and their cell statics kept on disk beside the "
        "store, so a restarted server ranks without recomputing them; the least recently "
        "used files are deleted beyond this.",
    )
    engine_component_files_bytes: int = Field(
        2048 * MIB,
        ge=0,
        description="Ranking components per (filter, grid) kept on disk beside the store, "
        "so a restarted server (or another worker) answers a filter it has ranked before "
        "without recomputing it (the national overview: 6 s); 0 turns them off.",
    )
    engine_base_grid_max_cells: int = Field(
        400_000,
        ge=0,
        description="A store-wide base grid with more cells is not built; each filter then "
        "builds its own grid (small cells over national data).",
    )

    def engine_budgets(self) -> EngineBudgets:
        return EngineBudgets(
            components_bytes=self.engine_components_cache_bytes,
            grids_bytes=self.engine_grids_cache_bytes,
            evidence_bytes=self.engine_evidence_cache_bytes,
            rankings_bytes=self.engine_rankings_cache_bytes,
            base_grid_max_cells=self.engine_base_grid_max_cells,
            grid_files_bytes=self.engine_grid_files_bytes,
            component_files_bytes=self.engine_component_files_bytes,
        )

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @field_validator("source_overrides", mode="before")
    @classmethod
    def _split_overrides(cls, value: object) -> object:
        """``a=URL,b=URL`` or a JSON object; a pair without ``=`` is an error."""
        if isinstance(value, str):
            return parse_overrides(value, "FEDMIN_SOURCE_OVERRIDES")
        return value

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Comma-separated, or a JSON list (pydantic-settings' usual form for lists)."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        """An origin is ``scheme://host[:port]`` exactly as browsers send it, or ``*``."""
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ValueError(
                    f"FEDMIN_CORS_ORIGINS: {origin!r} is not an origin like https://example.org"
                )
        return origins

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, url: str | None) -> str | None:
        """An absolute http(s) URL; kept without a trailing slash."""
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(f"FEDMIN_PUBLIC_URL: {url!r} is not a URL like https://example.org")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.default_page_limit > self.max_page_limit:
            raise ValueError("default_page_limit must not exceed max_page_limit")
        if self.min_tile_zoom > self.max_tile_zoom:
            raise ValueError("min_tile_zoom must not exceed max_tile_zoom")
        if not self.min_cell_km <= self.default_cell_km <= self.max_cell_km:
            raise ValueError("default_cell_km must lie between min_cell_km and max_cell_km")
        if not self.min_cell_km <= self.overview_cell_km <= self.max_cell_km:
            raise ValueError("overview_cell_km must lie between min_cell_km and max_cell_km")
        if self.data_mirror is not None and not self.data_mirror.is_dir():
            raise ValueError(f"FEDMIN_DATA_MIRROR {self.data_mirror} is not a directory")
        return self


def parse_overrides(text: str, where: str) -> dict[str, str]:
    """``LAYER=URL[,LAYER=URL]`` (or a JSON object) -> {layer: url}; checks each URL."""
    if text.lstrip().startswith("{"):
        pairs = json.loads(text)
    else:
        pairs = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            layer, sep, url = part.partition("=")
            if not sep or not layer.strip():
                raise ValueError(f"{where}: expected LAYER=URL, got {part!r}")
            pairs[layer.strip()] = url.strip()
    for layer, url in pairs.items():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{where}: {layer}={url!r} is not an http(s) URL")
    return pairs


@cache
def get_settings() -> Settings:
    return Settings()
