"""ASGI middleware: request logging, security headers, the body-size limit, snapshots.

One pure ASGI layer (``FedminMiddleware``) rather than ``BaseHTTPMiddleware`` or a stack
of layers, so streamed and file responses pass through untouched and a request costs two
``send`` wrappers and one scan of its headers. In order, outermost first:

1. the request log: a request id (``X-Request-ID`` echoed when it is a plain token, else
   generated) and one JSON log line per request with its timing and size;
   then the Host check (a 400 for a Host not in ``FEDMIN_ALLOWED_HOSTS`` unless
   ``FEDMIN_PUBLIC_URL`` is set, as Starlette's ``TrustedHostMiddleware`` does, so no
   link is ever made from a forged Host) and ``HEAD``: answered as the ``GET`` of the
   same URL (same status and headers, Content-Length included) without the body;
2. security headers: ``nosniff`` and ``Referrer-Policy`` on every response, a
   Content-Security-Policy and frame denial on HTML;
3. CORS (Starlette's), only when ``FEDMIN_CORS_ORIGINS`` names origins: closed by default;
4. the body limit: 413 for a body over ``FEDMIN_MAX_REQUEST_BODY_BYTES``, by its
   Content-Length or, for a chunked body, by what arrives;
5. the store snapshot the request is served from (``app.state``), and the JSON 500 for
   an exception no handler took (``app.errors.internal_error``), so that it too carries
   the headers above.

Inside it, Starlette's ``GZipMiddleware`` compresses a response of at least
``FEDMIN_GZIP_MIN_BYTES`` when the request's ``Accept-Encoding`` names gzip (``Vary:
Accept-Encoding`` on each); tiles, GeoPackages and zips are sent as they are (already
compact, or compressed, and a tile's ETag names one representation). The access log and
``HEAD`` see the compressed response, as the client does.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.encoders import MVT
from app.errors import error_response, internal_error
from app.map.assets import OSM_TILES
from app.settings import Settings
from app.state import SNAPSHOT_KEY, ServingState, Snapshot

access_log = logging.getLogger("fedmin.access")

REQUEST_ID_HEADER = "X-Request-ID"
#: A client's request id is echoed only when it is a plain token (no log injection).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: The request id of the request being served, for every log line written meanwhile.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fedmin_request_id", default=None
)

BUILD_HEADER = "Fedmin-Build"
#: Path and query are cut to this many characters in the log (one line stays bounded).
MAX_LOGGED_CHARS = 2000

# --- logging ---------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's ``fields`` and
    the current request id."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out |= getattr(record, "fields", {})
        request_id = request_id_var.get()
        if request_id is not None:
            out.setdefault("request_id", request_id)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        try:  # orjson: the access log writes one record per request
            return orjson.dumps(out, default=str).decode()
        except TypeError:  # what orjson refuses (a lone surrogate, a huge int)
            return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Set fedmin's log level; give its loggers a JSON handler unless logging is set up.

    When the root logger has handlers (an embedding application, pytest's capture), the
    records go there; otherwise (``fedmin serve``) they would be dropped below WARNING.
    """
    logger = logging.getLogger("fedmin")
    logger.setLevel(settings.log_level)
    if not logging.getLogger().handlers and not any(
        isinstance(h.formatter, JsonFormatter) for h in logger.handlers
    ):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)


