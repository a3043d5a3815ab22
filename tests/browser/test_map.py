"""The map in a real browser: offline, layered, searchable, re-rankable, exportable.

One page is loaded for the module (see conftest) and the tests run in file order on it;
each restores what it changes. Screenshots (zoom 4, 7, 9 and 12, the panel, every data
layer) are saved under ``artifacts/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pyogrio
import pytest
from playwright.sync_api import Page, Route

from app.map.page import LAYERS
from tests.browser.conftest import Traffic

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SCREENSHOT = SCREENSHOTS / "map.png"
#: Deposits the page may draw at once (canvas, thinned by the server below zoom 10).
MAX_MARKERS = 5_000
BLACK_BEAR = "mrds:10034372"
TIMEOUT_MS = 120_000  # the machine is shared: tiles can be slow under load


@pytest.fixture(scope="module")
def loaded(page: Page, live_server: str, traffic: Traffic) -> Page:
    """The map page, loaded, with its first ranking drawn and its tiles fetched."""
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server}/map", wait_until="load")
    page.wait_for_function("() => window.fedmin && fedmin.state && fedmin.state.ranking")
    page.wait_for_load_state("networkidle")
    return page


def _status_ok(page: Page) -> None:
    page.wait_for_selector("#fedmin-status.ok")


def _paths_in_pane(page: Page, pane: str) -> int:
    return page.evaluate(
        "(pane) => document.querySelectorAll(`.leaflet-${pane}-pane path`).length", pane
    )


def _canvases_in_pane(page: Page, pane: str) -> int:
    return page.evaluate(
        "(pane) => document.querySelectorAll(`.leaflet-${pane}-pane canvas`).length", pane
    )


def _drawn(page: Page, key: str) -> int:
    return page.evaluate("(key) => fedmin.drawnFeatures(key)", key)


def _ranking(page: Page) -> list[tuple[str, float]]:
    return page.evaluate(
        """() => fedmin.state.ranking.features.map(
            (f) => [String(f.properties.id ?? f.id), Number(f.properties.score)])"""
    )


def test_page_loads_offline_without_errors(loaded: Page, traffic: Traffic) -> None:
    assert traffic.external == [], f"requests left 127.0.0.1: {traffic.external[:5]}"
    assert traffic.page_errors == [], traffic.page_errors
    assert traffic.console_errors == [], traffic.console_errors
    assert traffic.matching("/map/vendor/leaflet/leaflet.js")
    assert traffic.matching("/map/vendor/leaflet.vectorgrid/")
    _status_ok(loaded)


def test_layer_control_lists_every_layer_and_defaults_are_drawn(
    loaded: Page, traffic: Traffic
) -> None:
    labels = loaded.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    labels = [text.strip() for text in labels]
    for spec in LAYERS:
        assert spec.title in labels
    on = {
        key
        for key in loaded.evaluate("() => Object.keys(fedmin.layerByKey)")
        if loaded.evaluate("(k) => fedmin.map.hasLayer(fedmin.layer(k))", key)
    }
    assert (
        on
        == {s.key for s in LAYERS if s.show}
        == {
            "basemap",
            "places",
            "land_coverage",
            "federal_lands",
            "closed_lands",
            "ranked_cells",
            "deposits",
        }
    )
    for spec in LAYERS:
        if spec.factory == "vectorTiles":
            collection = spec.options["url"].split("/")[2]
            fetched = traffic.matching(f"/collections/{collection}/tiles/")
            assert bool(fetched) == (spec.show or collection == "federal_lands"), collection
    # off by default, one click away: no request for them yet
    assert not traffic.matching("/rasters/prospectivity/tiles/")
    assert not traffic.matching("tile.openstreetmap.org")
    assert traffic.matching("/rankings?")
    loaded.wait_for_function(
        "() => fedmin.drawnFeatures('deposits') > 0 && fedmin.drawnFeatures('federal_lands') > 0"
    )
    assert _drawn(loaded, "deposits") > 0 and _canvases_in_pane(loaded, "fedmin-deposits") > 0
    assert _drawn(loaded, "federal_lands") > 0 and _canvases_in_pane(loaded, "fedmin-lands") > 0
    assert _paths_in_pane(loaded, "fedmin-closed") > 0  # SVG: the hatch is a pattern
    cells = loaded.evaluate("() => fedmin.layer('ranked_cells').getLayers().length")
    assert cells == len(_ranking(loaded)) > 0
    assert _paths_in_pane(loaded, "fedmin-cells") == cells
    assert loaded.locator("#fedmin-legend section").count() >= 8


def test_base_map_and_place_names_are_drawn_offline(loaded: Page, traffic: Traffic) -> None:
    """Land, water, state lines and town names, all from fedmin: no request left 127.0.0.1."""
    for collection in ("states", "lakes", "rivers"):
        assert traffic.matching(f"/collections/{collection}/tiles/"), collection
    assert traffic.matching("/collections/populated_places/items")
    assert traffic.external == []
    assert _canvases_in_pane(loaded, "fedmin-basemap") > 0
    assert _canvases_in_pane(loaded, "fedmin-boundaries") > 0
    names = loaded.locator(".leaflet-fedmin-labels-pane .fedmin-place span").all_inner_texts()
    # the first ranking is national: the view fits the country and its largest cities
    assert {"Los Angeles", "Chicago"} <= set(names), names
    background = loaded.evaluate(
        "() => getComputedStyle(fedmin.map.getContainer()).backgroundColor"
    )
    assert background == "rgb(220, 220, 214)"  # outside the US: no base-map data
    land = loaded.evaluate(
        """() => { // a pixel of the land canvas, away from any federal land or cell
            for (const c of document.querySelectorAll('.leaflet-fedmin-basemap-pane canvas')) {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 0; i < d.length; i += 4) {
                    if (d[i + 3] === 255) return [d[i], d[i + 1], d[i + 2]];
                }
            }
            return null; }"""
    )
    assert land == [247, 245, 238]  # palette.BASEMAP["land"] drawn on canvas


def test_search_finds_black_bear_and_its_popup(loaded: Page) -> None:
    loaded.fill("#fedmin-search", "Black Bear")
    hit = loaded.locator(f'#fedmin-search-results a[data-deposit-id="{BLACK_BEAR}"]')
    hit.wait_for()
    hit.click()
    popup = loaded.locator(f'.fedmin-deposit-popup[data-deposit-id="{BLACK_BEAR}"]')
    popup.wait_for()
    text = popup.inner_text()
    assert "Black Bear" in text
    assert "past producer" in popup.locator(".fedmin-dev-status").inner_text()
    assert "gold" in text
    api_link = popup.locator("a", has_text="API record").get_attribute("href")
    assert api_link.endswith(f"/collections/deposits/items/{BLACK_BEAR}".replace(":", "%3A"))
    source = popup.locator("a", has_text="source record").get_attribute("href")
    assert source.startswith("https://mrdata.usgs.gov/")
    loaded.evaluate("() => { fedmin.map.closePopup(); }")
    loaded.fill("#fedmin-search", "")


def _idle(page: Page) -> None:
    """Wait until no zoom runs and every tile layer on the map has drawn its tiles."""
    page.wait_for_timeout(300)  # let a view change start its tile requests
    page.wait_for_function("() => fedmin.isIdle()")


#: A container point (page coordinates) of a deposit drawn on canvas and not covered.
DRAWN_DEPOSIT_POINT = """() => {
    const layer = fedmin.layer('deposits'), map = fedmin.map;
    const box = map.getContainer().getBoundingClientRect();
    for (const renderer of Object.values(layer._vectorTiles)) {
        const offset = renderer.getOffset();
        for (const { feature } of Object.values(renderer._features)) {
            if (!feature._point) continue;
            const c = map.layerPointToContainerPoint(offset.add(feature._point));
            const x = box.left + c.x, y = box.top + c.y;
            const hit = document.elementFromPoint(x, y);  // in the map, not under a control
            if (hit && fedmin.map.getContainer().contains(hit) && !hit.closest('.leaflet-control')
                && c.x > 0 && c.y > 0) return [x, y];
        }
    }
    return null;
}"""


def test_clicking_a_drawn_deposit_opens_its_record(loaded: Page) -> None:
    _idle(loaded)
    point = loaded.evaluate(DRAWN_DEPOSIT_POINT)
    assert point, "no deposit drawn in the open part of the map"
    loaded.mouse.click(*point)
    popup = loaded.locator(".fedmin-deposit-popup")
    popup.wait_for()
    assert popup.locator("h3").inner_text().strip()
    loaded.evaluate("() => { fedmin.map.closePopup(); }")


def test_unticking_a_layer_hides_it(loaded: Page) -> None:
    title = next(spec.title for spec in LAYERS if spec.key == "deposits")
    checkbox = loaded.locator(".leaflet-control-layers-overlays label", has_text=title).locator(
        "input"
    )
    assert _canvases_in_pane(loaded, "fedmin-deposits") > 0
    checkbox.uncheck()
    assert loaded.evaluate("() => fedmin.map.hasLayer(fedmin.layer('deposits'))") is False
    assert _canvases_in_pane(loaded, "fedmin-deposits") == 0
    legend = loaded.locator('#fedmin-legend section[data-legend="deposits"]')
    assert "off" in legend.get_attribute("class")
    checkbox.check()
    loaded.wait_for_function(
        "() => document.querySelectorAll('.leaflet-fedmin-deposits-pane canvas').length > 0"
    )


def test_coverage_layer_toggles(loaded: Page, traffic: Traffic) -> None:
    """'Where claims data exist' is off, then drawn from data_coverage tiles, then off."""
    spec = next(spec for spec in LAYERS if spec.key == "coverage_claims")
    checkbox = loaded.locator(
        ".leaflet-control-layers-overlays label", has_text=spec.title
    ).locator("input")
    assert not checkbox.is_checked() and not traffic.matching("/collections/data_coverage/")
    legend = loaded.locator('#fedmin-legend section[data-legend="coverage"]')
    assert "off" in legend.get_attribute("class")
    checkbox.check()
    _idle(loaded)
    assert traffic.matching("/collections/data_coverage/tiles/")
    assert _canvases_in_pane(loaded, "fedmin-coverage") > 0
    assert _drawn(loaded, "coverage_claims") > 0
    assert "off" not in legend.get_attribute("class")
    checkbox.uncheck()
    assert _canvases_in_pane(loaded, "fedmin-coverage") == 0
    assert "off" in legend.get_attribute("class")


def _popup_inside_viewport(page: Page) -> None:
    page.wait_for_function(
        """() => { const p = document.querySelector('.leaflet-popup');
            if (!p || fedmin.map._panAnim?._inProgress) return false;
            const r = p.getBoundingClientRect();
            return r.top >= 0 && r.left >= 0
                && r.bottom <= innerHeight && r.right <= innerWidth; }"""
    )


def test_cell_popup_opens_fully_inside_the_viewport(loaded: Page) -> None:
    """A cell clicked near the top edge: the popup pans into view, header included. At
    zoom 7 round the best cell (25 km cells of a national view are a few pixels), the
    deposits hidden: a click on a deposit drawn over the cell opens the deposit, and the
    national sites lie almost everywhere."""
    loaded.evaluate(
        """() => { const best = fedmin.layer('ranked_cells').getLayers()[0];
            fedmin.map.removeLayer(fedmin.layer('deposits'));
            fedmin.map.setView(best.getBounds().getCenter(), 7, { animate: false }); }"""
    )
    try:
        _idle(loaded)
        point = loaded.evaluate(
            """() => { const box = fedmin.map.getContainer().getBoundingClientRect();
                let best = null;
                for (const l of fedmin.layer('ranked_cells').getLayers()) {
                    const r = l.getElement().getBoundingClientRect();
                    const x = r.x + r.width / 2, y = r.y + Math.min(4, r.height / 2);
                    if (y < 20 || x < 330 || x > innerWidth - 300) continue;
                    if (document.elementFromPoint(x, y) !== l.getElement()) continue;
                    if (!best || y < best[1]) best = [x, y];
                }
                return best; }"""
        )
        assert point, "no cell clickable in the open part of the map"
        loaded.mouse.click(*point)
        popup = loaded.locator(".fedmin-cell-popup")
        popup.wait_for()
        _popup_inside_viewport(loaded)
        header = loaded.locator(".fedmin-cell-popup h3").bounding_box()
        assert header and header["y"] >= 0
        loaded.screenshot(path=str(SCREENSHOTS / "popup.png"))
    finally:  # the next tests see the map as it was
        loaded.evaluate(
            "() => { fedmin.map.closePopup(); fedmin.map.addLayer(fedmin.layer('deposits')); }"
        )


def test_cell_popup_fills_its_top_deposits(loaded: Page) -> None:
    """The popup's top deposits come from /rankings/{cellId} and stay after Leaflet
    re-renders the popup (auto-pan, update): the first is the cell's top contributor."""
    loaded.evaluate("() => fedmin.showCell(String(fedmin.state.ranking.features[0].id))")
    try:
        loaded.locator(".fedmin-cell-popup").wait_for()
        first = loaded.locator(".fedmin-cell-popup .fedmin-top-deposits a[data-deposit-id]").first
        first.wait_for(timeout=60_000)
        # what auto-pan and a resize do: re-render the open popup
        loaded.evaluate(
            "() => { fedmin.map.eachLayer((l) => { if (l instanceof L.Popup) l.update(); }); }"
        )
        top = loaded.evaluate("() => fedmin.state.ranking.features[0].properties.top_deposit_ids")
        expected = top[0] if isinstance(top, list) else json.loads(top)[0]
        assert first.get_attribute("data-deposit-id") == expected
        assert (
            "loading" not in loaded.locator(".fedmin-cell-popup .fedmin-top-deposits").inner_text()
        )
    finally:
        loaded.evaluate("() => { fedmin.map.closePopup(); }")


