"""Shared helpers of the benchmarks: machine and data facts, servers, clients, statistics.

Every benchmark compares fedmin with a baseline measured in the same run on the same
machine, and prints the machine (cores, CPU model) and the data (rows per layer) first, so
a figure is never read without its context. Servers listen on 127.0.0.1 only, on a free
port, and are stopped when the benchmark exits (also on Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Module level: the replay app's annotations are resolved against this module's globals.
from fastapi import Request, Response

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"


# --- the machine and the data ----------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, object]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    mem = memory_gib()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": os.cpu_count(),
        "usable cores": usable,
        "cpu": cpu_model(),
        "memory": f"{mem:.1f} GiB" if mem else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load average": " / ".join(f"{v:.2f}" for v in load) + " (1/5/15 min, at start)"
        if load
        else "unknown",
    }


def code_version() -> str:
    """The commit measured, ``-dirty`` when app/, geo/ or layers/ have local changes."""
    label = os.environ.get("FEDMIN_BENCH_CODE")
    if label:
        return label
    return code_version_of(REPO)


def code_version_of(repo: Path) -> str:
    """As ``code_version`` for the checkout at ``repo``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "app", "geo", "layers"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def data_dir() -> Path:
    from app.settings import get_settings

    return get_settings().data_dir


def open_store():
    """The built store, or exit with the command that builds it."""
    from layers.errors import StoreNotBuiltError
    from layers.store import open_store as _open

    try:
        return _open(data_dir())
    except StoreNotBuiltError as exc:
        sys.exit(f"{exc}\n(make data builds it)")


