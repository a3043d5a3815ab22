"""One API client for the app tests: the real store, with the lifespan run (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture(scope="session")
def app_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, offline=True)


@pytest.fixture(scope="session")
def client(app_settings: Settings) -> Iterator[TestClient]:
    """The app over the session's real store; entering the client runs the lifespan."""
    with TestClient(create_app(app_settings)) as client:
        yield client
