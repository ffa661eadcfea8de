"""A fake Hugging Face Hub: a real HTTP server on 127.0.0.1 that huggingface_hub 2.4 downloads from.

It serves model repositories built from local folders (``add_repo``), with the
endpoints huggingface_hub really calls:

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``model_info``,
  ``repo_info``; ``?blobs=true`` is ``files_metadata=True``, ``?expand=...`` filters);
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` (``list_repo_tree``, which
  ``snapshot_download`` uses), paginated with a ``Link: <...>; rel="next"`` header;
- ``HEAD`` and ``GET /{repo}/resolve/{rev}/{path}`` (``hf_hub_download``), with
  ``X-Repo-Commit``, ``ETag`` (the git blob sha1, or the sha256 for LFS files, as the
  cache names blobs), ``X-Linked-Etag``/``X-Linked-Size`` for LFS files, and ``Range``
  requests (206), so an interrupted download resumes.

Files are answered directly (no redirect to a CDN) and Xet is never advertised
(no ``X-Xet-*`` headers, no ``xetHash`` in the tree), so huggingface_hub uses
plain HTTP without ``HF_HUB_DISABLE_XET``. Errors carry the ``X-Error-Code``
that ``hf_raise_for_status`` maps to typed errors: ``RepoNotFound`` (401
without a token, 404 with one; private repos look missing unless the request
carries ``hub.token``), ``RevisionNotFound``, ``EntryNotFound`` and
``GatedRepo`` (401 without a token, 403 with another one). As on the real Hub,
a gated repo's info and file list are public; only its files are gated.

Pointing huggingface_hub at it:

- pass ``endpoint=hub.url`` to ``HfApi``, ``snapshot_download`` and ``hf_hub_download``;
- or ``hub.use(monkeypatch)`` in-process: huggingface_hub reads ``HF_ENDPOINT``
  once, at import, into ``constants.ENDPOINT`` and the download URL template,
  so setting the variable later does nothing by itself;
- a subprocess reads the variable at its own import:
  ``subprocess.run(cmd, env={**os.environ, "HF_ENDPOINT": hub.url})``.

Knobs: ``bytes_per_second`` throttles file bodies, ``fail_next`` answers
requests with an HTTP error (500 by default), ``cut_next`` drops a download
after some bytes, ``tree_page_size`` forces pagination, and ``calls()``
records every request. Everything is guarded by one lock; ``close()`` cuts
throttled downloads short.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import math
import re
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml
from huggingface_hub import constants

from tests.fakes.loopback import LoopbackServer

if TYPE_CHECKING:
    import pytest

#: The token that sees private and gated repos; any other token is a user without access.
DEFAULT_TOKEN = "hf_fake_hub_token"
#: What the Hub's default ``.gitattributes`` stores with LFS, plus sentencepiece models.
LFS_PATTERNS = (
    *("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz", "*.h5", "*.joblib"),
    *("*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb"),
    *("*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "*.spm", "*.tar", "*.tar.*"),
    *("*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*"),
)
#: The Hub refuses plain git files above 10 MiB, so anything larger is LFS.
LFS_MIN_SIZE = 10 * 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{40}")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_TREE_PAGE = 1000  # the Hub's page sizes for tree listings
_TREE_PAGE_EXPANDED = 50
_TICK = 0.05  # a throttled body is sent in pieces this many seconds apart
_CHUNK = 1 << 16
_SKIPPED = (".git/", ".cache/huggingface/")  # git internals and huggingface_hub's local_dir metadata
_SERVER_ERROR = "Internal Error - We're working hard to fix this as soon as possible!"


@dataclass(frozen=True)
class HubCall:
    """One request, as received: ``path`` is the raw path (still %-encoded), ``headers`` lower-case.

    ``at`` is ``time.monotonic()`` on arrival; ``fault`` names the injected fault that
    answered it (``"500"``, ``"cut"``...), ``None`` if it was answered normally.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float
    fault: str | None = None