def data_sizes(store=None) -> list[tuple[str, str, object, str]]:
    """(layer, kind, rows, file size) per layer of the store's manifest."""
    store = store or open_store()
    rows = []
    for layer_id, record in store.manifest["layers"].items():
        path = store.root / record["file"]
        size = path.stat().st_size if path.exists() else 0
        n = "raster" if record["rows"] is None else record["rows"]
        rows.append((layer_id, record["kind"], n, human_bytes(size)))
    return rows


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def print_header(title: str, what: str, store=None) -> None:
    """The title, the date, the machine and the data: printed first by every benchmark."""
    store = store or open_store()
    print(f"# {title}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"measures: {what}")
    print(f"code: {code_version()}")
    print()
    print("machine:")
    for key, value in machine_info().items():
        print(f"  {key:<13} {value}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"  WARNING: the machine is busy (load {load:.2f}): figures are noisy")
    print()
    print(f"data: store {store.build_id}")
    by_kind: dict[str, int] = {}
    for _layer, kind, rows, _size in data_sizes(store):
        if isinstance(rows, int):
            by_kind[kind] = by_kind.get(kind, 0) + rows
    print_table(("layer", "kind", "rows", "file"), data_sizes(store), indent=2)
    print("  rows per kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.items()))
    print()


# --- statistics and tables ------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples_s: Sequence[float]) -> dict[str, float]:
    """Latency summary in milliseconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
        "mean": sum(ms) / len(ms) if ms else float("nan"),
    }


def ratio(a: float, b: float) -> str:
    if not b or b != b or a != a:
        return "n/a"
    return f"{a / b:.2f}x"


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: int = 0) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    pad = " " * indent

    def line(values: Sequence[str]) -> str:
        return (
            pad
            + "| "
            + " | ".join(
                v.rjust(w) if i else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            )
            + " |"
        )

    print(line(headers))
    print(pad + "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print(line(row))


# --- cleanup on exit and Ctrl-C ---------------------------------------------------------------

_cleanups: list[Callable[[], None]] = []


def on_exit(func: Callable[[], None]) -> None:
    """Run ``func`` at exit, on Ctrl-C and on SIGTERM (last registered runs first)."""
    _cleanups.append(func)


def _run_cleanups() -> None:
    while _cleanups:
        func = _cleanups.pop()
        with contextlib.suppress(Exception):
            func()


def _on_signal(signum, _frame) -> None:
    _run_cleanups()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    import atexit

    atexit.register(_run_cleanups)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last: object = None
    failing_since: float | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
            # A server that is up but keeps failing will not get better by waiting.
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > 15:
                break
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 (last: {last})")


@dataclass
class Server:
    """A uvicorn server in a subprocess on 127.0.0.1 (one process, no access log)."""

    app: str
    factory: bool = True
    env: dict[str, str] = field(default_factory=dict)
    app_dir: Path = REPO
    health: str = "/health"
    port: int = 0
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 180.0) -> Server:
        self.port = self.port or free_port()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--app-dir",
            str(self.app_dir),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        if self.factory:
            cmd.append("--factory")
        handle, name = tempfile.mkstemp(prefix="fedmin-bench-", suffix=".log")
        self.log = Path(name)
        env = {**os.environ, **self.env, "PYTHONPATH": str(self.app_dir)}
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.app_dir,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(handle)
        on_exit(self.stop)
        try:
            wait_http(self.base + self.health, timeout, self.proc)
        except RuntimeError:
            print(self.log.read_text()[-3000:], file=sys.stderr)
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None

    def rss_mib(self) -> float | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def fedmin_server(**env: str) -> Server:
    """The real app, as ``fedmin serve`` creates it, over the configured data dir."""
    return Server("app.main:create_app", env={"FEDMIN_DATA_DIR": str(data_dir()), **env})


# --- the replay baseline: a bare FastAPI app serving pre-fetched bytes -----------------------

REPLAY_ENV = "FEDMIN_BENCH_REPLAY"


def capture(base: str, paths: Sequence[str], timeout: float = 120.0) -> dict[str, dict]:
    """GET every path once from a server: {path: {status, content_type, body(hex)}}."""
    import httpx

    captured = {}
    with httpx.Client(base_url=base, timeout=timeout) as client:
        for path in paths:
            response = client.get(path)
            captured[path] = {
                "status": response.status_code,
                "content_type": response.headers.get("content-type", "application/octet-stream"),
                "body": response.content.hex(),
            }
    return captured


def replay_app():
    """uvicorn factory: a minimal FastAPI app that answers every captured path with the
    captured bytes (one dict lookup): the floor of serving those responses from Python."""
    from fastapi import FastAPI

    table = json.loads(Path(os.environ[REPLAY_ENV]).read_text())
    responses = {
        path: (bytes.fromhex(r["body"]), r["content_type"], r["status"])
        for path, r in table.items()
    }
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/{path:path}")
    def replay(request: Request) -> Response:
        key = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        body, media_type, status = responses[key]
        return Response(content=body, media_type=media_type, status_code=status)

    return app


def replay_server(captured: dict[str, dict]) -> Server:
    handle, name = tempfile.mkstemp(prefix="fedmin-replay-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(captured, out)
    on_exit(lambda: Path(name).unlink(missing_ok=True))
    return Server("_common:replay_app", env={REPLAY_ENV: name}, app_dir=BENCH_DIR)


# --- Debian packages (root only) -------------------------------------------------------------


def ensure_debian_packages(packages: Sequence[str], check: Callable[[], bool]) -> bool:
    """Install Debian packages with apt-get when ``check()`` says they are missing.

    Returns whether they are available afterwards. Only as root (as on the dev machines
    and CI); otherwise says what to install.
    """
    if check():
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"missing: apt-get install {' '.join(packages)} (needs root)", file=sys.stderr)
        return False
    print(f"installing {' '.join(packages)} with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL}
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, **quiet)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, **quiet)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *packages], env=env, check=False, **quiet
        )
    return check()


# --- load generation -------------------------------------------------------------------------


@dataclass
class LoadResult:
    client: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    p50: float  # milliseconds
    p95: float
    p99: float
    max: float
    bytes: int = 0
    error_detail: dict[str, int] = field(default_factory=dict)
    #: CPU seconds the server process used during the run (all its threads).
    server_cpu: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per request: steadier than req/s on a shared machine,
        since a neighbour's load stretches the wall clock more than the CPU time."""
        return 1000 * self.server_cpu / self.requests if self.requests else float("nan")


def have_wrk(install: bool = True) -> bool:
    check = lambda: shutil.which("wrk") is not None  # noqa: E731
    return ensure_debian_packages(["wrk"], check) if install else check()


_WRK_LUA = """
local paths = {%(paths)s}
local i = 0
request = function()
  i = (i %% #paths) + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"bytes\\":%%d,\\"connect\\":%%d," ..
    "\\"read\\":%%d,\\"write\\":%%d,\\"status\\":%%d,\\"timeout\\":%%d,\\"p50\\":%%d," ..
    "\\"p95\\":%%d,\\"p99\\":%%d,\\"max\\":%%d}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    base: str,
    paths: Sequence[str],
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """wrk (one thread) cycling through ``paths`` with ``concurrency`` connections."""
    script = _WRK_LUA % {"paths": ", ".join(_lua_string(p) for p in paths)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        cmd = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "60s",
            "-s",
            handle.name,
            *(arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")),
            base,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90)
    finally:
        os.unlink(handle.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line.removeprefix("WRKJSON "))
    detail = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    return LoadResult(
        client="wrk",
        concurrency=concurrency,
        seconds=r["duration_us"] / 1e6,
        requests=r["requests"],
        errors=sum(detail.values()),
        p50=r["p50"] / 1000,
        p95=r["p95"] / 1000,
        p99=r["p99"] / 1000,
        max=r["max"] / 1000,
        bytes=r["bytes"],
        error_detail=detail,
    )


def run_httpx(
    base: str,
    paths: Sequence[str],
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """The fallback client: ``concurrency`` asyncio workers over one httpx pool (``bytes``
    counts the body as received, before any decompression)."""
    import httpx

    async def main() -> LoadResult:
        latencies: list[float] = []
        errors: dict[str, int] = {}
        total_bytes = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=60, headers=headers
        ) as client:
            started = time.perf_counter()
            deadline = started + seconds

            async def worker(offset: int) -> None:
                nonlocal total_bytes
                i = offset
                while time.perf_counter() < deadline:
                    path = paths[i % len(paths)]
                    i += 1
                    t0 = time.perf_counter()
                    try:
                        response = await client.get(path)
                        total_bytes += response.num_bytes_downloaded
                        if response.status_code >= 400:
                            errors["status"] = errors.get("status", 0) + 1
                    except httpx.HTTPError as exc:
                        key = type(exc).__name__
                        errors[key] = errors.get(key, 0) + 1
                        continue
                    latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(worker(k) for k in range(concurrency)))
            elapsed = time.perf_counter() - started
        s = summarize(latencies)
        return LoadResult(
            client="httpx",
            concurrency=concurrency,
            seconds=elapsed,
            requests=len(latencies) + sum(errors.values()),
            errors=sum(errors.values()),
            p50=s["p50"],
            p95=s["p95"],
            p99=s["p99"],
            max=s["max"],
            bytes=total_bytes,
            error_detail=errors,
        )

    return asyncio.run(main())


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds a process has run, summed over its live threads: nanosecond
    schedstat when the kernel has it, else user + system clock ticks from /proc."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    server: Server | str,
    paths: Sequence[str],
    concurrency: int,
    seconds: float,
    client: str = "auto",
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Closed-loop load on 127.0.0.1 for a bounded time: wrk when available, else httpx,
    each request with ``headers``.

    Given a ``Server``, also measures the CPU time its process spent."""
    base = server.base if isinstance(server, Server) else server
    pid = server.proc.pid if isinstance(server, Server) and server.proc else None
    if not base.startswith(f"http://{HOST}:"):
        raise ValueError("benchmarks only send traffic to 127.0.0.1")
    cpu0 = process_cpu_seconds(pid) if pid else float("nan")
    if client == "wrk" or (client == "auto" and have_wrk()):
        result = run_wrk(base, paths, concurrency, seconds, headers)
    else:
        result = run_httpx(base, paths, concurrency, seconds, headers)
    if pid:
        result.server_cpu = process_cpu_seconds(pid) - cpu0
    return result


def run_paired(
    servers: dict[str, Server],
    paths: Sequence[str],
    concurrency: int,
    seconds: float,
    client: str = "auto",
    rounds: int = 3,
    headers: dict[str, dict[str, str]] | None = None,
) -> dict[str, LoadResult]:
    """Load each server in turn, ``rounds`` times (a, b, a, b, ...), ``seconds`` in all
    per server: a neighbour's burst on a shared machine then hits both, not one.
    ``headers`` gives a label's request headers (two labels may name one server).

    Requests, bytes, errors and time add up over the rounds; the percentiles are the
    median of the rounds' percentiles, ``max`` the largest.
    """
    per_round = max(1.0, seconds / rounds)
    runs: dict[str, list[LoadResult]] = {label: [] for label in servers}
    for _ in range(rounds):
        for label, server in servers.items():
            extra = (headers or {}).get(label)
            runs[label].append(run_load(server, paths, concurrency, per_round, client, extra))
    out = {}
    for label, results in runs.items():
        detail: dict[str, int] = {}
        for r in results:
            for k, v in r.error_detail.items():
                detail[k] = detail.get(k, 0) + v
        out[label] = LoadResult(
            client=results[0].client,
            concurrency=concurrency,
            seconds=sum(r.seconds for r in results),
            requests=sum(r.requests for r in results),
            errors=sum(r.errors for r in results),
            p50=percentile([r.p50 for r in results], 50),
            p95=percentile([r.p95 for r in results], 50),
            p99=percentile([r.p99 for r in results], 50),
            max=max(r.max for r in results),
            bytes=sum(r.bytes for r in results),
            error_detail=detail,
            server_cpu=sum(r.server_cpu for r in results),
        )
    return out


class LeanClient:
    """Sequential GETs on one kept-alive connection: a socket and httptools' C parser (the
    one uvicorn uses), so the client's own cost stays near a database driver's.

    Measured on the same cached tile, p50 on 127.0.0.1: 0.15 ms with this client, 0.27 ms
    with the stdlib's ``http.client`` (its header parsing is ``email.parser``), 0.57 ms
    with httpx. The difference is the client's Python, not the server."""

    def __init__(self, base: str, timeout: float = 120.0):
        import httptools

        parts = urlsplit(base)
        self._parser_class = httptools.HttpResponseParser
        self._request_head = f"Host: {parts.netloc}\r\n\r\n".encode()
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._body: list[bytes] = []
        self._complete = False

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete = True

    def get(self, path: str) -> tuple[float, int, bytes]:
        """(seconds, status, body) of one GET, the body read in full."""
        self._body, self._complete = [], False
        parser = self._parser_class(self)
        t0 = time.perf_counter()
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._request_head)
        while not self._complete:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"GET {path}: the server closed the connection")
            parser.feed_data(data)
        seconds = time.perf_counter() - t0
        return seconds, parser.get_status_code(), b"".join(self._body)

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Callable[[], float]]:
    """Yields a function returning the seconds left of the budget."""
    end = time.monotonic() + seconds
    yield lambda: end - time.monotonic()


# --- the endpoints (filled in as the routers land) -------------------------------------------


def openapi_paths(base: str) -> set[str]:
    import httpx

    try:
        return set(httpx.get(base + "/openapi.json", timeout=30).json().get("paths", {}))
    except (httpx.HTTPError, ValueError):
        return set()


def require_paths(base: str, needed: Sequence[str]) -> list[str]:
    """The paths in ``needed`` (concrete, e.g. ``/collections/deposits/items``, or
    templates) that no OpenAPI path template of the running app matches."""
    import re

    patterns = [
        re.compile("^" + re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(t)) + "$")
        for t in openapi_paths(base)
    ]
    return [p for p in needed if not any(rx.match(p.split("?")[0]) for rx in patterns)]
