"""TiTiler's COG tiler as a bare app: the baseline of ``bench/raster_tiles.py``.

Only ``titiler.core``'s ``TilerFactory`` under ``/cog`` (what ``titiler.application``
mounts there too) with its exception handlers and no middleware: the same rio-tiler
reads fedmin does.
"""

from __future__ import annotations

from fastapi import FastAPI
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import TilerFactory


def create_app() -> FastAPI:
    app = FastAPI(title="TiTiler (bench baseline)")
    app.include_router(TilerFactory().router, prefix="/cog")
    add_exception_handlers(app, DEFAULT_STATUS_CODES)  # as titiler.application: 404 off-data

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