@dataclass(frozen=True)
class _File:
    path: str
    data: bytes
    oid: str  # git blob sha1: of the content, or of the LFS pointer for LFS files (the Hub's blobId)
    sha256: str | None  # set for LFS files
    pointer_size: int | None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def etag(self) -> str:
        """What the cache names the blob after: the sha256 for LFS files, the git sha1 otherwise."""
        return self.sha256 or self.oid

    def lfs(self, sha_key: str) -> dict[str, Any] | None:
        """LFS details as the Hub spells them: ``sha256`` in model_info siblings, ``oid`` in the tree."""
        if self.sha256 is None:
            return None
        return {sha_key: self.sha256, "size": self.size, "pointerSize": self.pointer_size}


@dataclass(frozen=True)
class _Commit:
    sha: str
    files: dict[str, _File]
    date: str
    derived: dict[str, Any]  # model_info fields computed from the files
    overrides: dict[str, Any]  # add_repo's ``info``: None values delete the field

    def tree(self, folder: str, *, recursive: bool) -> list[dict[str, Any]] | None:
        """Tree entries under ``folder`` (None if there is no such folder), sorted by path."""
        prefix = f"{folder}/" if folder else ""
        dirs = {"/".join(p.split("/")[:i]) for p in self.files for i in range(1, p.count("/") + 1)}
        if folder and folder not in dirs:
            return None

        def wanted(path: str) -> bool:
            return path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :])

        entries = [{"type": "directory", "oid": self._tree_oid(d), "size": 0, "path": d} for d in dirs if wanted(d)]
        for f in self.files.values():
            if wanted(f.path):
                entry: dict[str, Any] = {"type": "file", "oid": f.oid, "size": f.size, "path": f.path}
                if f.sha256 is not None:
                    entry["lfs"] = f.lfs("oid")
                entries.append(entry)
        return sorted(entries, key=lambda e: e["path"])

    def _tree_oid(self, folder: str) -> str:
        listing = "\n".join(f"{f.path} {f.oid}" for f in self.files.values() if f.path.startswith(f"{folder}/"))
        return hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()


