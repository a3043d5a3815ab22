"""A real OGC API - Features client, GDAL's OAPIF driver, reads the API over HTTP.

uvicorn serves the app on 127.0.0.1 (a free port) in a thread. GDAL reads through
pyogrio's Arrow path (``use_arrow=True``), which releases the GIL while libcurl waits;
the classic path, and the OGC API driver's tile reads, hold the GIL during the fetch, so
an in-process server thread could never answer them: those run in a child process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pyogrio
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

NORCAL = (-123.6, 40.5, -122.4, 41.6)


@pytest.fixture(scope="module")
def server_url(app_settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(app_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    # a request the server never answers fails the test instead of hanging the suite
    pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": "120"})
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _none_if_na(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _api_features(client: TestClient, collection: str, **params: object) -> list[dict]:
    doc = client.get(f"/collections/{collection}/items", params={"limit": 10_000, **params})
    body = doc.json()
    assert body["numberReturned"] == body["numberMatched"]
    return body["features"]


def test_gdal_reads_states_like_the_api(client: TestClient, server_url: str) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{server_url}", layer="states", use_arrow=True)
    features = {f["id"]: f["properties"] for f in _api_features(client, "states")}
    assert len(frame) == len(features) == 56
    assert set(frame["id"]) == set(features)
    for row in frame.itertuples():
        assert (row.name, row.state, row.level) == (
            features[row.id]["name"],
            features[row.id]["state"],
            features[row.id]["level"],
        )


def test_gdal_pages_deposits_in_a_bbox_like_the_api(client: TestClient, server_url: str) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server_url}", layer="deposits", bbox=NORCAL, use_arrow=True, PAGE_SIZE=1000
    )
    bbox = ",".join(map(str, NORCAL))
    features = {f["id"]: f for f in _api_features(client, "deposits", bbox=bbox)}
    assert len(frame) == len(features) > 1000  # so GDAL followed next links
    assert set(frame["id"]) == set(features)
    frame = frame.set_index("id")
    for fid in ("mrds:10034372", *sorted(features)[:: max(1, len(features) // 50)]):
        row, api = frame.loc[fid], features[fid]
        props = api["properties"]
        for column in ("name", "dev_status", "primary_commodity", "mineral_entry", "county"):
            assert _none_if_na(row[column]) == props[column], (fid, column)
        commodities = row["commodities"]  # GDAL: a StringList, null when empty
        assert ([] if commodities is None else list(commodities)) == props["commodities"]
        assert bool(row["critical"]) == props["critical"]
        for column in ("dist_road_m", "dist_rail_m", "dist_power_m"):
            value = props[column]
            assert np.isnan(row[column]) if value is None else np.isclose(row[column], value)
        assert [row.geometry.x, row.geometry.y] == api["geometry"]["coordinates"]


def _items_requests(caplog: pytest.LogCaptureFixture, collection: str) -> list[str]:
    return [
        r.fields["query"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "fedmin.access" and r.fields["path"] == f"/collections/{collection}/items"  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize(
    ("where", "direct"),
    [
        ("state = 'NV'", {"state": "NV"}),
        (
            "state = 'NV' AND dev_status IN ('producer', 'past_producer')",
            {"state": "NV", "dev_status": "producer,past_producer"},
        ),
    ],
)
def test_gdal_where_is_sent_to_the_server_in_few_pages(
    client: TestClient,
    server_url: str,
    caplog: pytest.LogCaptureFixture,
    where: str,
    direct: dict[str, str],
) -> None:
    """GDAL (3.12, pyogrio's) turns ``-where`` on these properties into server-side
    query parameters and pages at the advertised maximum ``limit`` (which GDAL caps at
    1000), not at ``limit=10``: the 8,539 Nevada sites in 9 or 10 pages, where GDAL
    would ask 854. (GDAL does not send a CQL2 ``filter``: it looks for the draft name
    ``cql-text``; what is not a query parameter, like a LIKE, it evaluates itself.)"""
    caplog.set_level("INFO", logger="fedmin.access")
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server_url}", layer="deposits", where=where, use_arrow=True
    )
    expected = {f["id"] for f in _api_features(client, "deposits", **direct)}
    assert len(expected) > 0 and set(frame["id"]) == expected
    requests = _items_requests(caplog, "deposits")
    pages = [q for q in requests if "limit=1000" in q]
    # ceil(matched / 1000) pages, GDAL at times asking the first page twice (with its
    # CRS); at most the pages of the state alone: GDAL may evaluate the IN itself
    in_state = len(_api_features(client, "deposits", state="NV"))
    assert -(-len(expected) // 1000) <= len(pages) <= -(-in_state // 1000) + 1, requests
    assert len(requests) <= len(pages) + 1  # plus GDAL's schema probe (limit=20)


def test_gdal_where_like_on_commodities_and_state(
    client: TestClient, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``-where "commodities LIKE '%lithium%' AND state = 'NV'"``, as the README tells
    GDAL users to ask it: GDAL reads a JSON list as a StringList, which its SQL refuses
    to LIKE, unless ``OGR_GEOJSON_ARRAY_AS_STRING=YES`` makes it the list's JSON text.
    The state goes to the server (``state=NV``), the LIKE is GDAL's: the features are
    those of the server's own CQL2 filter, in the pages of Nevada's sites."""
    where = "commodities LIKE '%lithium%' AND state = 'NV'"
    with pytest.raises(ValueError, match="Invalid SQL query"):
        pyogrio.read_dataframe(f"OAPIF:{server_url}", layer="deposits", where=where)
    caplog.set_level("INFO", logger="fedmin.access")
    pyogrio.set_gdal_config_options({"OGR_GEOJSON_ARRAY_AS_STRING": "YES"})
    try:
        frame = pyogrio.read_dataframe(
            f"OAPIF:{server_url}", layer="deposits", where=where, use_arrow=True
        )
    finally:
        pyogrio.set_gdal_config_options({"OGR_GEOJSON_ARRAY_AS_STRING": None})
    requests = _items_requests(caplog, "deposits")  # GDAL's, before the direct ones below
    expected = {f["id"] for f in _api_features(client, "deposits", filter=where)}
    assert len(expected) >= 50 and set(frame["id"]) == expected
    assert {"usgs_lithium:NV00121", "usgs_lithium:NV00122"} <= expected
    in_state = len(_api_features(client, "deposits", state="NV"))
    pages = [q for q in requests if "limit=1000" in q]
    assert all("state=NV" in q for q in pages), requests
    # plus a schema probe (limit=20) per open: the refused read's and this one's
    assert len(pages) <= -(-in_state // 1000) + 1 and len(requests) <= len(pages) + 2, requests


#: GDAL's OGC API tile reader, run in a child process: in this one it holds the GIL while
#: it waits for the tiles of the in-process server, which then cannot answer.
OGCAPI_READER = """
import json, sys, pyogrio
url, layer = sys.argv[1:3]
layers = [name for name, _ in pyogrio.list_layers(url)]
frame = pyogrio.read_dataframe(url, layer=layer)
print(json.dumps({"layers": layers, "names": frame["name"].tolist()}))
"""


def test_gdal_ogcapi_reads_a_vector_tile_layer(client: TestClient, server_url: str) -> None:
    """GDAL's OGC API driver follows collection -> tilesets -> tileset -> tile matrix
    set, exposes one layer per zoom and reads the MVT tiles of zoom 0."""
    url = f"OGCAPI:{server_url}/collections/states"
    done = subprocess.run(
        [sys.executable, "-c", OGCAPI_READER, url, "Zoom level 0"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "120"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    read = json.loads(done.stdout.splitlines()[-1])
    assert read["layers"] == [f"Zoom level {z}" for z in range(17)]
    states = {f["properties"]["name"] for f in _api_features(client, "states")}
    assert 50 <= len(read["names"]) <= len(states) and set(read["names"]) <= states
    assert {"California", "Nevada", "Alaska"} <= set(read["names"])
