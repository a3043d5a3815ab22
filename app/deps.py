"""FastAPI dependencies: reach the state loaded at start-up.

All are ``async def``: they only read attributes, and FastAPI runs a plain ``def``
dependency in the thread pool (a thread hand-off per dependency per request).

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


async def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def request_snapshot(request: Request) -> Snapshot:
    """The request's snapshot (``FedminMiddleware``), else the current one."""
    snapshot = request.scope.get("state", {}).get(SNAPSHOT_KEY)
    return snapshot if snapshot is not None else request.app.state.serving.current


async def store_dep(request: Request) -> Store:
    return request_snapshot(request).store


async def engine_dep(request: Request) -> MemoryEngine:
    return request_snapshot(request).engine


async def collections_dep(request: Request) -> CollectionRegistry:
    return request_snapshot(request).collections


async def rasters_dep(request: Request) -> RasterRegistry:
    return request_snapshot(request).rasters


async def ranking_service_dep(request: Request) -> RankingService:
    return request_snapshot(request).rankings


async def tile_cache_dep(request: Request) -> TileCache:
    return request.app.state.tile_cache


async def base_url(request: Request) -> str:
    """Absolute root of the API, without a slash: ``FEDMIN_PUBLIC_URL`` when set, else
    the request's own (honouring a root_path behind a proxy; its Host has been checked
    against ``FEDMIN_ALLOWED_HOSTS`` by ``app.middleware``)."""
    public = request.app.state.settings.public_url
    return public if public is not None else str(request.base_url).rstrip("/")
