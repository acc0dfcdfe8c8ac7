"""A small fake Hugging Face Hub on 127.0.0.1, speaking what huggingface_hub 2.x calls.

Hub server (``FakeHub.url``, set it as ``HF_ENDPOINT``):

- ``HEAD|GET /{repo}/resolve/{rev}/{path}``: 302 to the CDN with ``X-Repo-Commit``,
  ``X-Linked-Etag`` (the sha256), ``X-Linked-Size`` and ``ETag``, like the Hub for LFS files;
  with ``redirect = False`` it answers 200 and serves the body itself (``Range`` supported).
- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: model info; siblings
  carry ``size``, ``blobId`` and ``lfs {sha256, size, pointerSize}`` when ``?blobs=true``.
- ``POST /api/models/{repo}/paths-info/{rev}`` (form or JSON ``paths``) and
  ``GET /api/models/{repo}/tree/{rev}[/{path}]``: ``[{type, path, size, oid, lfs {oid, size,
  pointerSize}}]``.

CDN server (another port, so another origin: huggingface_hub does not follow the HEAD redirect
and takes the metadata from the 302, as with the real CDN): ``HEAD|GET /blobs/{sha256}``.

Switches: ``cut_first_get`` (send half the body of the first GET, then drop the connection),
``corrupt`` (``"flip"``: same length, other bytes; ``"extra"``: longer body than advertised),
``fail_gets`` (that many GETs answer 503 first). Every request lands in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

POINTER_SIZE = 134


@dataclass
class Seen:
    server: str
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeHub:
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    redirect: bool = True
    cut_first_get: bool = False
    corrupt: str | None = None
    fail_gets: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cut_done = False
        self._servers: list[ThreadingHTTPServer] = []

    # -------------------------------------------------------------- content
    def add(self, repo: str, filename: str, data: bytes) -> None:
        self.files[(repo, filename)] = data

    def repos(self) -> set[str]:
        return {repo for repo, _ in self.files}

    @staticmethod
    def commit(repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    def sha256(self, repo: str, filename: str) -> str:
        return hashlib.sha256(self.files[(repo, filename)]).hexdigest()

    def served(self, sha: str) -> bytes | None:
        for (repo, name), data in self.files.items():
            if self.sha256(repo, name) == sha:
                if self.corrupt == "flip":
                    return bytes(b ^ 0xFF for b in data[:64]) + data[64:]
                return data + b"extra bytes" if self.corrupt == "extra" else data
        return None

    def is_lfs(self, repo: str, filename: str) -> bool:
        """Like the Hub: .gguf and big files are LFS, small text files are plain git blobs."""
        return filename.endswith(".gguf") or len(self.files[(repo, filename)]) > 10_000

    def entry(self, repo: str, filename: str, *, sibling: bool = False) -> dict[str, Any]:
        data = self.files[(repo, filename)]
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        sha, lfs_file = self.sha256(repo, filename), self.is_lfs(repo, filename)
        if sibling:
            lfs = {"sha256": sha, "size": len(data), "pointerSize": POINTER_SIZE}
            doc = {"rfilename": filename, "size": len(data), "blobId": oid}
        else:
            lfs = {"oid": sha, "size": len(data), "pointerSize": POINTER_SIZE}
            doc = {"type": "file", "path": filename, "size": len(data), "oid": oid}
        return {**doc, "lfs": lfs} if lfs_file else doc

    def seen(self, method: str | None = None, server: str | None = None) -> list[Seen]:
        return [
            r for r in self.requests if method in (None, r.method) and server in (None, r.server)
        ]

    # -------------------------------------------------------------- servers
    def start(self) -> FakeHub:
        for name in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, name))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def _url(self, i: int) -> str:
        host, port = self._servers[i].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self._url(0)

    @property
    def cdn_url(self) -> str:
        return self._url(1)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(hub: FakeHub, server: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _record(self) -> tuple[str, dict[str, list[str]]]:
            split = urlsplit(self.path)
            with hub._lock:
                hub.requests.append(Seen(server, self.command, self.path, dict(self.headers)))
            return unquote(split.path), parse_qs(split.query)

        def _send(
            self,
            status: int,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, doc: Any) -> None:
            self._send(200, json.dumps(doc).encode())

        def _error(self, status: int, code: str, extra: dict[str, str] | None = None) -> None:
            self._send(
                status,
                json.dumps({"error": code}).encode(),
                {"X-Error-Code": code, "X-Error-Message": code, **(extra or {})},
            )

        def do_HEAD(self) -> None:
            self._route()

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            path, _ = self._record()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            parts = path.strip("/").split("/")
            if server != "hub" or parts[:2] != ["api", "models"] or "paths-info" not in parts:
                return self._error(404, "NotFound")
            i = parts.index("paths-info")
            repo = "/".join(parts[2:i])
            if repo not in hub.repos():
                return self._error(404, "RepoNotFound")
            if self.headers.get("Content-Type", "").startswith("application/json"):
                paths = json.loads(raw).get("paths", [])
            else:
                paths = parse_qs(raw).get("paths", [])
            self._json([hub.entry(repo, p) for p in paths if (repo, p) in hub.files])

        # ---------------------------------------------------------- routing
        def _route(self) -> None:
            path, query = self._record()
            parts = path.strip("/").split("/")
            if server == "cdn":
                data = hub.served(parts[-1]) if parts[0] == "blobs" else None
                return self._body(data) if data is not None else self._error(404, "NotFound")
            if parts[:2] == ["api", "models"]:
                return self._api(parts[2:], query)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
            self._error(404, "NotFound")

        def _repo_rev(self, repo: str, rev: str) -> bool:
            if repo not in hub.repos():
                self._error(404, "RepoNotFound")
                return False
            if rev not in ("main", hub.commit(repo)):
                self._error(404, "RevisionNotFound")
                return False
            return True

        def _api(self, parts: list[str], query: dict[str, list[str]]) -> None:
            repo, rest = "/".join(parts[:2]), parts[2:]
            rev = "main"
            if rest[:1] in (["revision"], ["tree"]) and len(rest) >= 2:
                rev = rest[1]
            if not self._repo_rev(repo, rev):
                return
            names = sorted(name for r, name in hub.files if r == repo)
            if rest[:1] == ["tree"]:
                folder = "/".join(rest[2:])
                inside = [n for n in names if n.rpartition("/")[0] == folder]
                return self._json([hub.entry(repo, n) for n in inside])
            blobs = query.get("blobs", ["false"])[0].lower() in ("true", "1")
            siblings = [
                hub.entry(repo, n, sibling=True) if blobs else {"rfilename": n} for n in names
            ]
            self._json(
                {
                    "id": repo,
                    "modelId": repo,
                    "sha": hub.commit(repo),
                    "private": False,
                    "siblings": siblings,
                    "tags": ["gguf"],
                }
            )

        def _resolve(self, repo: str, rev: str, filename: str) -> None:
            if not self._repo_rev(repo, rev):
                return
            commit = {"X-Repo-Commit": hub.commit(repo)}
            if (repo, filename) not in hub.files:
                return self._error(404, "EntryNotFound", commit)
            sha = hub.sha256(repo, filename)
            size = len(hub.files[(repo, filename)])
            meta = {**commit, "ETag": f'"{hub.entry(repo, filename)["oid"]}"'}
            if not hub.is_lfs(repo, filename):  # plain git file: served by the Hub itself
                return self._body(hub.files[(repo, filename)], meta)
            meta.update({"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(size)})
            if hub.redirect:
                return self._send(302, b"", {**meta, "Location": f"{hub.cdn_url}/blobs/{sha}"})
            self._body(hub.served(sha) or b"", meta)

        def _body(self, data: bytes, extra: dict[str, str] | None = None) -> None:
            headers = {"Accept-Ranges": "bytes", "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
            headers.update(extra or {})
            if self.command == "HEAD":
                return self._send(200, data, headers, "application/octet-stream")
            with hub._lock:
                fail = hub.fail_gets > 0
                hub.fail_gets -= int(fail)
                cut = hub.cut_first_get and not hub._cut_done
                hub._cut_done = hub._cut_done or cut
            if fail:
                return self._error(503, "ServiceUnavailable")
            start, status = 0, 200
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                first, _, last = rng[6:].partition("-")
                start, end = int(first), int(last) + 1 if last else len(data)
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
                data, status = data[start:end], 206
            if not cut:
                return self._send(status, data, headers, "application/octet-stream")
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
