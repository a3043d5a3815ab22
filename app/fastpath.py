"""Hand-parsed fast paths for the busiest GET endpoints (item pages, vector tiles).

FastAPI resolves and validates every declared parameter with pydantic on each request,
given or not: on an item page that was a third of the CPU, more than the page itself.
A route of class ``FastPathRoute`` whose endpoint has a parser (``fast_path``) first
offers the request to that parser. When every parameter has the plain form the parser
knows (decimal digits for integers, ``true``/``false``, one of the listed literals), the
endpoint is called with what it parsed; anything else is handed to FastAPI's own
handler, which validates it and answers (a 422 with FastAPI's body, say) exactly as
before. The declarations stay on the endpoint, so ``/openapi.json`` does not change,
and ``FEDMIN_FAST_PATHS=false`` sends every request through FastAPI (the tests compare
both ways on the same requests).

The parsers accept a subset of what FastAPI accepts and must produce the same values
for it; they reuse the checks the dependencies run (``app.params``), in the same order.
A fast path does not consult ``app.dependency_overrides``; turn fast paths off to use them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any

from fastapi import Request
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from app.routing import CheckedRoute

#: Endpoint keyword arguments parsed from a request; raises ``NotPlain`` to hand the
#: request to FastAPI.
FastParser = Callable[[Request], dict[str, Any]]
_PARSER_ATTR = "__fedmin_fast_path__"
#: Longest integer taken by hand (larger values go to FastAPI, which may refuse them).
_MAX_DIGITS = 15


class NotPlain(Exception):
    """A parameter is not in the plain form a parser takes: FastAPI should validate it."""


def fast_path(parser: FastParser) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give an ``async def`` endpoint a hand parser (apply below the route decorator)."""

    def attach(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"fast_path needs an async def endpoint, not {endpoint!r}")
        setattr(endpoint, _PARSER_ATTR, parser)
        return endpoint

    return attach


class FastPathRoute(CheckedRoute):
    """A ``CheckedRoute`` that tries its endpoint's hand parser before FastAPI's handler
    (after the unknown and empty parameters have been dealt with).

    A parsed request skips FastAPI's request wrapper too (its exit stacks are for
    dependencies with ``yield``; there are none here): the endpoint's response is sent
    as is, and an exception it raises is turned into a response by the app's exception
    middleware, with the same handlers."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        super().__init__(path, endpoint, **kwargs)
        self.fast_parser: FastParser | None = getattr(endpoint, _PARSER_ATTR, None)

    async def handle_checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_parser is not None and scope["method"] in self.methods:
            request = Request(scope, receive, send)
            if request.app.state.settings.fast_paths:
                try:
                    kwargs = self.fast_parser(request)
                except NotPlain:
                    pass
                else:
                    response = await self.endpoint(**kwargs)
                    await response(scope, receive, send)
                    return
        await super().handle_checked(scope, receive, send)


class PlainQuery:
    """Read query parameters the way FastAPI does (the last of a repeated scalar, every
    value of a list), raising ``NotPlain`` for any value not in its plainest form."""

    def __init__(self, params: QueryParams):
        self.params = params

    def integer(self, name: str, minimum: int) -> int | None:
        value = self.params.get(name)
        if value is None:
            return None
        number = plain_integer(value, name)
        if number < minimum:
            raise NotPlain(name)
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.params.get(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise NotPlain(name)
        return value == "true"

    def literal(self, name: str, choices: Collection[str]) -> str | None:
        value = self.params.get(name)
        if value is not None and value not in choices:
            raise NotPlain(name)
        return value

    def text(self, name: str) -> str | None:
        return self.params.get(name)

    def texts(self, name: str) -> list[str] | None:
        return self.params.getlist(name) or None


def plain_integer(value: str, name: str) -> int:
    """A non-negative integer in decimal digits, without leading zeros."""
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS):
        raise NotPlain(name)
    if value[0] == "0" and value != "0":
        raise NotPlain(name)
    return int(value)
