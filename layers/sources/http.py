"""The one HTTP client every source adapter uses: polite, retrying, honest about failures.

* **Polite.** At most one request per ``interval`` seconds (``FEDMIN_FETCH_REQUEST_INTERVAL_S``)
  and a ``User-Agent`` naming fedmin: public agency servers are shared.
* **Retries with back-off.** A timeout, a dropped connection, HTTP 429 and HTTP 5xx are
  retried ``retries`` times, waiting ``backoff`` seconds, doubled each time (capped at
  ``max_backoff``), or what the server's ``Retry-After`` asks (seconds or an HTTP date).
  Any other 4xx is final at once. ``check`` lets a protocol flag a retryable failure the
  server reports with HTTP 200 (ArcGIS REST puts ``{"error": {"code": 503}}`` in the body).
* **Honest.** The last failure becomes a :class:`FetchError` that names what was being
  fetched (layer, page), the URL and the reason of every attempt.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from layers.errors import FetchError

log = logging.getLogger(__name__)

USER_AGENT = "fedmin-data-fetch/0.2 (+https://github.com/fedmin)"
#: Statuses worth another try: rate limited, or the server (or a proxy) failed.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Policy:
    """How patient and how polite a fetch is (``app/settings.py`` fills it)."""

    timeout: float = 60.0
    retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 60.0
    interval: float = 0.0


class Retryable(Exception):
    """Raised by a ``check`` callback: the answer is a failure worth another attempt."""

    def __init__(self, reason: str, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


@dataclass
class PoliteClient:
    policy: Policy = field(default_factory=Policy)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            follow_redirects=True,
            timeout=httpx.Timeout(self.policy.timeout),
            headers={"User-Agent": USER_AGENT},
        )
        self._last = 0.0
        self.requests = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        check: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying as the module docstring says.

        With ``stream=True`` the caller reads and closes the response (its body is not
        read here); statuses are still checked and retried before it is returned.
        """
        failures: list[str] = []
        for attempt in range(self.policy.retries + 1):
            self._wait_turn()
            delay = min(self.policy.backoff * 2**attempt, self.policy.max_backoff)
            try:
                request = self.client.build_request(method, url, params=params, headers=headers)
                response = self.client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                failures.append(f"timed out after {self.policy.timeout:g} s ({type(exc).__name__})")
            except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
                    raise FetchError(f"{what}: bad URL {url}: {exc}") from exc
                failures.append(f"{type(exc).__name__}: {exc}")
            else:
                if response.status_code in RETRY_STATUS:
                    failures.append(f"HTTP {response.status_code} {response.reason_phrase}")
                    delay = _retry_after(response, delay, self.policy.max_backoff)
                    response.close()
                elif response.status_code >= 400:
                    response.close()
                    raise FetchError(
                        f"{what}: HTTP {response.status_code} {response.reason_phrase} "
                        f"from {response.url}"
                    )
                else:
                    try:
                        if check is not None:
                            check(response)
                    except Retryable as exc:
                        response.close()
                        failures.append(exc.reason)
                        if exc.delay is not None:
                            delay = min(exc.delay, self.policy.max_backoff)
                    else:
                        return response
            if attempt < self.policy.retries:
                log.info(
                    "%s: %s; retry %d of %d in %.1f s",
                    what,
                    failures[-1],
                    attempt + 1,
                    self.policy.retries,
                    delay,
                )
                self.sleep(delay)
        tries = "; ".join(f"attempt {i + 1}: {reason}" for i, reason in enumerate(failures))
        raise FetchError(f"{what}: failed after {len(failures)} attempts ({tries}) at {url}")

    def _wait_turn(self) -> None:
        """Keep at least ``interval`` seconds between the starts of two requests."""
        gap = self.policy.interval - (time.monotonic() - self._last)
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()
        self.requests += 1


def _retry_after(response: httpx.Response, default: float, cap: float) -> float:
    """Seconds the server asks us to wait (``Retry-After``), else the back-off delay."""
    value = response.headers.get("retry-after")
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), cap)
