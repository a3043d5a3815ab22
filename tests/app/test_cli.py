"""The ``fedmin`` CLI on the real store: list, rank with an export, bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyogrio
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import settings as settings_module
from app.cli import cli
from app.main import create_app
from app.settings import Settings


@pytest.fixture()
def runner(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FEDMIN_DATA_DIR", str(data_dir))
    settings_module.get_settings.cache_clear()
    yield CliRunner()
    settings_module.get_settings.cache_clear()


def test_data_list_prints_layers_with_counts(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert "mrds" in result.output and "4330 rows" in result.output
    assert "tiger_primary_roads" in result.output and "absent" in result.output


def test_rank_prints_the_table_and_writes_a_geopackage(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "gold.gpkg"
    args = [
        "rank",
        "--commodity",
        "gold",
        "--bbox",
        "-124.4,40,-122.3,41.8",
        "--top",
        "5",
        "--out",
        str(out),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "top 5 of" in result.output and "success-rate AUC" in result.output
    cells = pyogrio.read_dataframe(out, layer="cells")
    assert cells["rank"].tolist() == [1, 2, 3, 4, 5]
    assert cells["score"].is_monotonic_decreasing
    assert cells.iloc[0]["cell_id"] in result.output
    metadata = pyogrio.read_dataframe(out, layer="metadata", read_geometry=False)
    assert '"gold"' in metadata.set_index("key").loc["params", "value"]


def test_rank_rejects_bad_weights_and_commodities(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rank", "--commodity", "unobtainium"])
    assert result.exit_code == 2 and "unknown commodity 'unobtainium'" in result.output
    result = runner.invoke(cli, ["rank", "--weights", "potential=-1"])
    assert result.exit_code == 2 and "potential" in result.output
    result = runner.invoke(cli, ["rank", "--weights", "potential"])
    assert result.exit_code == 2 and "name=number" in result.output


def test_serve_with_workers_runs_the_app_factory(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers need an import string (each process builds its own app)."""
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    result = runner.invoke(cli, ["serve", "--port", "8123", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert calls == [
        (
            ("app.main:create_app",),
            {
                "factory": True,
                "workers": 2,
                "host": "127.0.0.1",
                "port": 8123,
                "access_log": False,
            },
        )
    ]
    assert runner.invoke(cli, ["serve", "--workers", "0"]).exit_code != 0


def test_rank_takes_the_critical_list_and_says_which(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "critical.geojson"
    args = ["rank", "--commodity", "critical", "--critical-list", "eo14241", "--state", "CA"]
    result = runner.invoke(cli, [*args, "--top", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "critical minerals: eo14241" in result.output
    doc = orjson.loads(out.read_bytes())
    assert doc["fedmin"]["params"]["filter"]["critical_list"] == "eo14241"
    assert doc["fedmin"]["critical_list"]["minerals"] == 61
    assert "gold" in doc["fedmin"]["params"]["filter"]["commodity_names"]
    deposits = [
        f["properties"] for f in doc["features"] if f["properties"]["feature_type"] == "deposit"
    ]
    assert deposits and all(d["critical"] for d in deposits)  # critical under eo14241
    assert any(d["commodities"] == ["gold"] for d in deposits)  # gold-only counts here
    result = runner.invoke(cli, ["rank", "--critical-list", "usgs2018"])
    assert result.exit_code == 2 and "usgs2025" in result.output


def test_data_build_warms_the_map_first_ranking(
    runner: CliRunner, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fedmin data build` (sources unchanged: no rebuild) then computes the cell statics
    of the store-wide grids at the overview and default cell sizes and ranks the map's
    first view once; a server started afterwards answers the map's first ranking from the
    file it wrote, computing no component, and a new filter at the default size computes
    no cell static."""
    # the overview's size (the national 5 km grid alone takes 30 s)
    monkeypatch.setenv("FEDMIN_DEFAULT_CELL_KM", "25")
    result = runner.invoke(cli, ["data", "build", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output and "warmed in" in result.output
    settings = Settings(
        data_dir=data_dir, offline=True, prospectivity_prewarm=False, default_cell_km=25
    )
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.serving.current.engine
        # the map's first request (app/map/static/fedmin.js: the overview, top 500)
        response = client.get(f"/rankings?cell_km={settings.overview_cell_km:g}&top=500")
        assert response.status_code == 200, response.text
        assert len(response.json()["features"]) == 500
        assert engine.stats["components.compute"] == 0
        assert engine.stats["components.load"] == 1
        # a filter of its own at the default size: the build's cell statics, read back
        response = client.get(
            "/rankings?cell_km=25&commodity=tungsten&state=NV&min_undeveloped_share=0&top=5"
        )
        assert response.status_code == 200, response.text
        assert response.json()["features"]
        assert engine.stats["statics.load"] == 1 and engine.stats["statics.cells"] == 0
