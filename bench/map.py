"""The map in a real browser: time to the first drawn layer and to settled tiles per view.

    .venv/bin/python bench/map.py [--repo PATH] [--views us,nevada,norcal,z12]
                                  [--timeout 120] [--json out.json]
    .venv/bin/python bench/map.py --compare before.json after.json

Debian's chromium, headless (``--no-sandbox --disable-gpu --disable-background-networking``),
driven by Playwright, 1366x768, every request outside 127.0.0.1 aborted. The app runs in
its own uvicorn process (``app.main:create_app``, one worker) over the configured data.

For each view (zoom 4 over the US, 7 over Nevada, 9 over northern California, 12 at
Black Bear), twice:

- **cold**: a fresh server process and a fresh browser (no HTTP cache); the page is
  opened and, as soon as ``fedmin.init`` has run, moved to the view (the first ranking
  the page asks for is still running: what a new user meets);
- **warm**: the same server, a new page in the same browser (HTTP cache kept), moved
  to the same view once the page is settled.

Timed in the page from the ``setView``: **first layer** = the first tile of any tile
layer loaded for the new view; **settled** = ``fedmin.isIdle()`` (no tile layer on the
map still loading) held for 200 ms. Also counted: the tiles loaded and, where the page
can say (``fedmin.drawnFeatures``), the deposits drawn.

``--repo`` serves another checkout's code (a worktree of ``main`` for the BEFORE figures)
over the same data; the checkout needs its vendored map assets (copied from this one
when missing: same ``package-lock.json``). A benchmark, not a test: figures on a machine
shared with other work are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 768}
VIEWS = {  # name: (lat, lon, zoom)
    "us": (39.5, -98.5, 4),
    "nevada": (39.3, -116.8, 7),
    "norcal": (40.7, -122.6, 9),
    "z12": (40.557, -122.511, 12),
}
TARGET_FIRST_S, TARGET_SETTLED_S = 3.0, 5.0
NOT_LOCAL = re.compile(r"^(?:https?|wss?)://(?!127\.0\.0\.1[:/])")

#: Attaches tile-load listeners to every tile layer of the page (groups included) and
#: moves the map; resolves with the timings. Works on the page before and after issue 13.
MOVE_AND_TIME = """
async ([lat, lon, zoom, timeoutMs]) => {
  const map = fedmin.map;
  const tileLayers = [];
  const walk = (layer) => {
    if (layer.getLayers && !layer.setUrl) layer.getLayers().forEach(walk);
    else if (layer.on && layer.isLoading) tileLayers.push(layer);
  };
  Object.values(fedmin.layerByKey).forEach(walk);
  let first = null, tiles = 0;
  const t0 = performance.now();
  const onLoad = () => { tiles += 1; if (first === null) first = performance.now() - t0; };
  tileLayers.forEach((l) => l.on('tileload', onLoad));
  map.setView([lat, lon], zoom, { animate: false });
  let settled = null, idleSince = null;
  while (performance.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 50));
    if (fedmin.isIdle()) {
      idleSince = idleSince ?? performance.now();
      if (performance.now() - idleSince >= 200) { settled = idleSince - t0; break; }
    } else idleSince = null;
  }
  tileLayers.forEach((l) => l.off('tileload', onLoad));
  const markers = fedmin.drawnFeatures ? fedmin.drawnFeatures('deposits')
    : document.querySelectorAll('.leaflet-fedmin-deposits-pane path').length;
  return { first_ms: first, settled_ms: settled, tiles, markers };
}
"""


def ensure_assets(repo: Path) -> None:
    """The served checkout's vendored Leaflet files (git-ignored): copied from this one."""
    target = repo / "app" / "static" / "vendor"
    source = _common.REPO / "app" / "static" / "vendor"
    if not target.exists() and repo != _common.REPO:
        shutil.copytree(source, target)


def _page(browser_context, base: str):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/map", wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("() => window.fedmin && fedmin.map && fedmin.state", timeout=60_000)
    return page, errors


def _move(page, view: str, timeout_s: float) -> dict:
    lat, lon, zoom = VIEWS[view]
    result = page.evaluate(MOVE_AND_TIME, [lat, lon, zoom, timeout_s * 1000])
    return {
        "first_s": None if result["first_ms"] is None else result["first_ms"] / 1000,
        "settled_s": None if result["settled_ms"] is None else result["settled_ms"] / 1000,
        "tiles": result["tiles"],
        "markers": result["markers"],
    }