# --- security headers ------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    script: Iterable[str] = (),
    style: Iterable[str] = (),
    img: Iterable[str] = (),
    font: Iterable[str] = (),
    worker: Iterable[str] = (),
) -> str:
    """Same origin only, plus the extra sources named. Inline scripts and styles are
    allowed: Folium writes the map's set-up as inline scripts and styles (and the API docs
    pages do likewise)."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'", *script],
        "style-src": ["'self'", "'unsafe-inline'", *style],
        "img-src": ["'self'", "data:", "blob:", *img],
        "font-src": ["'self'", "data:", *font],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", *worker],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


#: Every HTML page: the map may show the optional OpenStreetMap basemap (images only).
CSP = content_security_policy(img=[_origin(OSM_TILES)])
#: FastAPI's /docs (Swagger UI) and /redoc load their scripts, styles, fonts and icon from
#: these hosts (FastAPI's defaults); ReDoc runs a web worker from a blob.
CSP_API_DOCS = content_security_policy(
    script=["https://cdn.jsdelivr.net"],
    style=["https://cdn.jsdelivr.net", "https://fonts.googleapis.com"],
    img=["https://fastapi.tiangolo.com", "https://cdn.redoc.ly"],
    font=["https://fonts.gstatic.com"],
    worker=["blob:"],
)
REFERRER_POLICY = "strict-origin-when-cross-origin"  # OSM's tile policy wants a Referer
#: Sent uncompressed: Starlette's binary defaults (PNG among them), vector tiles,
#: GeoPackage and zipped Shapefile exports.
GZIP_EXCLUDED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, MVT, "application/geopackage+sqlite3")


class FedminMiddleware:
    """The request id and access log, the security headers, the body-size limit and the
    store snapshot, in one pure ASGI layer (one ``send`` wrapper, one header scan).

    It behaves as the separate layers did, outermost first: request log, security
    headers, CORS (when ``cors`` names its options, run as an inner app so that it still
    sits between the security headers and the body limit), body limit, snapshot.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        docs_paths: Iterable[str] = (),
        cors: dict[str, Any] | None = None,
        allowed_hosts: Iterable[str] | None = None,
    ):
        self.app = app
        self.max_bytes = max_bytes
        #: None: any Host (links do not come from it); else the names and ``*.`` suffixes.
        self.hosts = TrustedHosts(allowed_hosts) if allowed_hosts is not None else None
        self.docs_paths = frozenset(docs_paths)
        self.cors = CORSMiddleware(self._behind_cors, **cors) if cors else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = length = chunked = host = None
        for key, value in scope.get("headers", ()):  # the first of each, as before
            if key == b"x-request-id":
                given = value.decode("latin-1") if given is None else given
            elif key == b"host":
                host = value.decode("latin-1") if host is None else host
            elif key == b"content-length":
                length = value.decode("latin-1") if length is None else length
            elif key == b"transfer-encoding":
                chunked = True
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts
        sent = 0
        pinned: list[Snapshot] = []  # without CORS, the build header is set here too
        logged = scope
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_wrapped(message: Message) -> None:
            nonlocal status, sent
            if head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if pinned:
                    headers[BUILD_HEADER] = pinned[0].build_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", REFERRER_POLICY)
                if headers.get("content-type", "").startswith("text/html"):
                    docs = scope["path"] in self.docs_paths
                    headers.setdefault("Content-Security-Policy", CSP_API_DOCS if docs else CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                headers[REQUEST_ID_HEADER] = request_id
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            if self.hosts is not None and host is not None and not self.hosts.allows(host):
                await self.hosts.refusal(host)(scope, receive, send_wrapped)
            elif self.cors is not None:
                await self.cors(scope, receive, send_wrapped)
            else:
                await self._limited(scope, receive, send_wrapped, length, chunked, pinned)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                _log_access(logged, request_id, status, started, sent)
            request_id_var.reset(token)

    async def _behind_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = chunked = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                length = value.decode("latin-1") if length is None else length
            elif key == b"transfer-encoding":
                chunked = True
        await self._limited(scope, receive, send, length, chunked, None)

    async def _limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        length: str | None,
        chunked: bool | None,
        pinned: list[Snapshot] | None,
    ) -> None:
        """The body limit: 413 (JSON) for a request body over ``max_bytes``.

        With a Content-Length the request is refused before any of the body is read. A
        chunked body is read up to the limit first (at most ``max_bytes`` held in
        memory), then handed to the app as it came.
        """
        limit = f"the request body limit is {self.max_bytes} bytes"
        if length is not None:
            if not length.strip().isdigit():
                response = error_response(400, "InvalidRequest", "Content-Length is not a number")
                await response(scope, receive, send)
            elif int(length) > self.max_bytes:
                await self._refuse(scope, receive, send, f"Content-Length {length}: {limit}")
            else:
                await self._pinned(scope, receive, send, pinned)
            return
        if chunked is None:
            await self._pinned(scope, receive, send, pinned)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, f"chunked body over {size} bytes: {limit}")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self._pinned(scope, replay, send, pinned)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        response = error_response(413, "RequestTooLarge", detail, {"Connection": "close"})
        await response(scope, receive, send)

    async def _pinned(
        self, scope: Scope, receive: Receive, send: Send, pinned: list[Snapshot] | None
    ) -> None:
        """Pin the request to the store snapshot current at its start, until it is
        answered; its build id goes out in ``Fedmin-Build`` (set by the caller's ``send``
        wrapper when ``pinned`` is a list, else here)."""
        serving: ServingState | None = getattr(scope["app"].state, "serving", None)
        if serving is None:
            await self._answered(scope, receive, send, None)
            return
        snapshot = serving.acquire()
        scope["state"] = {**scope.get("state", {}), SNAPSHOT_KEY: snapshot}
        try:
            if pinned is not None:
                pinned.append(snapshot)
                await self._answered(scope, receive, send, None)
            else:
                await self._answered(scope, receive, send, snapshot.build_id)
        finally:
            serving.release(snapshot)

    async def _answered(
        self, scope: Scope, receive: Receive, send: Send, build: str | None
    ) -> None:
        """The app's response, with ``build`` in ``Fedmin-Build`` when given. An exception
        no handler took (a bug) is answered here with the JSON 500 of
        ``app.errors.internal_error``, inside the layers that add the security headers,
        request id and CORS headers (Starlette's own 500 is sent outside all of them)."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if build is not None:
                    MutableHeaders(scope=message)[BUILD_HEADER] = build
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:  # too late for a status: the server closes the connection
                raise
            await internal_error(scope["path"], exc)(scope, receive, tracked)


class TrustedHosts:
    """The Host names a request may use (``name``, ``*.domain`` or ``*``), port ignored."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = [p.lower() for p in patterns]
        self.any = "*" in self.patterns
        self.exact = frozenset(p.strip("[]") for p in self.patterns if not p.startswith("*"))
        self.suffixes = tuple(p[1:] for p in self.patterns if p.startswith("*."))

    @staticmethod
    def name(host: str) -> str:
        """``example.org:8000`` -> ``example.org``; ``[::1]:8000`` -> ``::1``."""
        host = host.strip().lower()
        if host.startswith("["):
            return host[1:].partition("]")[0]
        return host.rpartition(":")[0] if host.count(":") == 1 else host

    def allows(self, host: str) -> bool:
        if self.any:
            return True
        name = self.name(host)
        return name in self.exact or name.endswith(self.suffixes)

    def refusal(self, host: str) -> Any:
        return error_response(
            400,
            "InvalidHost",
            f"Host {host[:100]!r} is not served here (allowed: {self.patterns}); set "
            "FEDMIN_ALLOWED_HOSTS, or FEDMIN_PUBLIC_URL to make links from a fixed URL",
        )