def _rects(page: Page) -> dict[str, dict[str, float]]:
    return page.evaluate(
        """() => Object.fromEntries([['panel', '#fedmin-panel'],
            ['layers', '.leaflet-control-layers'], ['legend', '#fedmin-legend']].map(([k, sel]) => {
            const r = document.querySelector(sel).getBoundingClientRect();
            return [k, { left: r.left, top: r.top, right: r.right, bottom: r.bottom }]; }))"""
    )


@pytest.mark.parametrize(("width", "height"), [(800, 600), (1366, 768)])
def test_controls_never_overlap(loaded: Page, width: int, height: int) -> None:
    loaded.set_viewport_size({"width": width, "height": height})
    try:
        loaded.wait_for_timeout(400)  # Leaflet's resize event, then the layout
        rects = _rects(loaded)
        for name, r in rects.items():
            assert r["left"] >= 0 and r["top"] >= 0, name
            assert r["right"] <= width and r["bottom"] <= height, (name, r)
            assert r["bottom"] - r["top"] > 80, (name, r)  # still usable
        for (a, ra), (b, rb) in itertools.combinations(rects.items(), 2):
            apart = (
                ra["right"] <= rb["left"]
                or rb["right"] <= ra["left"]
                or ra["bottom"] <= rb["top"]
                or rb["bottom"] <= ra["top"]
            )
            assert apart, f"{a} {ra} overlaps {b} {rb} at {width}x{height}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        loaded.screenshot(path=str(SCREENSHOTS / f"layout-{width}x{height}.png"))
    finally:
        loaded.set_viewport_size({"width": 1280, "height": 800})
        loaded.wait_for_timeout(300)


