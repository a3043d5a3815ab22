"""FastAPI dependencies: reach the state loaded once at start-up."""

from __future__ import annotations

from fastapi import Request

from app.settings import Settings
from layers.store import Store


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def store_dep(request: Request) -> Store:
    return request.app.state.store
