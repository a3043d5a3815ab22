"""Fixtures shared by every test package: the real-data mirror and a store built from it.

The store is built once per test run from the mirror of real public data (the
``shared/data`` folder beside the checkout, or ``FEDMIN_DATA_MIRROR``), exactly as
``fedmin data fetch`` + ``fedmin data build`` would, into a temporary directory. Under
pytest-xdist (``make test`` runs two workers) the first worker builds it while the
others wait, and each worker gets its own hard-linked copy, so the caches a worker writes
beside the store (enrichment, grids, ranking components, surfaces) are its own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from layers import catalog, provision, store

REPO = Path(__file__).resolve().parent.parent
#: Starlette's TestClient sends ``Host: testserver``; the live servers are on 127.0.0.1.
os.environ.setdefault("FEDMIN_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
#: Tests must not fail because a shared machine is slow: a ranking may take minutes when
#: both workers compute (the tests of the time budget set their own).
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
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build(tmp_path_factory.mktemp("fedmin-data"), mirror_dir)
    built = _built_once(tmp_path_factory.getbasetemp().parent, mirror_dir)
    own = tmp_path_factory.mktemp("fedmin-data")
    shutil.copytree(built, own, symlinks=True, copy_function=os.link, dirs_exist_ok=True)
    return own


def _build(root: Path, mirror: Path) -> Path:
    provision.fetch(catalog.LAYERS, root / "raw", mirror, progress=False, download=False)
    store.build(root / "raw", root, progress=False)
    return root


def _built_once(shared: Path, mirror: Path) -> Path:
    """The run's one build in ``shared`` (the workers' common temp directory): the first
    worker to take the lock builds it, the others wait and find it done."""
    root, done = shared / "fedmin-data", shared / "fedmin-data.done"
    with (shared / "fedmin-data.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # a build that failed half-way
            _build(root, mirror)
            done.touch()
    return root


@pytest.fixture(scope="session")
def real_store(data_dir: Path) -> store.Store:
    return store.open_store(data_dir)
