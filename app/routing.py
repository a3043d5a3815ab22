"""The route class of every API operation: one rule for the query string.

* **Unknown parameters are a 400** naming the parameters the operation accepts and the
  nearest one (``colour`` -> ``color``), as OGC API - Features requires
  (``/req/core/query-param-unknown``). The accepted names are derived from the route's
  own declared FastAPI parameters (its dependencies included), so a parameter another
  module declares is accepted with no list to keep up to date.
* **An empty value is the same as leaving the parameter out** (``dev_status=`` and no
  ``dev_status`` answer alike, on every route): the pair is dropped from the query
  string before FastAPI or a fast path reads it. An empty item of a comma-separated
  list (``state=CA,``) is likewise ignored by the filters.

Both run before validation, so FastAPI's handler and ``app.fastpath``'s parsers see the
same query string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from layers.errors import InvalidParameterError
from layers.suggest import did_you_mean


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters of ``dependant`` and of every dependency it has, by alias."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


class CheckedRoute(APIRoute):
    """An ``APIRoute`` that refuses unknown query parameters and drops empty ones."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        super().__init__(path, endpoint, **kwargs)
        #: The query parameter names this operation declares (aliases, as sent).
        self.query_names = frozenset(query_names(self.dependant))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if query:
            scope["query_string"] = self.checked_query(query)
        await self.handle_checked(scope, receive, send)

    async def handle_checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request whose query string has been checked (subclasses add ways)."""
        await super().handle(scope, receive, send)

    def checked_query(self, query: bytes) -> bytes:
        """``query`` without its empty pairs; ``InvalidParameterError`` for a name this
        operation does not declare."""
        kept: list[bytes] = []
        for pair in query.split(b"&"):
            raw_name, _, value = pair.partition(b"=")
            if not raw_name and not value:
                continue  # "a=1&&b=2"
            name = unquote_plus(raw_name.decode("latin-1"))
            if name not in self.query_names:
                raise InvalidParameterError(self.unknown(name))
            if value:
                kept.append(pair)
        return b"&".join(kept)

    def unknown(self, name: str) -> str:
        accepted = sorted(self.query_names)
        if not accepted:
            return f"unknown query parameter {name!r}: {self.path} takes no query parameters"
        return (
            f"unknown query parameter {name!r}{did_you_mean(name, accepted)}; "
            f"{self.path} accepts {accepted}"
        )


def document_empty_values(schema: dict[str, Any]) -> None:
    """Say the empty-value rule in the OpenAPI document: every optional query parameter
    takes ``allowEmptyValue`` (OpenAPI 3.0: an empty value in place of leaving it out)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
