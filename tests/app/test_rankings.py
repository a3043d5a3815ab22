"""``/rankings`` through the real HTTP stack on the real northern-California store.

Each parameter set is ranked once (module-scoped fixtures); the checks recompute what
the API claims: sort order, the weighted mean, the Pareto flags, the provenance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import shape

from app.main import create_app
from app.ranking_service import RankingService
from app.settings import Settings
from geo.scoring import COMPONENTS, RankParams
from layers.errors import InvalidParameterError, RankingOverloadedError, TimeBudgetExceededError
from layers.store import Store

GOLD = "commodity=gold&top=200"
#: Weights sent explicitly, so the test recomputes the score from what it asked for.
SENT = {"potential": 0.5, "underdevelopment": 0.3, "access": 0.1, "land": 0.1}
SENT_QUERY = "weights=" + ",".join(f"{k}:{v}" for k, v in SENT.items())
ONLY_LAND = "weights=potential:0,underdevelopment:0,access:0,land:1"


def make_client(settings: Settings, **overrides: Any) -> TestClient:
    """A second app over the same store with some settings changed (limits, budget)."""
    return TestClient(create_app(settings.model_copy(update=overrides)))


def get_ok(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


@pytest.fixture(scope="module")
def gold(client: TestClient) -> dict[str, Any]:
    return get_ok(client, f"/rankings?{GOLD}&{SENT_QUERY}")


@pytest.fixture(scope="module")
def gold_land(client: TestClient) -> dict[str, Any]:
    return get_ok(client, f"/rankings?{GOLD}&{ONLY_LAND}")


def components(feature: dict[str, Any]) -> list[float | None]:
    return [feature["properties"][c] for c in COMPONENTS]


def test_cells_sorted_by_score_with_components_in_unit_range(gold: dict[str, Any]) -> None:
    features = gold["features"]
    assert gold["type"] == "FeatureCollection"
    assert 0 < len(features) == gold["returned"] <= 200
    assert gold["total_cells"] >= len(features)
    scores = [f["properties"]["score"] for f in features]
    assert scores == sorted(scores, reverse=True)
    assert [f["properties"]["rank"] for f in features] == list(range(1, len(features) + 1))
    for feature in features:
        p = feature["properties"]
        assert feature["id"] == p["cell_id"]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert isinstance(p["pareto"], bool)
        assert p["explanation"]["components"].keys() == set(COMPONENTS)
        for value in components(feature):
            assert value is None or 0.0 <= value <= 1.0


def test_score_is_the_weighted_mean_of_the_weights_sent(gold: dict[str, Any]) -> None:
    assert gold["params"]["weights"] == SENT
    for feature in gold["features"]:
        known = [(SENT[c], v) for c, v in zip(COMPONENTS, components(feature), strict=True)]
        known = [(w, v) for w, v in known if v is not None]
        expected = sum(w * v for w, v in known) / sum(w for w, _ in known)
        assert feature["properties"]["score"] == pytest.approx(expected, abs=1e-12)


def test_pareto_flags_no_flagged_cell_is_dominated(gold: dict[str, Any]) -> None:
    values = np.array([[v or 0.0 for v in components(f)] for f in gold["features"]])
    flagged = np.array([f["properties"]["pareto"] for f in gold["features"]])
    assert flagged.any()
    for i in np.flatnonzero(flagged):
        dominated = np.all(values >= values[i], axis=1) & np.any(values > values[i], axis=1)
        assert not dominated.any(), f"flagged cell {i} is dominated"


def test_provenance_manifest_and_validation(gold: dict[str, Any], real_store: Store) -> None:
    manifest = gold["manifest"]
    assert manifest["build_id"] == real_store.build_id
    assert manifest["sources"] == real_store.source_checksums
    assert all(len(s["sha256"]) == 64 for srcs in manifest["sources"].values() for s in srcs)
    assert gold["params"]["filter"]["commodity_names"] == ["gold"]
    assert gold["params"]["top"] == 200
    validation = gold["validation"]
    assert validation["available"] is True
    assert 0.5 < validation["auc"] <= 1.0
    assert validation["x_pct"][0] == 0 and validation["x_pct"][-1] == 100
    assert validation["y_share"] == sorted(validation["y_share"])
    assert isinstance(gold["notes"], list)


def test_changing_weights_changes_the_order(
    gold: dict[str, Any], gold_land: dict[str, Any]
) -> None:
    order = [f["id"] for f in gold["features"][:20]]
    other = [f["id"] for f in gold_land["features"][:20]]
    assert order != other
    lands = [f["properties"]["land"] for f in gold_land["features"]]
    assert lands == sorted(lands, reverse=True)


def test_smaller_top_is_a_prefix_from_the_cache(client: TestClient, gold: dict[str, Any]) -> None:
    """top=150 and top=200 share one cached ranking (same bucket), sliced differently."""
    small = get_ok(client, f"/rankings?commodity=gold&top=150&{SENT_QUERY}")
    assert small["ranked_at"] == gold["ranked_at"]
    assert small["params"]["top"] == 150
    assert [f["id"] for f in small["features"]] == [f["id"] for f in gold["features"][:150]]


def test_scores_only_answer_matches_the_full_one(client: TestClient, gold: dict[str, Any]) -> None:
    """``geometry=false``: the same cells, ranks, scores, components and Pareto flags as
    the full answer, each Feature with a null geometry and nothing else; from the cache."""
    light = get_ok(client, f"/rankings?{GOLD}&{SENT_QUERY}&geometry=false")
    assert light["ranked_at"] == gold["ranked_at"] and light["params"] == gold["params"]
    assert len(light["features"]) == len(gold["features"]) == 200
    for slim, full in zip(light["features"], gold["features"], strict=True):
        assert slim["id"] == full["id"] and slim["geometry"] is None
        expected = {k: full["properties"][k] for k in slim["properties"]}
        assert slim["properties"] == expected
        assert {"rank", "score", "pareto", *COMPONENTS} <= set(slim["properties"])
        assert "explanation" not in slim["properties"]
    heavy = client.get(f"/rankings?{GOLD}&{SENT_QUERY}").content
    slim_bytes = client.get(f"/rankings?{GOLD}&{SENT_QUERY}&geometry=false").content
    assert len(slim_bytes) < len(heavy) / 2
    assert client.get(f"/rankings?{GOLD}&geometry=maybe").status_code in (400, 422)


def test_one_cell_with_its_contributing_deposits(client: TestClient, gold: dict[str, Any]) -> None:
    best = gold["features"][0]
    doc = get_ok(client, f"/rankings/{best['id']}?commodity=gold&{SENT_QUERY}")
    assert doc["type"] == "Feature" and doc["id"] == best["id"]
    assert doc["properties"]["score"] == best["properties"]["score"]
    assert doc["manifest"] == gold["manifest"]
    deposits = doc["contributing_deposits"]["features"]
    assert deposits
    contributions = [d["properties"]["contribution"] for d in deposits]
    assert contributions == sorted(contributions, reverse=True)
    top_ids = best["properties"]["top_deposit_ids"]
    assert [d["id"] for d in deposits[: len(top_ids)]] == top_ids
    polygon = shape(best["geometry"])
    inside = [d for d in deposits if d["properties"]["in_cell"]]
    assert len(inside) == best["properties"]["n_deposits"]
    tolerant = polygon.buffer(1e-6)  # ~0.1 m: the 4326 outline of an equal-area square
    for d in deposits:
        point = shape(d["geometry"])
        assert tolerant.contains(point) == d["properties"]["in_cell"], d["id"]
        assert "gold" in d["properties"]["commodities"]
    # Every contributor lies within the kernel's reach of the cell centre.
    to_albers = Transformer.from_crs(4326, 5070, always_xy=True)
    cx, cy = to_albers.transform(best["properties"]["lon"], best["properties"]["lat"])
    reach_m = doc["params"]["kernel_reach_km"] * 1000
    xy = np.array([to_albers.transform(*d["geometry"]["coordinates"]) for d in deposits])
    assert np.hypot(xy[:, 0] - cx, xy[:, 1] - cy).max() <= reach_m * 1.001


@pytest.mark.parametrize(
    "cell_id", ["nope", "g5070-5000-1-1", "g9999-5000-560-863", "g5070-500-560-863"]
)
def test_unknown_cell_is_404_json(client: TestClient, cell_id: str) -> None:
    response = client.get(f"/rankings/{cell_id}?commodity=gold&{SENT_QUERY}")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and cell_id in body["detail"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("weights=potential:-1", "must be finite and >= 0"),
        ("weights=potential:0,underdevelopment:0,access:0,land:0", "at least one"),
        ("weights=potential:1,gravity:2", "unknown component"),
        ("weights=potential", "name:value"),
        ("weights=potential:abc", "not a number"),
        ("weights=potential:1,potential:2", "twice"),
        ("cell_km=0.5", "cell_km"),
        ("cell_km=1000", "cell_km"),
        ("commodity=unobtainium", "unobtainium"),
        ("bbox=10,10,0,0", "bbox"),
        ("dev_status=ghost", "dev_status"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(
    client: TestClient, query: str, reason: str
) -> None:
    response = client.get(f"/rankings?{query}")
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


@pytest.mark.parametrize("query", ["top=0", "top=100000", "cell_km=abc", "shape=triangle"])
def test_malformed_parameters_are_422(client: TestClient, query: str) -> None:
    response = client.get(f"/rankings?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_ranking_over_the_cell_limit_is_400(app_settings: Settings) -> None:
    with make_client(app_settings, max_ranking_cells=50) as small:
        response = small.get("/rankings?commodity=gold")
    assert response.status_code == 400
    assert "50" in response.json()["detail"]


def test_time_budget_is_503_then_the_cached_result(app_settings: Settings) -> None:
    """A ranking over budget answers 503 but keeps computing; the retry gets it."""
    # the development gate off: the Klamath gold districts are worked ground
    query = "/rankings?commodity=gold&bbox=-123.2,41.0,-122.6,41.4&top=5&min_undeveloped_share=0"
    with make_client(app_settings, ranking_time_budget_s=1e-6) as hurried:
        response = hurried.get(query)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "TimeBudgetExceededError"
        assert "time budget" in response.json()["detail"]
        deadline = time.monotonic() + 60
        while response.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            response = hurried.get(query)
        assert response.status_code == 200
        assert 0 < len(response.json()["features"]) <= 5


def test_openapi_describes_every_parameter(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/rankings", "/rankings/{cellId}", "/shortlist", "/shortlist/manifest"):
        operation = spec["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"weights", "top", "commodity", "critical", "bbox"} <= names
        for parameter in operation["parameters"]:
            assert parameter.get("description"), (path, parameter["name"])
    shortlist = spec["paths"]["/shortlist"]["get"]
    assert "format" in {p["name"] for p in shortlist["parameters"]}
    assert set(shortlist["responses"]["200"]["content"]) >= {"text/csv", "application/zip"}


def test_cell_geometry_is_valid(gold: dict[str, Any]) -> None:
    geoms = [shape(f["geometry"]) for f in gold["features"]]
    assert shapely.is_valid(geoms).all()


class FakeEngine:
    """Counts rankings; blocks until ``release`` is set; fails for ``fail_on`` params."""

    def __init__(self) -> None:
        self.store = SimpleNamespace(build_id="20260101T000000-abcdef12")
        self.calls = 0
        self.release = threading.Event()
        self.release.set()
        self.fail_on: RankParams | None = None

    def rank(self, params: RankParams) -> Any:
        self.calls += 1
        self.release.wait(10)
        if params == self.fail_on:
            raise InvalidParameterError("boom")
        return SimpleNamespace(params=params.to_dict())


def _rank(service: RankingService, params: RankParams, budget_s: float) -> Any:
    """``service.rank`` from synchronous code, with a deadline ``budget_s`` from now."""
    return asyncio.run(service.rank(params, time.monotonic() + budget_s))


def test_ranking_service_lru_single_flight_and_failures() -> None:
    engine = FakeEngine()
    # every ranking sized 100 bytes, a budget of two
    service = RankingService(engine, 200, workers=2, sizer=lambda _: 100)  # type: ignore[arg-type]
    p1, p2, p3 = (RankParams(cell_km=k) for k in (5, 6, 7))
    try:
        first = _rank(service, p1, 5)
        assert _rank(service, RankParams(cell_km=5), 5) is first  # equal params: one entry
        _rank(service, p2, 5)
        _rank(service, p3, 5)
        assert engine.calls == 3 and service.cached() == 2
        _rank(service, p1, 5)  # evicted (least recently used): computed again
        assert engine.calls == 4

        engine.release.clear()  # slow: the request gives up, the computation goes on
        p4 = RankParams(cell_km=8)
        with pytest.raises(TimeBudgetExceededError, match="time budget"):
            _rank(service, p4, 0.05)
        engine.release.set()
        assert _rank(service, p4, 5).result.params["cell_km"] == 8
        assert engine.calls == 5  # the retry reused the running computation

        engine.fail_on = p5 = RankParams(cell_km=9)
        for _ in range(2):  # a failure is raised and not cached
            with pytest.raises(InvalidParameterError):
                _rank(service, p5, 5)
        assert engine.calls == 7
    finally:
        service.close()


def test_repeated_ranking_is_served_from_the_encoded_bytes(
    client: TestClient, gold: dict[str, Any]
) -> None:
    """A repeat of the same request is the bytes encoded the first time (no re-encoding)."""
    url = f"/rankings?{GOLD}&{SENT_QUERY}"
    first, again = client.get(url), client.get(url)
    assert again.status_code == 200 and again.content == first.content
    assert again.json() == gold


def test_ranking_service_encodes_once_per_ranking_and_top() -> None:
    engine = FakeEngine()
    # rankings sized 100 bytes; a quarter of the budget holds the encoded bodies
    service = RankingService(engine, 2000, workers=1, sizer=lambda _: 100)  # type: ignore[arg-type]
    calls: list[int] = []

    def encoder(top: int):
        return lambda: calls.append(top) or f"top={top}".encode()

    try:
        params = RankParams(cell_km=5)
        ranking = _rank(service, params, 5)
        assert service.encoded(params, 10, ranking, encoder(10)) == b"top=10"
        assert service.encoded(params, 10, ranking, encoder(10)) == b"top=10"
        assert service.encoded(params, 20, ranking, encoder(20)) == b"top=20"
        assert calls == [10, 20]
        assert service.cached_encoding(params, 10) == b"top=10"
        recomputed = dataclasses.replace(ranking, serial=-1)  # another computation, same key
        service.encoded(params, 10, recomputed, encoder(10))
        assert calls == [10, 20, 10]
    finally:
        service.close()


def test_rankings_beyond_the_workers_and_queue_are_refused_at_once() -> None:
    """One worker and one queued: a third new ranking is a RankingOverloadedError
    without waiting; a cached ranking is still answered; once done, new ones are taken."""
    engine = FakeEngine()
    service = RankingService(engine, 800, workers=1, queue=1, sizer=lambda _: 100)  # type: ignore[arg-type]
    try:
        done = _rank(service, RankParams(cell_km=4), 5)
        engine.release.clear()
        running, queued = (
            service._future(RankParams(cell_km=5)),
            service._future(RankParams(cell_km=6)),
        )
        assert service.pending() == 2
        started = time.monotonic()
        with pytest.raises(RankingOverloadedError, match="1 computing, 1 waiting"):
            _rank(service, RankParams(cell_km=7), 5)
        assert time.monotonic() - started < 0.5
        assert _rank(service, RankParams(cell_km=4), 5) is done  # cached: no slot needed
        assert service._future(RankParams(cell_km=6)) is queued  # joins, no new slot
        engine.release.set()
        running.result(5), queued.result(5)
        assert service.pending() == 0
        assert _rank(service, RankParams(cell_km=7), 5).result.params["cell_km"] == 7
    finally:
        engine.release.set()
        service.close()


def test_the_time_budget_counts_the_time_queued() -> None:
    """A ranking that would take no time at all, queued behind a slow one, runs out of
    its budget while it waits for the one worker."""
    engine = FakeEngine()
    service = RankingService(engine, 800, workers=1, queue=1, sizer=lambda _: 100)  # type: ignore[arg-type]
    try:
        engine.release.clear()
        service._future(RankParams(cell_km=5))  # holds the worker
        with pytest.raises(TimeBudgetExceededError, match="time queued included"):
            _rank(service, RankParams(cell_km=6), 0.2)
    finally:
        engine.release.set()
        service.close()
