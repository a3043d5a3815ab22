"""The catalog is the single truth about layers: pins match the mirror, docs mention all."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from layers import catalog, critical, reference
from layers.errors import NotFoundError, UnknownCommodityError
from layers.normalize import NORMALIZERS
from layers.readers import READERS

REPO = Path(__file__).resolve().parents[2]


def test_every_layer_is_documented() -> None:
    doc = (REPO / "docs" / "data.md").read_text()
    missing = [entry.id for entry in catalog.LAYERS if f"`{entry.id}`" not in doc]
    assert missing == []


def test_every_layer_has_a_reader_normalizer_and_provenance() -> None:
    for entry in catalog.LAYERS:
        assert entry.reader in READERS or entry.reader == "raster", entry.id
        # Rasters are copied as COGs; the sites layer is derived by layers/sites.py.
        assert entry.normalizer in (*NORMALIZERS, "raster", "sites"), entry.id
        assert entry.publisher and entry.license and entry.caveats, entry.id
        assert entry.primary.url.startswith("https://"), entry.id


def test_mirror_copies_match_their_pins(mirror_dir: Path) -> None:
    for entry in catalog.LAYERS:
        for source in entry.sources:
            if source.is_folder:  # bucket folders: verified against CONTENT.sha256 instead
                continue
            files = [(source.mirror_path, source.sha256), *source.companions]
            for path, pin in files:
                if entry.optional:
                    assert not (mirror_dir / path).exists()
                    continue
                digest = hashlib.sha256((mirror_dir / path).read_bytes()).hexdigest()
                assert digest == pin, path


def test_unknown_layer_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="known: \\['mrds'"):
        catalog.layer("mrdss")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["AU"], {"gold"}),
        (["gold", "Chromium"], {"gold", "chromium"}),
        (["PGE_PT"], {"platinum"}),
        (["Lithium carbonate"], {"lithium"}),
    ],
)
def test_commodity_filters_resolve_names_and_codes(given: list[str], expected: set[str]) -> None:
    assert reference.resolve_commodity_filter(given, frozenset()) == expected


def test_critical_filter_is_the_given_list() -> None:
    names = critical.critical_names("usgs2022")
    assert reference.resolve_commodity_filter(["critical", "gold"], names) == names | {"gold"}


def test_unknown_commodity_is_an_error_with_advice() -> None:
    with pytest.raises(UnknownCommodityError, match="unknown commodity 'unobtainium'"):
        reference.resolve_commodity_filter(["unobtainium"], frozenset())
