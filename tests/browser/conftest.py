"""Real-browser fixtures: Debian's chromium driven by Playwright against a live server.

The app runs under uvicorn on 127.0.0.1 (a free port, in a thread) on the store built
from the real mirror (``data_dir`` in ``tests/conftest.py``). Chromium is the system one
(``apt-get install chromium``, as ``make browser`` does): Playwright never downloads a
browser. Every request the page makes is recorded so tests can prove it stays local.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: The national store takes minutes to load on a busy 2-core machine (sites, enrichment).
START_TIMEOUT_S = 900
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: `make browser` (apt-get install chromium) installs it")
    return CHROMIUM


@pytest.fixture(scope="session")
def map_assets() -> None:
    """The vendored Leaflet files, installed from npm once if this checkout lacks them."""
    from app.map import assets, vendor

    if assets.missing_vendor_files():
        vendor.main([])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(data_dir: Path, map_assets: None) -> Iterator[str]:
    """Base URL of the real app (uvicorn, a thread) on the store built from the mirror."""
    import uvicorn

    from app.main import create_app
    from app.settings import Settings

    port = _free_port()
    app = create_app(Settings(data_dir=data_dir, offline=True))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="fedmin-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Traffic:
    """What a page did: every request URL, the non-local ones (blocked), console errors."""

    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def matching(self, fragment: str) -> list[str]:
        return [url for url in self.requests if fragment in url]


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


# One page per test module: loading the map once keeps the browser tests quick; tests in a
# module share it (and its recorded traffic) and restore what they change.
@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return Traffic()


#: Every http(s)/ws(s) URL whose host is not 127.0.0.1 (matched inside the Playwright
#: driver, so local requests are never held up by a round trip through Python: with the
#: server in this process, that round trip competes with it for the GIL).
NOT_LOCAL = re.compile(r"^(?:https?|wss?)://(?!127\.0\.0\.1[:/])")


@pytest.fixture(scope="module")
def context(browser: Browser, traffic: Traffic) -> Iterator[BrowserContext]:
    """A fresh browser context that records every request and aborts non-local ones."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)

    def block(route: Route) -> None:
        traffic.external.append(route.request.url)
        route.abort()

    context.on("request", lambda request: traffic.requests.append(request.url))
    context.route(NOT_LOCAL, block)
    yield context
    context.close()


@pytest.fixture(scope="module")
def page(context: BrowserContext, traffic: Traffic) -> Iterator[Page]:
    page = context.new_page()
    page.on(
        "console",
        lambda msg: traffic.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: traffic.page_errors.append(str(exc)))
    yield page
    page.close()