@dataclass
class _Repo:
    gated: Literal["auto", "manual", False]
    private: bool
    commits: dict[str, _Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int | None  # None: a cut download
    cut_after: int | None
    method: str | None
    path: str | None
    remaining: int

    @property
    def label(self) -> str:
        return "cut" if self.status is None else str(self.status)

    def matches(self, method: str, path: str) -> bool:
        if self.status is None and "/resolve/" not in path:
            return False  # cuts are for file bodies only
        return self.method in (None, method) and (self.path is None or self.path in path)


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes | memoryview = b""
    throttled: bool = False
    cut_after: int | None = None


class FakeHub(LoopbackServer):
    """Model repositories served the way huggingface.co serves them, on an ephemeral loopback port.

    Use it as a context manager (or ``start()``/``close()``); ``url`` is what
    ``endpoint=`` and ``HF_ENDPOINT`` take. Requests with ``Authorization: Bearer
    <token>`` see private and gated repos.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bytes_per_second: float | None = None,
        tree_page_size: int | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        #: Throttle for file bodies (each download on its own); None: as fast as possible.
        self.bytes_per_second = bytes_per_second
        #: Entries per tree page; None: the Hub's (1000, or 50 with ``expand=true``).
        self.tree_page_size = tree_page_size
        self._lock = threading.Lock()
        self._repos: dict[str, _Repo] = {}
        self._calls: list[HubCall] = []
        self._faults: list[_Fault] = []

    #: snapshot_download opens 8 connections at once.
    backlog = 64

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint, without a trailing slash as huggingface_hub expects."""
        return self.origin

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this process's huggingface_hub at the fake, for code that passes no ``endpoint=``.

        Sets ``HF_ENDPOINT`` and patches the two constants huggingface_hub derived
        from it at import: ``constants.ENDPOINT`` (HfApi) and
        ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (hf_hub_download's file URLs).
        """
        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", self.url + "/{repo_id}/resolve/{revision}/{filename}"
        )

    # -- repositories ------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        folder: str | Path,
        *,
        revision: str | None = None,
        gated: bool | Literal["auto", "manual"] = False,
        private: bool = False,
        refs: Iterable[str] = (),
        info: Mapping[str, Any] | None = None,
    ) -> str:
        """Publish ``folder``'s files as a new commit of ``repo_id`` and return its sha.

        The files are read now (later edits to the folder do not change the commit);
        ``.git/`` and ``.cache/huggingface/`` are left out. ``revision`` is the commit
        sha (40 hex digits; generated, deterministically, if omitted). ``main`` and
        ``refs`` (extra branch or tag names) point at the newest commit. ``gated``
        (``True`` is ``"auto"``) and ``private`` belong to the repo: the latest call
        sets them. ``info`` overrides model_info fields, spelled as the Hub's JSON
        (``pipeline_tag``, ``library_name``, ``tags``, ``cardData``, ``widgetData``,
        ``config``, ``safetensors``...); a ``None`` value removes the field.

        Raises:
            ValueError: bad repo id or revision, a revision the repo already has, or no such folder.
        """
        if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", repo_id):
            raise ValueError(f"not a repo id: {repo_id!r} (expected 'name' or 'owner/name')")
        root = Path(folder)
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder")
        files = _read_files(root)
        with self._lock:
            repo = self._repos.get(repo_id) or _Repo(False, False)
            sha = revision or _commit_sha(repo_id, len(repo.commits), files.values())
            if not _SHA.fullmatch(sha):
                raise ValueError(f"revision must be 40 lower-case hex digits, got {sha!r}")
            if sha in repo.commits:
                raise ValueError(f"{repo_id} already has revision {sha}")
            repo.gated = "auto" if gated is True else gated
            repo.private = private
            repo.commits[sha] = _Commit(sha, files, _now(), _derived_info(files), dict(info or {}))
            for name in ("main", *refs):
                repo.refs[name] = sha
            self._repos[repo_id] = repo
        return sha

    # -- what the client did -----------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> list[HubCall]:
        """Requests received so far, oldest first; ``path`` filters on a substring of the raw path."""
        with self._lock:
            return [c for c in self._calls if method in (None, c.method) and (path is None or path in c.path)]

    def clear(self) -> None:
        """Forget the recorded calls (repos and faults stay)."""
        with self._lock:
            self._calls.clear()

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, method: str | None = None, path: str | None = None) -> None:
        """Answer the next ``n`` matching requests with ``status`` and no ``X-Error-Code``.

        ``method`` (``"GET"``, ``"HEAD"``) and ``path`` (a substring of the raw path,
        e.g. ``"/tree/"`` or ``"model.safetensors"``) narrow which requests match.
        huggingface_hub retries 5xx on tree listings and file HEADs (after 1 s,
        2 s...), not on model_info.
        """
        with self._lock:
            self._faults.append(_Fault(status, None, method, path, n))

    def cut_next(self, after_bytes: int, n: int = 1, *, path: str | None = None) -> None:
        """Drop the connection of the next ``n`` matching file GETs after ``after_bytes`` of the body.

        The status line and ``Content-Length`` are sent as usual, so huggingface_hub
        sees a truncated body and resumes with a ``Range`` request (after a 1 s pause).
        """
        with self._lock:
            self._faults.append(_Fault(None, after_bytes, "GET", path, n))

    def heal(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._faults.clear()

    # -- request handling (called from the server's threads) ---------------------------------

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> _Answer:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, parts.path)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            label = fault.label if fault is not None else None
            self._calls.append(HubCall(method, parts.path, query, headers, time.monotonic(), label))
        if fault is not None and fault.status is not None:
            return _json(fault.status, {"error": _SERVER_ERROR if fault.status >= 500 else "Injected fault"})
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        answer = self._route(method, segments, parts.path, query, headers)
        if fault is not None and answer.status in (200, 206):
            answer.cut_after = fault.cut_after
        return answer

    def _route(
        self, method: str, segments: list[str], raw_path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> _Answer:
        if segments[:2] == ["api", "models"] and method == "GET":
            repo_id, rest = _split_repo(segments[2:], ("revision", "tree"))
            if not rest:
                return self._model_info(repo_id, "main", query, headers)
            if rest[0] == "revision" and len(rest) == 2:
                return self._model_info(repo_id, rest[1], query, headers)
            if rest[0] == "tree" and len(rest) >= 2:
                return self._tree(repo_id, rest[1], "/".join(rest[2:]), raw_path, query, headers)
        at = next((i for i in (1, 2) if segments[i : i + 1] == ["resolve"]), None)
        if at is not None and len(segments) > at + 2:
            repo_id, revision, path = "/".join(segments[:at]), segments[at + 1], "/".join(segments[at + 2 :])
            return self._resolve(method, repo_id, revision, path, headers)
        return _json(404, {"error": "Sorry, we can't find the page you are looking for."})

    def _find(self, repo_id: str, revision: str, headers: dict[str, str], *, files: bool) -> _Commit | _Answer:
        """The commit ``revision`` names, or the error the Hub answers for this caller."""
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        allowed = token == self.token
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None or (repo.private and not allowed):
                message = "Invalid username or password." if token is None else "Repository not found"
                return _error(401 if token is None else 404, "RepoNotFound", message)
            if files and repo.gated and not allowed:
                if token is None:
                    return _error(
                        401,
                        "GatedRepo",
                        f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in.",
                    )
                return _error(
                    403,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted and you are not in the authorized list. Visit https://huggingface.co/{repo_id} to ask for access.",
                )
            sha = repo.refs.get(revision, revision)
            commit = repo.commits.get(sha)
        if commit is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def _model_info(self, repo_id: str, revision: str, query: dict[str, list[str]], headers: dict[str, str]) -> _Answer:
        found = self._find(repo_id, revision, headers, files=False)
        if isinstance(found, _Answer):
            return found
        with self._lock:
            repo = self._repos[repo_id]
            first = next(iter(repo.commits.values()))
            gated, private = repo.gated, repo.private
        blobs = _flag(query, "blobs")
        siblings = []
        for f in sorted(found.files.values(), key=lambda f: f.path):
            sibling: dict[str, Any] = {"rfilename": f.path}
            if blobs:
                sibling.update(blobId=f.oid, size=f.size)
                if f.sha256 is not None:
                    sibling["lfs"] = f.lfs("sha256")
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0] if "/" in repo_id else None,
            "sha": found.sha,
            "lastModified": found.date,
            "createdAt": first.date,
            "private": private,
            "gated": gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            **found.derived,
            "siblings": siblings,
            "spaces": [],
            "usedStorage": sum(f.size for f in found.files.values()),
        }
        for key, value in found.overrides.items():
            if value is None:
                info.pop(key, None)
            else:
                info[key] = value
        if "expand" in query:
            info = {k: v for k, v in info.items() if k in ("_id", "id", *query["expand"])}
        return _json(200, info)

    def _tree(
        self,
        repo_id: str,
        revision: str,
        folder: str,
        raw_path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> _Answer:
        found = self._find(repo_id, revision, headers, files=False)
        if isinstance(found, _Answer):
            return found
        entries = found.tree(folder.strip("/"), recursive=_flag(query, "recursive"))
        if entries is None:
            return _error(404, "EntryNotFound", f"{folder} does not exist on {revision}")
        expand = _flag(query, "expand")
        size = self.tree_page_size or (_TREE_PAGE_EXPANDED if expand else _TREE_PAGE)
        try:
            cursor = int(query.get("cursor", ["0"])[-1])
        except ValueError:
            return _json(400, {"error": "Invalid cursor"})
        page = entries[cursor : cursor + size]
        if expand:
            last = {"id": found.sha, "title": "Upload folder", "date": found.date}
            page = [{**entry, "lastCommit": last} for entry in page]
        answer = _json(200, page)
        if cursor + size < len(entries):
            following = urlencode({**query, "cursor": [str(cursor + size)]}, doseq=True)
            answer.headers["Link"] = f'<{self.url}{raw_path}?{following}>; rel="next"'
        return answer

    def _resolve(self, method: str, repo_id: str, revision: str, path: str, headers: dict[str, str]) -> _Answer:
        found = self._find(repo_id, revision, headers, files=True)
        if isinstance(found, _Answer):
            return found
        file = found.files.get(path)
        if file is None:
            return _error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": found.sha})
        answer_headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{file.etag}"',
            "X-Repo-Commit": found.sha,
        }
        if file.sha256 is not None:
            answer_headers.update({"X-Linked-Etag": f'"{file.sha256}"', "X-Linked-Size": str(file.size)})
        span = _parse_range(headers.get("range"), file.size) if method == "GET" else None
        if span == "unsatisfiable":
            return _json(416, {"error": "Range Not Satisfiable"}, {"Content-Range": f"bytes */{file.size}"})
        body = memoryview(file.data)
        if isinstance(span, tuple):
            start, end = span
            answer_headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
            answer_headers["Content-Length"] = str(end - start + 1)
            return _Answer(206, answer_headers, body[start : end + 1], throttled=True)
        answer_headers["Content-Length"] = str(file.size)
        return _Answer(200, answer_headers, body, throttled=True)

    def _write_body(self, wfile: io.BufferedIOBase, answer: _Answer) -> None:
        """Send the body: paced at ``bytes_per_second`` if throttled, stopping at a cut or on close."""
        rate = self.bytes_per_second if answer.throttled else None
        body = answer.body
        limit = len(body) if answer.cut_after is None else min(answer.cut_after, len(body))
        piece_size = max(1, int(rate * _TICK)) if rate else _CHUNK
        start = time.monotonic()
        sent = 0
        while sent < limit:
            piece = body[sent : min(limit, sent + piece_size)]
            if rate:
                # A piece leaves only once its share of the time has passed: n bytes take at least n / rate.
                due = start + (sent + len(piece)) / rate
                if self._closing.wait(max(0.0, due - time.monotonic())):
                    return
            wfile.write(piece)
            sent += len(piece)


def _read_files(root: Path) -> dict[str, _File]:
    files: dict[str, _File] = {}
    for item in sorted(root.rglob("*")):
        path = item.relative_to(root).as_posix()
        if not item.is_file() or path.startswith(_SKIPPED):
            continue
        data = item.read_bytes()
        if len(data) >= LFS_MIN_SIZE or any(fnmatch.fnmatch(item.name, p) for p in LFS_PATTERNS):
            sha256 = hashlib.sha256(data).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n".encode()
            files[path] = _File(path, data, _git_blob_sha(pointer), sha256, len(pointer))
        else:
            files[path] = _File(path, data, _git_blob_sha(data), None, None)
    return files


def _git_blob_sha(data: bytes) -> str:
    """``git hash-object``: what the Hub reports as a file's oid / blobId."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _commit_sha(repo_id: str, index: int, files: Iterable[_File]) -> str:
    listing = "\n".join(f"{f.path} {f.oid}" for f in files)
    return hashlib.sha1(f"{repo_id}\n{index}\n{listing}".encode(), usedforsecurity=False).hexdigest()


def _now() -> str:
    """The Hub's timestamp format, ``2024-05-01T12:00:00.000Z``, which huggingface_hub parses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _derived_info(files: Mapping[str, _File]) -> dict[str, Any]:
    """The model_info fields the Hub computes from a commit's files: card, config and safetensors."""
    card = _card_data(files.get("README.md"))
    config = _config(files.get("config.json"))
    weights = _safetensors_parameters([f for p, f in files.items() if p.endswith(".safetensors")])
    library = card.get("library_name") or ("transformers" if config.get("model_type") else None)
    pipeline = card.get("pipeline_tag")
    card_tags = card.get("tags") if isinstance(card.get("tags"), list) else []
    licence = f"license:{card['license']}" if isinstance(card.get("license"), str) else None
    tags = [*card_tags, library, "safetensors" if weights else None, config.get("model_type"), pipeline, licence]
    info: dict[str, Any] = {
        "library_name": library,
        "pipeline_tag": pipeline,
        "tags": list(dict.fromkeys(t for t in tags if isinstance(t, str))),
        "cardData": card or None,
        "widgetData": card.get("widget"),
        "config": config or None,
    }
    if weights:
        info["safetensors"] = {"parameters": weights, "total": sum(weights.values())}
    return {k: v for k, v in info.items() if v is not None}


def _card_data(readme: _File | None) -> dict[str, Any]:
    """The YAML front matter of README.md, which the Hub returns as ``cardData``."""
    if readme is None:
        return {}
    text = readme.data.decode("utf-8", "replace")
    match = re.match(r"---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    if match is None:
        return {}
    try:
        card = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return card if isinstance(card, dict) else {}


def _config(config_file: _File | None) -> dict[str, Any]:
    """The parts of config.json the Hub copies into model_info's ``config``."""
    if config_file is None:
        return {}
    try:
        config = json.loads(config_file.data)
    except ValueError:
        return {}
    if not isinstance(config, dict):
        return {}
    return {k: config[k] for k in ("architectures", "model_type", "auto_map") if k in config}


def _safetensors_parameters(weights: list[_File]) -> dict[str, int]:
    """Parameters per dtype across the safetensors files, from their headers; unreadable files count nothing."""
    counts: dict[str, int] = {}
    for f in weights:
        try:
            (length,) = struct.unpack("<Q", f.data[:8])
            header = json.loads(f.data[8 : 8 + length])
            tensors = [(t["dtype"], math.prod(t["shape"])) for name, t in header.items() if name != "__metadata__"]
        except (struct.error, ValueError, TypeError, KeyError, AttributeError):
            continue
        for dtype, count in tensors:
            counts[dtype] = counts.get(dtype, 0) + count
    return counts


def _split_repo(segments: list[str], keywords: tuple[str, ...]) -> tuple[str, list[str]]:
    """``owner/name`` or a bare ``name``, then the rest of an ``/api/models/...`` path."""
    if len(segments) >= 2 and segments[1] not in keywords:
        return "/".join(segments[:2]), segments[2:]
    return "/".join(segments[:1]), segments[1:]


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[-1].lower() in ("1", "true")


def _parse_range(value: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """One ``bytes=`` range as (first, last) byte; None (send it all) for no header or several ranges."""
    match = _RANGE.fullmatch((value or "").replace(" ", ""))
    if match is None or match.group() == "bytes=-":
        return None
    first, last = match.groups()
    if not first:  # the final N bytes
        start, end = max(0, size - int(last)), size - 1
        return (start, end) if int(last) > 0 and size > 0 else "unsatisfiable"
    start, end = int(first), min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size and start <= end else "unsatisfiable"


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    body = json.dumps(payload).encode()
    base = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body))}
    return _Answer(status, {**base, **(headers or {})}, body)


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> _Answer:
    """An error as the Hub sends it: the code and message in headers (what huggingface_hub keys on) and the body."""
    return _json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})})


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class HubHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a cut download never poisons the next
        timeout = 10  # seconds a client may take to send its request: a stuck client cannot hold close() up

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

        def _serve(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = hub._answer(self.command, self.path, headers)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    hub._write_body(self.wfile, answer)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away mid-answer: nothing left to tell it

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: tests read calls(), not stderr."""

    return HubHandler
