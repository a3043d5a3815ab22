"""Turn selected rows, tiles and documents into response bytes (no HTTP, no selection)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
MVT = "application/vnd.mapbox-vector-tile"
PNG = "image/png"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


class OrjsonResponse(JSONResponse):
    """JSON through orjson (FastAPI deprecated its own ORJSONResponse).

    A ``JSONResponse`` subclass so the OpenAPI document describes these bodies as JSON
    (objects) rather than as strings, which is what FastAPI assumes for other classes.
    """

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
