"""FastAPI dependencies: reach the state loaded once at start-up."""

from __future__ import annotations

from fastapi import Request

from app.collections import CollectionRegistry, RasterRegistry, TileCache
from app.settings import Settings
from geo.engine import MemoryEngine
from layers.store import Store


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def store_dep(request: Request) -> Store:
    return request.app.state.store


def engine_dep(request: Request) -> MemoryEngine:
    return request.app.state.engine


def collections_dep(request: Request) -> CollectionRegistry:
    return request.app.state.collections


def rasters_dep(request: Request) -> RasterRegistry:
    return request.app.state.rasters


def tile_cache_dep(request: Request) -> TileCache:
    return request.app.state.tile_cache


def base_url(request: Request) -> str:
    """Absolute root of the API (honours a root_path behind a proxy), without a slash."""
    return str(request.base_url).rstrip("/")
