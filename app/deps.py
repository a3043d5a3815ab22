"""FastAPI dependencies: reach the state loaded at start-up.

Settings and the tile cache live for the whole process. Everything that comes from a
store build is read from the request's ``Snapshot`` (``app.state``): the one current when
the request started, so a request never mixes two builds while the store is switched.
"""

from __future__ import annotations

from fastapi import Request

from app.collections import CollectionRegistry, RasterRegistry, TileCache
from app.ranking_service import RankingService
from app.settings import Settings
from app.state import SNAPSHOT_KEY, Snapshot
from geo.engine import MemoryEngine
from layers.store import Store


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def snapshot_dep(request: Request) -> Snapshot:
    """The request's snapshot (``SnapshotMiddleware``), else the current one."""
    snapshot = request.scope.get("state", {}).get(SNAPSHOT_KEY)
    return snapshot if snapshot is not None else request.app.state.serving.current


def store_dep(request: Request) -> Store:
    return snapshot_dep(request).store


def engine_dep(request: Request) -> MemoryEngine:
    return snapshot_dep(request).engine


def collections_dep(request: Request) -> CollectionRegistry:
    return snapshot_dep(request).collections


def rasters_dep(request: Request) -> RasterRegistry:
    return snapshot_dep(request).rasters


def ranking_service_dep(request: Request) -> RankingService:
    return snapshot_dep(request).rankings


def tile_cache_dep(request: Request) -> TileCache:
    return request.app.state.tile_cache


def base_url(request: Request) -> str:
    """Absolute root of the API (honours a root_path behind a proxy), without a slash."""
    return str(request.base_url).rstrip("/")