def _log_access(scope: Scope, request_id: str, status: int, started: float, sent: int) -> None:
    """One ``fedmin.access`` record: the request, its status, timing and size."""
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    fields = {
        "request_id": request_id,
        "method": scope["method"],
        "path": scope["path"][:MAX_LOGGED_CHARS],
        "query": scope.get("query_string", b"").decode("latin-1")[:MAX_LOGGED_CHARS],
        "status": status,
        "duration_ms": duration_ms,
        "bytes": sent,
        "client": (scope.get("client") or ("", 0))[0],
    }
    access_log.info(
        "%s %s %s %.1f ms",
        fields["method"],
        fields["path"],
        status,
        duration_ms,
        extra={"fields": fields},
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the one middleware layer (CORS inside it, only when origins are named) and,
    inside that, gzip."""
    configure_logging(settings)
    cors = None
    if settings.cors_origins:
        cors = {
            "allow_origins": settings.cors_origins,
            "allow_methods": ["GET", "HEAD"],
            "allow_headers": ["If-None-Match", REQUEST_ID_HEADER],
            "expose_headers": [
                "Content-Disposition",
                "Link",
                "ETag",
                "Fedmin-Tile-Features",
                BUILD_HEADER,
                REQUEST_ID_HEADER,
            ],
        }
    if settings.gzip_min_bytes:  # first added, so inside FedminMiddleware
        app.add_middleware(
            GZipMiddleware,
            minimum_size=settings.gzip_min_bytes,
            compresslevel=settings.gzip_level,
            exclude_content_types=GZIP_EXCLUDED,
        )
    docs = [p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p]
    app.add_middleware(
        FedminMiddleware,
        max_bytes=settings.max_request_body_bytes,
        docs_paths=docs,
        cors=cors,
        allowed_hosts=None if settings.public_url else settings.allowed_hosts,
    )