def _set_weights(page: Page, value_of_el: str) -> None:
    """Move every weight slider to the JS expression ``value_of_el`` (``el``: the slider)."""
    page.evaluate(
        f"""() => document.querySelectorAll('.fedmin-weights input[type=range]').forEach((el) => {{
            el.value = String({value_of_el});
            el.dispatchEvent(new Event('input'));
        }})"""
    )


def _rerank(page: Page) -> None:
    """Press "Apply" and wait for the new ranking to be drawn."""
    requests = page.evaluate("() => fedmin.state.requestId")
    page.click("#fedmin-apply")
    page.wait_for_function(f"() => fedmin.state.requestId > {requests}")
    _status_ok(page)


def _cell_fills(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(fedmin.layer('ranked_cells').getLayers().map(
            (l) => [String(l.feature.id ?? l.feature.properties.cell_id),
                    l.getElement().getAttribute('fill')]))"""
    )


def _reweight(page: Page, value_of_el: str) -> None:
    """Move the sliders and wait until the scores-only re-weighting is drawn."""
    requests = page.evaluate("() => fedmin.state.requestId")
    _set_weights(page, value_of_el)
    page.wait_for_function(f"() => fedmin.state.requestId > {requests}")
    page.wait_for_function("() => !document.querySelector('#fedmin-status.busy')")
    _status_ok(page)


def _geometry_requests(traffic: Traffic) -> list[str]:
    return [u for u in traffic.matching("/rankings?") if "geometry=false" not in u]


def test_reweighting_restyles_cells_without_refetching_geometry(
    loaded: Page, traffic: Traffic
) -> None:
    before, fills = _ranking(loaded), _cell_fills(loaded)
    geometry_requests = len(_geometry_requests(traffic))
    scores_only = len(traffic.matching("geometry=false"))
    _reweight(loaded, "el.dataset.component === 'access' ? 1 : 0")
    after = _ranking(loaded)
    assert after and before != after
    assert len(_geometry_requests(traffic)) == geometry_requests, "geometry was refetched"
    assert len(traffic.matching("geometry=false")) > scores_only
    assert "re-weighted" in loaded.inner_text("#fedmin-status")
    new_fills = _cell_fills(loaded)
    kept = set(fills) & set(new_fills)
    assert kept and sum(fills[i] != new_fills[i] for i in kept) > len(kept) / 4
    # the drawn cells carry the new scores: access alone decides them
    drawn = loaded.evaluate(
        """() => fedmin.layer('ranked_cells').getLayers().map((l) => [
            l.feature.properties.score, l.feature.properties.access])"""
    )
    assert all(score == pytest.approx(access) for score, access in drawn if access is not None)
    href = loaded.get_attribute('#fedmin-exports a[data-format="csv"]', "href")
    assert "access%3A1" in href or "access:1" in href
    _reweight(loaded, "fedmin.config.weights[el.dataset.component]")  # restore
    assert _ranking(loaded) == before
    assert _cell_fills(loaded) == fills
    assert len(_geometry_requests(traffic)) == geometry_requests


def test_a_busy_server_is_asked_again_after_retry_after(loaded: Page, traffic: Traffic) -> None:
    """A ranking refused with 503 + Retry-After (the server's admission queue is full, or
    the ranking outran its time budget and keeps computing) is asked again by the map
    after the time the server gave, not left as "ranking failed" until the user clicks."""
    refused: list[str] = []

    def refuse_once(route: Route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=503,
            headers={"Retry-After": "1", "Content-Type": "application/json"},
            body=json.dumps({"status": 503, "detail": "2 rankings are computing or queued"}),
        )

    before = _ranking(loaded)
    rankings = re.compile(r"/rankings\?")
    loaded.route(rankings, refuse_once)
    try:
        requests = loaded.evaluate("() => fedmin.state.requestId")
        loaded.click("#fedmin-apply")
        loaded.wait_for_function(
            "() => document.querySelector('#fedmin-status').textContent.includes('asking again')"
        )
        loaded.wait_for_function(f"() => fedmin.state.requestId > {requests + 1}")
        _status_ok(loaded)
    finally:
        loaded.unroute(rankings, refuse_once)
    # the browser logs the refused request itself; the tests after this one check the log
    expected = [e for e in traffic.console_errors if "503 (Service Unavailable)" in e]
    assert len(expected) == 1
    traffic.console_errors.remove(expected[0])
    assert len(refused) == 1
    assert _ranking(loaded) == before


def test_the_first_ranking_keeps_a_view_the_user_moved_to(loaded: Page, live_server: str) -> None:
    """Moving the map before the first ranking lands (a new user heads for Nevada at
    once) keeps that view: the ranking no longer fits the map back to the whole country.
    The page's first ranking request is held until the map has moved."""
    page = loaded.context.new_page()
    held: list[Route] = []
    rankings = re.compile(r"/rankings\?")
    try:
        page.set_default_timeout(TIMEOUT_MS)
        page.route(rankings, lambda route: held.append(route))
        page.goto(f"{live_server}/map", wait_until="domcontentloaded")
        page.wait_for_function("() => window.fedmin && fedmin.state && fedmin.map")
        # the page opens on the whole country (the county lines' minZoom had pulled it
        # to zoom 6 over Kansas until the first ranking's fit)
        assert page.evaluate("() => [fedmin.map.getZoom(), fedmin.map.getCenter().lat]") == [
            4,
            pytest.approx(39.5),
        ]
        while not held:
            page.wait_for_timeout(50)
        page.evaluate("() => fedmin.map.setView([39.3, -116.8], 7, {animate: false})")
        for route in held:
            route.continue_()
        page.unroute(rankings)
        page.wait_for_function("() => fedmin.state.ranking")
        center = page.evaluate("() => [fedmin.map.getCenter().lat, fedmin.map.getZoom()]")
    finally:
        page.close()
    assert center[0] == pytest.approx(39.3, abs=0.01) and center[1] == 7


def test_development_gate_input_reaches_the_ranking(loaded: Page, traffic: Traffic) -> None:
    """The panel's gate: 0 re-ranks with every worked district back in (more cells), the
    default leaves them out again."""

    def ranked() -> dict:
        return loaded.evaluate(
            "() => ({params: fedmin.state.ranking.params, total: fedmin.state.ranking.total_cells})"
        )

    default = ranked()
    assert default["params"]["min_undeveloped_share"] == pytest.approx(1 / 3, abs=1e-3)
    loaded.fill("#fedmin-min-undeveloped-share", "0")
    loaded.dispatch_event("#fedmin-min-undeveloped-share", "change")
    _rerank(loaded)
    ungated = ranked()
    assert ungated["params"]["min_undeveloped_share"] == 0
    assert ungated["total"] > default["total"]
    assert traffic.matching("min_undeveloped_share=0&")
    loaded.fill("#fedmin-min-undeveloped-share", "0.3333")
    loaded.dispatch_event("#fedmin-min-undeveloped-share", "change")
    _rerank(loaded)
    assert ranked()["total"] == default["total"]


def test_panel_lists_the_best_cells_and_links_to_them(loaded: Page) -> None:
    links = loaded.locator("#fedmin-ranking-summary a[data-cell-id]")
    assert links.count() == loaded.evaluate("() => fedmin.config.summary_cells")
    first = _ranking(loaded)[0][0]
    assert links.first.get_attribute("data-cell-id") == first
    name = loaded.evaluate("() => fedmin.state.ranking.features[0].properties.place_label")
    assert name and links.first.inner_text().strip() == name  # named by place, not by id
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    loaded.locator("#fedmin-panel").screenshot(path=str(SCREENSHOTS / "panel.png"))
    links.first.click()
    popup = loaded.locator(f'.fedmin-cell-popup[data-cell-id="{first}"]')
    popup.wait_for()
    _popup_inside_viewport(loaded)
    loaded.evaluate("() => { fedmin.map.closePopup(); }")


@pytest.mark.parametrize("fmt", ["gpkg", "csv"])
def test_export_button_downloads_a_file_gdal_reads(loaded: Page, fmt: str, tmp_path: Path) -> None:
    with loaded.expect_download(timeout=TIMEOUT_MS) as info:
        loaded.click(f'#fedmin-exports a[data-format="{fmt}"]')
    download = info.value
    assert download.failure() is None
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    frame = pyogrio.read_dataframe(target)
    assert len(frame) > 0


VIEWS = {  # name: (lat, lon, zoom)
    "zoom4-us": (39.5, -98.5, 4),
    "zoom7-nevada": (39.3, -116.8, 7),
    "zoom9-northern-california": (40.7, -122.6, 9),
    "zoom12-black-bear": (40.557, -122.511, 12),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_screenshots_by_zoom_draw_a_bounded_number_of_markers(
    loaded: Page, traffic: Traffic, view: str
) -> None:
    lat, lon, zoom = VIEWS[view]
    loaded.evaluate(f"() => fedmin.map.setView([{lat}, {lon}], {zoom}, {{ animate: false }})")
    _idle(loaded)
    assert loaded.evaluate("() => fedmin.map.getZoom()") == zoom
    markers = _drawn(loaded, "deposits")
    assert 0 < markers <= MAX_MARKERS, markers
    labels = loaded.locator(".leaflet-fedmin-labels-pane .fedmin-place").count()
    assert labels > 0 if zoom <= 9 else labels >= 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    loaded.screenshot(path=str(SCREENSHOTS / f"{view}.png"))
    assert traffic.external == []
    assert traffic.console_errors == [], traffic.console_errors


def test_screenshot_with_every_data_layer(loaded: Page, traffic: Traffic) -> None:
    """Every data layer on (not the optional web basemap, nor the prospectivity surface,
    whose first tiles compute it: the next test turns it on), over northern California,
    where the mirror's mining claims are (the best national cell may have none)."""
    loaded.evaluate(
        """() => {
            Object.entries(fedmin.layerByKey).forEach(([key, layer]) => {
                if (!['osm', 'prospectivity'].includes(key) && !fedmin.map.hasLayer(layer))
                    fedmin.map.addLayer(layer);
            });
            fedmin.map.setView([40.7, -122.6], 9, { animate: false });
        }"""
    )
    _idle(loaded)
    loaded.wait_for_function("() => fedmin.drawnFeatures('claims') > 0 && fedmin.isIdle()")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    loaded.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000
    assert traffic.external == []
    assert traffic.console_errors == [], traffic.console_errors


def test_commodity_filter_reaches_tiles_raster_and_ranking(loaded: Page, traffic: Traffic) -> None:
    """Last (changes the filter): 'critical minerals' filters deposits, surface and ranking.
    The surface (off by default) is turned on; its tiles are asked for, not awaited (a
    cold surface is computed on first use)."""
    loaded.evaluate("() => { fedmin.map.addLayer(fedmin.layer('prospectivity')); }")
    loaded.select_option("#fedmin-commodity", "critical")
    _rerank(loaded)
    paths = ("/collections/deposits/tiles/", "/rasters/prospectivity/tiles/", "/rankings?")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not all(
        any("commodity=critical" in url for url in traffic.matching(path)) for path in paths
    ):
        assert time.monotonic() < deadline, [p for p in paths if not traffic.matching(p)]
        loaded.wait_for_timeout(250)
    assert not any("commodity=" in url for url in traffic.matching("/collections/roads/tiles/"))
    href = loaded.get_attribute('#fedmin-exports a[data-format="gpkg"]', "href")
    assert "commodity=critical" in href
    assert traffic.console_errors == [], traffic.console_errors
