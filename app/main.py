"""The FastAPI application: created by ``create_app``, state loaded once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import ORJSONResponse

from app import errors
from app.deps import store_dep
from app.settings import Settings, get_settings
from layers.store import Store, open_store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.store = open_store(settings.data_dir)
        yield

    app = FastAPI(
        title="fedmin",
        description=(
            "Mineral deposits on US federal lands: where known potential is high and "
            "development low. Real public data (USGS MRDS/USMIN, USFS, BLM, NPS, Census)."
        ),
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    errors.install(app)

    @app.get("/health", tags=["service"], summary="Service health and the loaded layers")
    def health(store: Store = Depends(store_dep)) -> dict:
        manifest = store.manifest
        return {
            "status": "ok",
            "store": {"build_id": manifest["build_id"], "built_at": manifest["built_at"]},
            "layers": {
                layer_id: {"kind": record["kind"], "rows": record["rows"]}
                for layer_id, record in manifest["layers"].items()
            },
            "absent": manifest["absent"],
        }

    return app
