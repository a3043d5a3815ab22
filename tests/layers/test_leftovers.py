"""What killed fetches and builds leave behind is removed by the next one (unless another
is running), and a source missing a sidecar or empty is an error naming the file."""

from __future__ import annotations

import fcntl
import os
import shutil
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import settings as settings_module
from app.cli import cli
from layers import catalog, provision, store
from layers.errors import SchemaError

WILDERNESS = "co_ut_wilderness"  # a shapefile with its sidecars in the mirror


def _copy_raw(mirror_dir: Path, raw: Path, layer_ids: list[str]) -> None:
    for layer_id in layer_ids:
        for source in catalog.layer(layer_id).sources:
            for path in (source.mirror_path, *(c for c, _ in source.companions)):
                (raw / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(mirror_dir / path, raw / path)


def _layers(*ids: str) -> list[catalog.Layer]:
    return [catalog.layer(i) for i in ids]


def test_a_killed_fetch_part_file_is_removed_by_the_next_fetch(
    tmp_path: Path, mirror_dir: Path
) -> None:
    raw = tmp_path / "raw"
    layers = _layers("nps_units")
    provision.fetch(layers, raw, mirror_dir, progress=False, download=False)
    target = raw / layers[0].primary.mirror_path
    stale = target.with_name(f".{target.name}.k1ll3d.part")  # as _Staging names them
    stale.write_bytes(b"half a file")
    elsewhere = raw / "deposits" / ".MRDS.txt.x.part"
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    elsewhere.write_bytes(b"")
    provision.fetch(layers, raw, mirror_dir, progress=False, download=False)
    assert not stale.exists() and not elsewhere.exists()
    assert target.is_file()


def test_part_files_of_a_running_fetch_are_left_alone(tmp_path: Path, mirror_dir: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    live = raw / ".states.json.live.part"
    live.write_bytes(b"being written")
    fd = os.open(raw / provision.FETCH_LOCK, os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # another fetch is running
        provision.fetch(_layers("nps_units"), raw, mirror_dir, progress=False, download=False)
        assert live.exists()
    finally:
        os.close(fd)


def test_a_killed_build_staging_folder_is_removed_by_the_next_build(
    tmp_path: Path, mirror_dir: Path
) -> None:
    raw = tmp_path / "raw"
    layers = _layers("states")
    _copy_raw(mirror_dir, raw, ["states"])
    first = store.build(raw, tmp_path, layers=layers, progress=False)
    stores = tmp_path / "stores"
    killed = stores / ".tmp-20260101T000000-deadbeef"  # no live lock: its build is gone
    (killed / "half.parquet").parent.mkdir(parents=True)
    (killed / "half.parquet").write_bytes(b"PAR1")
    lock_only = stores / ".tmp-20260101T000001-deadbeef.lock"  # killed before its mkdir
    lock_only.write_bytes(b"")
    running = stores / ".tmp-20260101T000002-cafecafe"  # a build running elsewhere
    running.mkdir()
    fd = store._lock_staging(running)
    try:
        again = store.build(raw, tmp_path, layers=layers, progress=False)  # unchanged: skipped
        assert again.skipped and again.root == first.root
        assert not killed.exists() and not lock_only.exists()
        assert running.exists()
    finally:
        store._unlock_staging(running, fd)
    store.build(raw, tmp_path, layers=layers, progress=False, force=True)
    assert not running.exists()
    assert not list(stores.glob(".tmp-*"))


def test_a_shapefile_without_its_dbf_is_an_error_naming_the_file(
    tmp_path: Path, mirror_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    _copy_raw(mirror_dir, raw, ["states", WILDERNESS])
    shp = raw / catalog.layer(WILDERNESS).primary.mirror_path
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(SchemaError, match=rf"{shp.stem}\.dbf: missing; the shapefile"):
        store.build(raw, tmp_path, layers=_layers("states", WILDERNESS), progress=False)
    assert not list((tmp_path / "stores").glob(".tmp-*"))

    # the CLI prints the message (exit 2), not a traceback
    monkeypatch.setenv("FEDMIN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(store, "build", partial(store.build, layers=_layers("states", WILDERNESS)))
    settings_module.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["data", "build", "--quiet"])
    finally:
        settings_module.get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert f"{shp.stem}.dbf: missing" in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit


def test_an_empty_mrds_table_is_an_error_naming_the_file(tmp_path: Path, mirror_dir: Path) -> None:
    raw = tmp_path / "raw"
    _copy_raw(mirror_dir, raw, ["states", "mrds"])
    table = raw / catalog.layer("mrds").primary.mirror_path
    table.write_bytes(b"")
    with pytest.raises(SchemaError, match=r"MRDS\.txt: the source file is empty \(0 bytes\)"):
        store.build(raw, tmp_path, layers=_layers("states", "mrds"), progress=False)
    table.write_bytes(b"\n\n")
    with pytest.raises(SchemaError, match=r"MRDS\.txt: cannot parse"):
        store.build(raw, tmp_path, layers=_layers("states", "mrds"), progress=False)
