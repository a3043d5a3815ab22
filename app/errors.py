"""The one table that maps fedmin's domain errors to HTTP status codes.

Library code raises ``FedminError`` subclasses; this module turns them into a JSON body
``{"status": ..., "error": ..., "detail": ...}`` so every bad input is a 4xx with a reason.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.encoders import OrjsonResponse
from layers import errors

log = logging.getLogger("fedmin.errors")

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 5

#: Most specific class first: the first ``isinstance`` match wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.FedminError], int], ...] = (
    (errors.LimitExceededError, 400),
    (errors.UnknownCommodityError, 400),
    (errors.UnknownCriticalListError, 400),
    (errors.InvalidParameterError, 400),
    (errors.NotFoundError, 404),
    (errors.TimeBudgetExceededError, 503),
    (errors.RankingOverloadedError, 503),
    (errors.StoreNotBuiltError, 503),
    (errors.DataError, 503),
    (errors.FedminError, 500),
)


def status_for(exc: errors.FedminError) -> int:
    return next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))


class ErrorBody(BaseModel):
    """The JSON body of every error response (documented in OpenAPI for each operation)."""

    status: int = Field(description="The HTTP status code, repeated.")
    error: str = Field(description="What kind of error, e.g. InvalidParameterError.")
    detail: Any = Field(description="Why: a message, or for a 422 the list of invalid parameters.")


#: Error statuses documented on every operation (the body is always ``ErrorBody``).
ALWAYS_DOCUMENTED: dict[int, str] = {
    413: "The request body is larger than FEDMIN_MAX_REQUEST_BODY_BYTES.",
    503: "Not available now (store not built, data unreadable, or a time budget exceeded); "
    "retry after Retry-After seconds.",
}
#: Error statuses documented on operations that take parameters.
PARAMETER_DOCUMENTED: dict[int, str] = {
    400: "A parameter value is out of range, malformed or over a limit; `detail` says why.",
    404: "No such collection, feature, raster, tile, tile matrix set or cell.",
    422: "A parameter has the wrong type or shape; `detail` lists each one.",
}


def error_response(
    status: int, error: str, detail: object, headers: dict[str, str] | None = None
) -> OrjsonResponse:
    """The one shape of an error response (also used by the middleware, e.g. 413)."""
    body = {"status": status, "error": error, "detail": detail}
    return OrjsonResponse(body, status_code=status, headers=headers)


def internal_error(path: str, exc: BaseException) -> OrjsonResponse:
    """The 500 for an exception nothing else handled: its traceback goes to the log, the
    client gets the usual JSON body and nothing of the internals. Sent by the middleware
    (``FedminMiddleware``), inside the layer that adds the security headers and request id;
    Starlette's handler for ``Exception`` would answer outside every middleware."""
    log.exception("unhandled error on %s", path, exc_info=exc)
    return error_response(500, "InternalError", "internal error; see the server log")


def _document_errors(schema: dict[str, Any]) -> None:
    """Give every operation its error statuses with the ``ErrorBody`` schema.

    FastAPI documents only its own 422 body (``HTTPValidationError``), which is not what
    fedmin sends; clients and the schema fuzzer need the real shape of every 4xx/5xx.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            documented = dict(ALWAYS_DOCUMENTED)
            if operation.get("parameters"):
                documented |= PARAMETER_DOCUMENTED
            responses = operation.setdefault("responses", {})
            for status, description in sorted(documented.items()):
                response = responses.setdefault(str(status), {})
                response.setdefault("description", description)
                response["content"] = {"application/json": {"schema": ref}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install(app: FastAPI) -> None:
    """Register the handlers and document their bodies in the app's OpenAPI."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_errors(generate())  # FastAPI caches it in app.openapi_schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(errors.FedminError)
    async def _domain(request: Request, exc: errors.FedminError) -> OrjsonResponse:
        status = status_for(exc)
        if status == 503:  # expected under load or before a build: no traceback
            log.warning("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        elif status >= 500:
            log.exception("unexpected domain error on %s", request.url.path, exc_info=exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        return error_response(status, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return error_response(422, "InvalidRequest", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        return error_response(
            exc.status_code, "HTTPError", exc.detail, getattr(exc, "headers", None)
        )
