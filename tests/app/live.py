"""Helpers for tests of the whole app: a live uvicorn server, the map's assets.

``serve`` runs an app under a real uvicorn server on 127.0.0.1 (a free port, in a
thread), for what TestClient does not give: raw paths (clients normalize ``../``),
chunked request bodies, concurrent requests against the real server loop.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The base URL of ``app`` served until the block ends (the lifespan runs)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start (see the log)")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def require_map_assets() -> None:
    """The map's vendored scripts (``make assets`` installs them), or a skip: without them
    ``/map`` is a deliberate 503 and there is no page to test."""
    from app.map import assets, vendor

    if assets.missing_vendor_files():
        try:
            vendor.main([])
        except (SystemExit, OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"map assets not installable here: {exc}")
