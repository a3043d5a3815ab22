"""A folder of the MinMod data repository (ta2-minmod-data) at a pinned commit.

The catalog names the folder as ``https://github.com/<owner>/<repo>/tree/<commit>/<path>``
(one MinMod dataset: ``data/mineral-sites/<creator>/<source>``, split into bucket files
``b000.json`` ...). A fetch lists the folder from the commit's git tree (the GitHub REST
API, ``/repos/<owner>/<repo>/git/trees/<commit>?recursive=1``), downloads every file from
``raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>`` with the resumable file adapter,
(an abbreviated commit is first resolved with ``/repos/<owner>/<repo>/commits/<sha>``),
and checks each against the git blob id the tree gives (``sha1("blob <size>\\0" + bytes)``),
so every bucket is verified against the pinned commit itself. The folder lands in
``downloads/`` whole: all buckets are committed together, or none.

A source URL on another host (a mirror, the test emulator, set with ``--source``) serves
both the tree (``<base>/repos/...``) and the files (``<base>/<owner>/<repo>/<commit>/...``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from layers.errors import FetchError
from layers.sources import http_file
from layers.sources.http import PoliteClient
from layers.sources.staging import Staging

_TREE_URL = re.compile(
    r"^(?P<base>https?://[^/]+(?:/.*?)?)/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
    r"/tree/(?P<commit>[0-9a-f]{7,40})/(?P<path>.+?)/?$"
)


@dataclass(frozen=True)
class Folder:
    base: str
    owner: str
    repo: str
    commit: str
    path: str

    @classmethod
    def parse(cls, url: str) -> Folder:
        match = _TREE_URL.match(url)
        if match is None:
            raise FetchError(
                f"{url}: a MinMod source must look like "
                "https://github.com/<owner>/<repo>/tree/<commit>/<folder>"
            )
        return cls(**match.groupdict())

    @property
    def github(self) -> bool:
        return urlsplit(self.base).netloc == "github.com"

    @property
    def api(self) -> str:
        return "https://api.github.com" if self.github else self.base

    def tree_url(self) -> str:
        return f"{self.api}/repos/{self.owner}/{self.repo}/git/trees/{self.commit}"

    def commit_url(self) -> str:
        return f"{self.api}/repos/{self.owner}/{self.repo}/commits/{self.commit}"

    def raw_url(self, path: str) -> str:
        raw = "https://raw.githubusercontent.com" if self.github else self.base
        return f"{raw}/{self.owner}/{self.repo}/{self.commit}/{path}"


def blob_sha1(path: Path) -> str:
    """The git blob id of a file: what the commit's tree pins it to."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def full_commit(client: PoliteClient, folder: Folder, what: str) -> Folder:
    """The folder at its full 40-digit commit (the catalog may pin an abbreviated one)."""
    if len(folder.commit) == 40:
        return folder
    response = client.request("GET", folder.commit_url(), f"{what}: commit {folder.commit}")
    sha = str(response.json().get("sha", ""))
    if len(sha) != 40 or not sha.startswith(folder.commit):
        raise FetchError(f"{what}: commit {folder.commit} resolved to {sha!r}")
    return dataclasses.replace(folder, commit=sha)


def list_folder(client: PoliteClient, folder: Folder, what: str) -> list[dict[str, object]]:
    """The files (path, blob sha, size) directly or deeper under the folder at the commit."""
    response = client.request(
        "GET", folder.tree_url(), f"{what}: git tree", params={"recursive": "1"}
    )
    tree = response.json()
    if tree.get("truncated"):
        raise FetchError(f"{what}: the git tree of {folder.commit} came back truncated")
    prefix = folder.path.rstrip("/") + "/"
    files = [
        e for e in tree.get("tree", []) if e.get("type") == "blob" and e["path"].startswith(prefix)
    ]
    if not files:
        raise FetchError(f"{what}: no files under {folder.path} at commit {folder.commit}")
    return sorted(files, key=lambda e: str(e["path"]))


def fetch_folder(
    client: PoliteClient,
    folder: Folder,
    target: Path,
    partial: Path,
    staging: Staging,
    what: str,
    *,
    progress: bool = True,
) -> list[dict[str, object]]:
    """Download and verify every file of the folder; stage them under ``target``."""
    folder = full_commit(client, folder, what)
    entries = []
    for entry in list_folder(client, folder, what):
        rel = str(entry["path"])[len(folder.path.rstrip("/")) + 1 :]
        part = partial / rel
        done = part.is_file() and blob_sha1(part) == entry["sha"]
        if not done:
            http_file.download(
                client,
                folder.raw_url(str(entry["path"])),
                part,
                f"{what}: {rel}",
                progress=progress,
            )
            if blob_sha1(part) != entry["sha"]:
                http_file.discard(part)
                raise FetchError(
                    f"{what}: {rel} does not match git blob {entry['sha']} of commit "
                    f"{folder.commit}; the partial file was removed, run fetch again"
                )
        staged = staging.adopt(part, target / rel)
        entries.append(
            {"path": rel, "git_blob": entry["sha"], "sha256": staged.sha256, "bytes": staged.size}
        )
    return entries
