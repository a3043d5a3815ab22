"""Fixtures shared by every test package: the real-data mirror and a store built from it.

The store is built once per test session from the mirror of real public data (the
``shared/data`` folder beside the checkout, or ``FEDMIN_DATA_MIRROR``), exactly as
``fedmin data fetch`` + ``fedmin data build`` would, into a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layers import catalog, provision, store

REPO = Path(__file__).resolve().parent.parent
#: Starlette's TestClient sends ``Host: testserver``; the live servers are on 127.0.0.1.
os.environ.setdefault("FEDMIN_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
#: Tests must not fail because a shared machine is slow: a ranking may take minutes
#: (the tests of the time budget set their own).
os.environ.setdefault("FEDMIN_RANKING_TIME_BUDGET_S", "600")


def _mirror() -> Path | None:
    configured = os.environ.get("FEDMIN_DATA_MIRROR")
    candidate = Path(configured) if configured else REPO.parent / "shared" / "data"
    return candidate if (candidate / "PROVENANCE.md").exists() else None


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    mirror = _mirror()
    if mirror is None:
        pytest.skip("no real-data mirror (set FEDMIN_DATA_MIRROR or provide ../shared/data)")
    return mirror


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """A data directory with raw sources fetched from the mirror and a built store."""
    root = tmp_path_factory.mktemp("fedmin-data")
    provision.fetch(catalog.LAYERS, root / "raw", mirror_dir, progress=False, download=False)
    store.build(root / "raw", root, progress=False)
    return root


@pytest.fixture(scope="session")
def real_store(data_dir: Path) -> store.Store:
    return store.open_store(data_dir)