def run_view(playwright, repo: Path, view: str, timeout_s: float) -> dict:
    external: list[str] = []
    server = _common.Server(
        "app.main:create_app",
        env={"FEDMIN_DATA_DIR": str(_common.data_dir()), "FEDMIN_OFFLINE": "true"},
        app_dir=repo,
    )
    with server:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.route(
                NOT_LOCAL, lambda route: (external.append(route.request.url), route.abort())
            )
            page, errors = _page(context, server.base)
            cold = _move(page, view, timeout_s)
            try:  # a warm pass that never settles keeps the cold figures
                page.wait_for_function(
                    "() => fedmin.state.ranking && fedmin.isIdle()", timeout=timeout_s * 1000
                )
                page.close()
                page, more = _page(context, server.base)
                page.wait_for_function(
                    "() => fedmin.state.ranking && fedmin.isIdle()", timeout=timeout_s * 1000
                )
                warm = _move(page, view, timeout_s)
                errors += more
            except Exception as exc:
                warm = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            browser.close()
    return {"view": view, "cold": cold, "warm": warm, "errors": errors, "external": external}


COLUMNS = ("view", "zoom", "pass", "first layer s", "settled s", "tiles", "deposits drawn")


def rows(results: list[dict]) -> list[tuple]:
    out = []
    for r in results:
        for name in ("cold", "warm"):
            m = r.get(name)
            if m is None or "error" in m:
                error = (m or r).get("error")
                out.append((r["view"], VIEWS[r["view"]][2], name, "error", error, "", ""))
                continue
            out.append(
                (
                    r["view"],
                    VIEWS[r["view"]][2],
                    name,
                    _common.fmt(m["first_s"], 2) if m["first_s"] is not None else "never",
                    _common.fmt(m["settled_s"], 2) if m["settled_s"] is not None else "timeout",
                    m["tiles"],
                    m["markers"],
                )
            )
    return out


def compare(before: Path, after: Path) -> None:
    b, a = json.loads(before.read_text()), json.loads(after.read_text())
    print(f"BEFORE: {b['code']}")
    _common.print_table(COLUMNS, rows(b["results"]))
    print(f"\nAFTER: {a['code']}")
    _common.print_table(COLUMNS, rows(a["results"]))
    print("\nafter / before (seconds; < 1 is faster):")
    table = []
    for rb, ra in zip(b["results"], a["results"], strict=True):
        for name in ("cold", "warm"):
            mb, ma = rb.get(name) or {}, ra.get(name) or {}
            table.append(
                (
                    rb["view"],
                    name,
                    *(
                        _common.ratio(ma[k], mb[k]) if ma.get(k) and mb.get(k) else "-"
                        for k in ("first_s", "settled_s")
                    ),
                )
            )
    _common.print_table(("view", "pass", "first layer", "settled"), table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", type=Path, default=_common.REPO, help="checkout to serve")
    parser.add_argument("--views", default=",".join(VIEWS), help=f"comma list of {list(VIEWS)}")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per view")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    from playwright.sync_api import sync_playwright

    args.repo = args.repo.resolve()
    ensure_assets(args.repo)
    _common.install_cleanup()
    store = _common.open_store()
    code = f"{args.repo} ({_common.code_version_of(args.repo)})"
    _common.print_header(
        "The map in Chromium: first drawn layer and settled tiles per view, cold and warm",
        f"seconds from setView to the first tile and to fedmin.isIdle(), {VIEWPORT['width']}x"
        f"{VIEWPORT['height']}, headless Debian chromium; served code {code}",
        store,
    )
    results = []
    with sync_playwright() as playwright:
        for view in args.views.split(","):
            started = time.perf_counter()
            try:
                result = run_view(playwright, args.repo, view, args.timeout)
            except Exception as exc:  # a failed view is reported, the others still run
                result = {"view": view, "error": f"{type(exc).__name__}: {exc}"[:300]}
            result["wall_s"] = round(time.perf_counter() - started, 1)
            results.append(result)
            print(f"  done {view}: {json.dumps(result)[:400]}", file=sys.stderr)
    _common.print_table(COLUMNS, rows(results))
    cold = [r["cold"] for r in results if r.get("cold")]
    met_first = all((m["first_s"] or 1e9) <= TARGET_FIRST_S for m in cold)
    met_settled = all((m["settled_s"] or 1e9) <= TARGET_SETTLED_S for m in cold)
    if len(cold) < len(results):  # a failed view is no evidence that a target is met
        print(f"\ntargets (cold): not measured ({len(results) - len(cold)} views failed)")
    else:
        print(
            f"\ntargets (cold): first layer <= {TARGET_FIRST_S:g} s: "
            f"{'met' if met_first else 'NOT met'}; settled <= {TARGET_SETTLED_S:g} s: "
            f"{'met' if met_settled else 'NOT met'}"
        )
    for r in results:
        if r.get("errors") or r.get("external"):
            print(f"note: {r['view']}: console errors {r.get('errors')[:3]}, "
                  f"external requests {r.get('external')[:3]}")  # fmt: skip
    load = _common.os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.2f} on {_common.os.cpu_count()} cores "
          "(the machine is shared with 7 other work streams: wall times are noisy)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"code": code, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
