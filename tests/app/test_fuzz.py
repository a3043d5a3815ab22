"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

For every documented operation schemathesis sends the documented examples, its coverage
cases (boundaries, missing and unexpected parameters, other methods) and random valid and
invalid requests, and every response must be: not a 5xx, a documented status code, of a
documented media type, valid against the documented schema and headers, and a 4xx for
invalid input. Requests go through the session's app on the real store (TestClient), so
the middleware, the error table and the real data are all on the path.

Bounds, to stay within about a minute on two cores over the national store:

* ``MAX_EXAMPLES`` random cases per operation (plus the explicit and coverage cases);
* rankings (``/rankings``, ``/rankings/{cellId}``, ``/shortlist``,
  ``/shortlist/manifest``) get fewer, and a case without a ``bbox`` is confined to a
  1 degree box of northern California: a ranking over every deposit costs 2 s at 5 km cells
  and 15 s at 100 km, and each new parameter set is a new computation. The parsing and
  encoding paths are the same; the full-extent rankings are covered by
  ``tests/app/test_rankings.py`` and ``tests/geo``.
* the map's static files and ``/docs`` are not in the OpenAPI document; their paths are
  attacked in ``test_hardening.py``.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import Settings
from tests.app.live import require_map_assets

MAX_EXAMPLES = 10
MAX_RANKING_EXAMPLES = 4
RANKING_PATHS = r"^/(rankings|shortlist)"
SMALL_BOX = "-123.5,40.5,-122.5,41.5"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
HYPOTHESIS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "derandomize": True,  # the same cases on every run: a failure is reproducible
    "database": None,
}

# The document does not depend on the data: build it without a store (no lifespan runs).
_DOC_SETTINGS = Settings(data_dir=Path("/nonexistent"), data_mirror=None, offline=True)
SCHEMA = schemathesis.openapi.from_dict(create_app(_DOC_SETTINGS).openapi())


def _call_and_validate(case: schemathesis.Case, client: TestClient) -> None:
    if case.operation.path == "/map":
        require_map_assets()  # else a deliberate 503 naming the fix (`make assets`)
    request = case.as_transport_kwargs(base_url=str(client.base_url))
    response = client.request(
        request["method"],
        request["url"],
        params=request.get("params"),
        headers=request.get("headers"),
    )
    case.validate_response(response, checks=CHECKS)


@SCHEMA.exclude(path_regex=RANKING_PATHS).parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_api_conforms_to_its_openapi(case: schemathesis.Case, client: TestClient) -> None:
    _call_and_validate(case, client)


@SCHEMA.include(path_regex=RANKING_PATHS).parametrize()
@settings(max_examples=MAX_RANKING_EXAMPLES, **HYPOTHESIS)
def test_rankings_conform_to_their_openapi(case: schemathesis.Case, client: TestClient) -> None:
    if isinstance(case.query, dict) and not case.query.get("bbox"):  # empty is absent too
        case.query["bbox"] = SMALL_BOX
    _call_and_validate(case, client)


def test_the_document_describes_every_response() -> None:
    """JSON is an object schema (not FastAPI's "string" for custom classes), binary and
    HTML bodies name their media types, and every error status has the error body."""
    doc = SCHEMA.raw_schema
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            ok = responses["200"]["content"]
            for media_type, content in ok.items():
                if media_type == "application/json":
                    assert content.get("schema") != {"type": "string"}, (method, path)
            for status in ("413", "503"):
                assert responses[status]["content"]["application/json"]["schema"] == error
            if operation.get("parameters"):
                for status in ("400", "404", "422"):
                    assert responses[status]["content"]["application/json"]["schema"] == error
    tiles = doc["paths"]["/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}"]
    assert set(tiles["get"]["responses"]["200"]["content"]) == {
        "application/vnd.mapbox-vector-tile"
    }
    assert {"204", "304"} <= set(tiles["get"]["responses"])
    png = doc["paths"]["/rasters/{rasterId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}.png"]["get"]
    assert set(png["responses"]["200"]["content"]) == {"image/png"}
    assert "text/html" in doc["paths"]["/collections"]["get"]["responses"]["200"]["content"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
