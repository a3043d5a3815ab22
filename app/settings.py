"""Every setting fedmin reads, in one typed place (environment prefix ``FEDMIN_``).

Validated when the app or the CLI starts, so a bad value fails at once with a message
rather than deep inside a request.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEDMIN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(REPO_ROOT / "data", description="Holds raw/, stores/ and store.")
    data_mirror: Path | None = Field(
        None, description="Local mirror of the sources (e.g. ../shared/data); else official URLs."
    )
    offline: bool = Field(False, description="Never download; use the mirror and raw dir only.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    engine: Literal["memory", "dask"] = "memory"
    dask_scheduler: str | None = Field(None, description="tcp://host:port; None = LocalCluster")

    default_page_limit: int = Field(100, ge=1)
    max_page_limit: int = Field(10_000, ge=1)
    max_features_per_tile: int = Field(20_000, ge=1)
    min_tile_zoom: int = Field(0, ge=0, le=24)
    max_tile_zoom: int = Field(16, ge=0, le=24)
    tile_cache_entries: int = Field(2048, ge=0)
    max_unpaged_bbox_deg2: float = Field(400.0, gt=0)
    max_ranking_cells: int = Field(200_000, ge=1)
    ranking_time_budget_s: float = Field(60.0, gt=0)
    ranking_cache_entries: int = Field(16, ge=1, description="Rankings kept in the LRU.")
    ranking_workers: int = Field(2, ge=1, description="Threads computing rankings.")
    max_request_body_bytes: int = Field(1_048_576, ge=0)
    default_cell_km: float = Field(5.0, gt=0)
    min_cell_km: float = Field(1.0, gt=0)
    max_cell_km: float = Field(100.0, gt=0)
    cors_origins: list[str] = Field(default_factory=list)

    mvt_extent: int = Field(4096, ge=256, description="Vector-tile grid size (MVT extent).")
    mvt_buffer: int = Field(
        64, ge=0, description="Vector-tile buffer beyond the tile edge, in MVT extent units."
    )
    tile_max_age_s: int = Field(3600, ge=0, description="Cache-Control max-age of tiles.")
    prospectivity_pixel_m: float = Field(1000.0, gt=0, description="Surface pixel size (m).")
    prospectivity_bandwidth_m: float = Field(
        5000.0, gt=0, description="Gaussian kernel standard deviation of the surface (m)."
    )
    prospectivity_min_value: float = Field(
        0.02, ge=0, le=1, description="Surface values below this render transparent."
    )

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.default_page_limit > self.max_page_limit:
            raise ValueError("default_page_limit must not exceed max_page_limit")
        if self.min_tile_zoom > self.max_tile_zoom:
            raise ValueError("min_tile_zoom must not exceed max_tile_zoom")
        if not self.min_cell_km <= self.default_cell_km <= self.max_cell_km:
            raise ValueError("default_cell_km must lie between min_cell_km and max_cell_km")
        if self.data_mirror is not None and not self.data_mirror.is_dir():
            raise ValueError(f"FEDMIN_DATA_MIRROR {self.data_mirror} is not a directory")
        return self


@cache
def get_settings() -> Settings:
    return Settings()
