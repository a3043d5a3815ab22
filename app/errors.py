"""The one table that maps fedmin's domain errors to HTTP status codes.

Library code raises ``FedminError`` subclasses; this module turns them into a JSON body
``{"status": ..., "error": ..., "detail": ...}`` so every bad input is a 4xx with a reason.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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
    (errors.InvalidParameterError, 400),
    (errors.NotFoundError, 404),
    (errors.TimeBudgetExceededError, 503),
    (errors.StoreNotBuiltError, 503),
    (errors.DataError, 503),
    (errors.FedminError, 500),
)


def status_for(exc: errors.FedminError) -> int:
    return next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))


def _body(
    status: int, error: str, detail: object, headers: dict[str, str] | None = None
) -> OrjsonResponse:
    body = {"status": status, "error": error, "detail": detail}
    return OrjsonResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.FedminError)
    async def _domain(request: Request, exc: errors.FedminError) -> OrjsonResponse:
        status = status_for(exc)
        if status >= 500:
            log.exception("unexpected domain error on %s", request.url.path, exc_info=exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        return _body(status, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return _body(422, "InvalidRequest", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        return _body(exc.status_code, "HTTPError", exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return _body(500, "InternalError", "internal error; see the server log")
