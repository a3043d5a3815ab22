"""MinMod datasets: site ids, bucket reading, merge rules, reprojection, commodity tables,
folder provisioning. Real buckets from the mirror where a test reads data; the merge and
provisioning edge cases use small synthetic records, named as such."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest

from layers import minmod, provision, reference
from layers.catalog import Layer, Source
from layers.errors import ChecksumMismatchError, SchemaError
from layers.schema import LayerKind

ARDF = "deposits/minmod/ta2-minmod-data/data/mineral-sites/umn/ardf"


# --- MinMod site ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_id", "record_id", "creator", "expected"),
    [  # each expected id is copied from MinMod's same-as/*.csv files
        (
            "https://mrdata.usgs.gov/mrds",
            "10136486",
            "umn",
            "site__mrdata-usgs-gov-mrds__10136486__umn",
        ),
        (
            "http://www.oregongeology.org",
            "ID_11580",
            "umn",
            "site__www-oregongeology-org__id-11580__umn",
        ),
        (
            "https://doi.org/10.5066/P9K1HBNT",
            "320",
            "jhammars",
            "site__doi-org-10-5066-p9k1hbnt__320__jhammars",
        ),
        (
            "https://www.gsa.state.al.us/gsa/geologic/nonfuelminerals/nfcritresource",
            "1639",
            "umn",
            "site__www-gsa-state-al-us-gsa-geologic-nonfuelminerals-nfcritresource__1639__umn",
        ),
    ],
)
def test_site_ids_are_those_of_minmods_same_as_files(
    source_id: str, record_id: str, creator: str, expected: str
) -> None:
    assert minmod.minmod_site_id(source_id, record_id, creator) == expected


def test_snapshot_category_prefix_and_creator_lists() -> None:
    assert (
        minmod.normalize_source_id("database::https://mrdata.usgs.gov/mrds")
        == "https://mrdata.usgs.gov/mrds"
    )
    assert minmod.username(["https://minmod.isi.edu/users/s/umn"]) == "umn"
    assert minmod.username("https://minmod.isi.edu/users/u/jhammars") == "jhammars"


# --- reading buckets ---------------------------------------------------------------------


def test_gzip_and_plain_buckets_read_the_same(mirror_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "ardf"
    plain.mkdir()
    for bucket in minmod.bucket_files(mirror_dir / ARDF)[:3]:
        (plain / bucket.name.removesuffix(".gz")).write_bytes(minmod.bucket_bytes(bucket))
        shutil.copy(bucket, tmp_path / bucket.name)
    gz = tmp_path / "gz"
    gz.mkdir()
    for bucket in minmod.bucket_files(mirror_dir / ARDF)[:3]:
        shutil.copy(bucket, gz / bucket.name)
    from_plain, from_gz = minmod.read_minmod(str(plain)), minmod.read_minmod(str(gz))
    pd.testing.assert_frame_equal(from_plain, from_gz)
    assert len(from_gz) == sum(
        len(json.loads(minmod.bucket_bytes(b))) for b in minmod.bucket_files(gz)
    )


def test_red_dog_is_read_as_published(mirror_dir: Path) -> None:
    frame = minmod.read_minmod(str(mirror_dir / ARDF)).set_index("record_id")
    red_dog = frame.loc["DL001"]
    assert red_dog["name"] == "Red Dog; Qanaiyaq; Hilltop; Aqqaluk; Paalaaq"
    assert red_dog["site_type"] == "Mine"
    assert red_dog["crs"] == "EPSG:4267"
    assert red_dog["location"] == "POINT (-162.8379 68.0704)"
    assert red_dog["commodity_observed"] == ["Ag", "Pb", "Zn", "As", "Ba", "Cu", "Sb"]
    assert red_dog["minmod_id"] == "site__doi-org-10-5066-p96mmrfd__dl001__umn"
    assert red_dog["modified_at"] == "2024-10-22T03:54:38Z"


def test_a_bucket_that_is_not_a_record_list_is_a_schema_error(tmp_path: Path) -> None:
    (tmp_path / "b000.json").write_text('{"not": "a list"}')
    with pytest.raises(SchemaError, match=r"b000\.json"):
        minmod.read_minmod(str(tmp_path))
    with pytest.raises(SchemaError, match="no MinMod bucket"):
        minmod.read_minmod(str(tmp_path / "missing"))


# --- locations ---------------------------------------------------------------------------


def test_locations_are_reprojected_and_invalid_ones_dropped() -> None:
    location = pd.Series(
        [
            "POINT (337936 4506676)",  # UMOS record 787, UTM 12N
            "POINT (743652.2372047305 670274.4803149551)",  # DOGAMI ID_21983, EPSG:2994 ft
            "POINT (-162.8379 68.0704)",  # Red Dog, NAD27
            "POINT (-120 -90)",  # the -90 latitude artefact
            "POINT (181.5 52)",  # east of the antimeridian, written past 180
            "MULTIPOINT ((-116.3 37.6))",
            "not wkt",
            None,
        ]
    )
    crs = pd.Series(["EPSG:26912", "EPSG:2994", "EPSG:4267", None, "EPSG:4326", None, None, None])
    lon, lat, stated = minmod.to_lonlat(location, crs)
    utm = pyproj.Transformer.from_crs(26912, 4326, always_xy=True).transform(337936, 4506676)
    assert (lon[0], lat[0]) == pytest.approx(utm)
    assert (lon[0], lat[0]) == pytest.approx((-112.9181, 40.6951), abs=1e-4)  # Utah
    assert (lon[1], lat[1]) == pytest.approx((-122.6462, 43.5684), abs=1e-4)  # Oregon
    # NAD27 -> WGS84 moves Red Dog by about 100 m (not a no-op).
    assert lon[2] != -162.8379 and abs(lon[2] + 162.8379) < 0.01
    assert np.isnan(lon[3]) and np.isnan(lat[3])
    assert lon[4] == pytest.approx(-178.5)
    assert (lon[5], lat[5]) == (-116.3, 37.6)
    assert np.isnan(lon[6]) and np.isnan(lon[7])
    assert stated.tolist() == [True] * 7 + [False]


# --- merge -------------------------------------------------------------------------------


def _synthetic(**columns: list) -> pd.DataFrame:
    n = len(columns["record_id"])
    base = {
        "source_id": ["https://mrdata.usgs.gov/mrds"] * n,
        "name": [None] * n,
        "aliases": [[] for _ in range(n)],
        "commodity_observed": [[] for _ in range(n)],
        "commodity_qid": [[] for _ in range(n)],
        "inventory": [[] for _ in range(n)],
        "minmod_id": [None] * n,
        "lon": [np.nan] * n,
        "lat": [np.nan] * n,
        "_order": list(range(n)),
    }
    return pd.DataFrame(base | columns)


def test_merge_newest_wins_commodities_united_location_from_newest_located() -> None:
    """Synthetic records of one MRDS dep_id from three snapshots and SRI."""
    frame = _synthetic(
        record_id=["1", "1", "1", "1", "2"],
        modified_at=["2025-01-17", "2025-06-15", "2024-11-06", "2025-05-24", "2025-01-17"],
        name=["Old Name", "New Name", None, "Middle", "Other"],
        commodity_observed=[["Gold"], ["Gold"], ["Lithium", "Gold"], [], ["Silver"]],
        commodity_qid=[["Q551"], ["Q551"], ["Q569", "Q551"], [], ["Q585"]],
        lon=[-117.0, np.nan, np.nan, -117.001, -118.0],
        lat=[37.0, np.nan, np.nan, 37.001, 38.0],
        minmod_id=["a__umn", "a__umn", "a__sri", "a__umn", "b__umn"],
    )
    merged, n_merged = minmod.merge_records(frame)
    assert n_merged == 3
    one = merged.set_index("record_id").loc["1"]
    assert one["name"] == "New Name"  # newest modified_at
    assert one["commodity_observed"] == ["Gold", "Lithium"]  # united, newest first
    assert (one["lon"], one["lat"]) == (-117.001, 37.001)  # newest record with a location
    assert one["minmod_id"] == ["a__umn", "a__sri"]
    assert merged.set_index("record_id").loc["2", "name"] == "Other"


def test_a_newer_null_does_not_erase_an_older_value() -> None:
    frame = _synthetic(record_id=["7", "7"], modified_at=["2024", "2025"], name=["Kept", None])
    merged, _ = minmod.merge_records(frame)
    assert merged["name"].tolist() == ["Kept"]


# --- commodity tables --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer_id", "observed", "qid", "expected"),
    [
        ("umos", "U V", None, ("uranium", "vanadium")),
        ("umos", "SDG STN1", "Q656", ("sand_and_gravel", "crushed_stone")),
        ("dogami", "SC", "Q607", ("crushed_stone",)),  # not scandium
        ("dogami", "Zn Au Ag Pb", None, ("zinc", "gold", "silver", "lead")),
        ("nc_survey", "Construc", "Q537", ()),  # not cobalt
        ("ardf", "Cb", None, ("niobium",)),
        ("ardf", "Au", "Q551", ("gold",)),
        ("usgs_potash", "BRI  LI  K  B", None, ("lithium", "potash", "boron")),
        ("minmod_mrds", "Fluorine-Fluorite", "Q543", ("fluorspar",)),
        ("minmod_mrds", "Niobium (Columbium)", None, ("niobium",)),
        ("usgs_asbestos", "chrysotile", None, ("asbestos",)),
        ("earth_mri", "Neodymium", "Q690", ("neodymium",)),
        ("minmod_mrds", "Rhenium", "Q603", ("rhenium",)),
        ("minmod_mrds", None, "Q10002", ("potash",)),  # no observed name: MinMod's id
        ("umos", "BIT", None, ()),  # meaning not stated: nothing, not a guess
        ("va_survey", "gneiss", None, None),  # unresolved: kept in details only
    ],
)
def test_commodity_normalization(
    layer_id: str, observed: str | None, qid: str | None, expected: tuple | None
) -> None:
    assert reference.minmod_commodity(layer_id, observed, qid) == expected


def test_minerals_of_mineral_lists_are_not_commodities() -> None:
    assert reference.minmod_commodity("usgs_sedau", "quartz", "Q630", minerals=True) == ()
    assert reference.minmod_commodity("usgs_sedau", "gold", "Q551", minerals=True) == ("gold",)
    # ... while a state survey's quartz is a commodity
    assert reference.minmod_commodity("nc_survey", "Quartz", "Q630") == ("quartz",)


def test_every_table_name_is_a_known_commodity_and_filters_accept_them() -> None:
    names = {n for names in reference.minmod_observed_names().values() for n in names}
    names |= {n for n in reference.minmod_commodity_names().values() if n}
    assert names <= reference.known_commodities()
    assert reference.resolve_commodity_filter(["rhenium", "neodymium"], frozenset()) == {
        "rhenium",
        "neodymium",
    }
    # every MinMod commodity id of the vocabulary has a row
    assert len(reference.minmod_commodity_names()) == 203


# --- folder provisioning -----------------------------------------------------------------


def _synthetic_mirror(root: Path) -> tuple[Path, Source]:
    """A synthetic MinMod dataset: two buckets (one gzip), with its CONTENT.sha256."""
    folder = root / "deposits/minmod/repo/data/mineral-sites/umn/synthetic"
    folder.mkdir(parents=True)
    contents = {
        "b000.json": json.dumps([{"source_id": "s", "record_id": "1"}]).encode(),
        "b001.json": json.dumps([{"source_id": "s", "record_id": "2"}]).encode(),
    }
    (folder / "b000.json").write_bytes(contents["b000.json"])
    (folder / "b001.json.gz").write_bytes(gzip.compress(contents["b001.json"]))
    lines = [
        f"{hashlib.sha256(data).hexdigest()}  repo/data/mineral-sites/umn/synthetic/{name}"
        + (".gz" if name == "b001.json" else "")
        for name, data in contents.items()
    ]
    listing = root / "deposits/minmod/CONTENT.sha256"
    listing.write_text("\n".join(lines) + "\n")
    pin = hashlib.sha256(listing.read_bytes()).hexdigest()
    source = Source(
        "deposits/minmod/repo/data/mineral-sites/umn/synthetic",
        "https://example.invalid/synthetic",
        pin,
        direct_download=False,
        content_sha256="deposits/minmod/CONTENT.sha256",
    )
    return folder, source


def _folder_layer(source: Source) -> Layer:
    return Layer(
        "synthetic_minmod",
        "synthetic",
        LayerKind.DEPOSITS,
        (source,),
        "minmod",
        "minmod",
        "synthetic",
        "none",
        "synthetic",
    )


def test_a_folder_source_is_copied_verified_and_then_skipped(tmp_path: Path) -> None:
    mirror, raw = tmp_path / "mirror", tmp_path / "raw"
    _, source = _synthetic_mirror(mirror)
    report = provision.fetch([_folder_layer(source)], raw, mirror, progress=False, download=False)
    assert [f.mirror_path for f in report.fetched] == [source.mirror_path]
    copied = raw / source.mirror_path
    assert sorted(p.name for p in copied.iterdir()) == ["b000.json", "b001.json.gz"]
    assert provision.resolve_source_path(raw, source) == str(copied.absolute())
    assert minmod.read_minmod(str(copied))["record_id"].tolist() == ["1", "2"]
    again = provision.fetch([_folder_layer(source)], raw, mirror, progress=False, download=False)
    assert not again.fetched and [f.mirror_path for f in again.skipped] == [source.mirror_path]


def test_a_corrupt_bucket_leaves_nothing_behind(tmp_path: Path) -> None:
    mirror, raw = tmp_path / "mirror", tmp_path / "raw"
    folder, source = _synthetic_mirror(mirror)
    (folder / "b000.json").write_bytes(b'[{"source_id": "s", "record_id": "X"}]')
    with pytest.raises(ChecksumMismatchError, match=r"b000\.json"):
        provision.fetch([_folder_layer(source)], raw, mirror, progress=False, download=False)
    parent = raw / source.mirror_path.rsplit("/", 1)[0]
    assert not (raw / source.mirror_path).exists()
    assert list(parent.iterdir()) == []  # no staging folder left


def test_a_bucket_missing_from_the_mirror_is_refused(tmp_path: Path) -> None:
    mirror, raw = tmp_path / "mirror", tmp_path / "raw"
    folder, source = _synthetic_mirror(mirror)
    (folder / "b001.json.gz").unlink()
    with pytest.raises(ChecksumMismatchError, match=r"missing \['b001.json'\]"):
        provision.fetch([_folder_layer(source)], raw, mirror, progress=False, download=False)
