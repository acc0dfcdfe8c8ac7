"""Talking to the Hub: endpoint and offline switches, file metadata, LFS sha256 records, retries.

Environment is read at call time (huggingface_hub's own constants are frozen at import).
Before any network call the endpoint's host name must resolve within
:data:`RESOLVE_TIMEOUT_S` (:func:`check_reachable`); a name that does not resolve is never
retried: "offline: the Hub cannot be reached" comes at once.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from baichuan_tui.errors import UserError, first_line
from baichuan_tui.hub.cache import Progress
from baichuan_tui.hub.catalog import QuantFile

RETRIES = 4
RETRY_DELAY_S = 2.0
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_SHA256 = re.compile(r"[0-9a-f]{64}")
T = TypeVar("T")
RESOLVE_TIMEOUT_S = 2.5
"""How long the Hub's host name may take to resolve before we call the machine offline."""
OFFLINE = "offline: the Hub cannot be reached"
OFFLINE_HINT = "check the network (or HF_ENDPOINT), or pass --offline to use the local cache"
_RESOLVED_FOR_S = 60.0
_resolved: dict[str, float] = {}
"""Host → until when its last successful resolution is trusted (monotonic seconds)."""
_NAME_FAILURES = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated with hostname",
    "getaddrinfo failed",
)


def endpoint() -> str:
    """The Hub endpoint (``HF_ENDPOINT``, read now). Called before every network use, it also
    brings huggingface_hub's offline switch, frozen when it was imported, in line with the
    environment as it is now."""
    import sys

    constants: Any = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = is_offline()
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def is_offline(offline: bool = False) -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return offline or flag in {"1", "ON", "YES", "TRUE"}


def _via_proxy(url: str) -> bool:
    """Whether ``url`` goes through a proxy (which resolves the name, not us)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _resolve(host: str, timeout: float) -> BaseException | None:
    """None when ``host`` resolves within ``timeout`` s, else the error (TimeoutError: none)."""
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, None)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name="hub-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else TimeoutError(f"no answer in {timeout:g} s")


def check_reachable() -> None:
    """``UserError("offline: the Hub cannot be reached …")`` when the endpoint's host name does
    not resolve within :data:`RESOLVE_TIMEOUT_S` (skipped behind a proxy)."""
    url = endpoint()
    host = urlsplit(url).hostname
    if not host or _via_proxy(url) or _resolved.get(host, 0.0) > time.monotonic():
        return
    error = _resolve(host, RESOLVE_TIMEOUT_S)
    if error is None:
        _resolved[host] = time.monotonic() + _RESOLVED_FOR_S
        return
    why = "no answer" if isinstance(error, TimeoutError) else "it does not resolve"
    raise UserError(f"{OFFLINE} ({host}: {why})", OFFLINE_HINT)


def reachable() -> bool:
    """:func:`check_reachable` as a yes/no (for callers with an offline fallback)."""
    try:
        check_reachable()
    except UserError:
        return False
    return True


def is_name_failure(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a failed host-name lookup."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, socket.gaierror):
            return True
        if any(m in str(exc).lower() for m in _NAME_FAILURES):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@dataclass(frozen=True)
class Expected:
    """What a file must hash to, and where that came from (``hub``, ``catalog``, ``record``)."""

    sha256: str
    size: int | None
    source: str


@dataclass(frozen=True)
class Head:
    commit: str
    size: int | None
    etag: str | None


def head(qf: QuantFile) -> Head:
    """HEAD ``/resolve/main/<file>``: commit, size, etag (X-Repo-Commit, X-Linked-*)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(qf.repo, qf.filename, endpoint=endpoint())
    meta = get_hf_file_metadata(url, endpoint=endpoint())
    if not meta.commit_hash:
        raise UserError(f"{endpoint()} does not answer like a Hugging Face Hub (no X-Repo-Commit)")
    return Head(meta.commit_hash, meta.size, meta.etag)


def _hub_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    return (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError, KeyError, TypeError)


def lfs_record(repo: str, filename: str, revision: str | None) -> Expected | None:
    """The Hub's LFS sha256 + size: paths-info, else the tree listing, else model_info."""
    from huggingface_hub import HfApi

    api, rev = HfApi(endpoint=endpoint()), revision or "main"
    folder = filename.rpartition("/")[0] or None
    sources: list[Callable[[], Any]] = [
        lambda: api.get_paths_info(repo, [filename], revision=rev),
        lambda: api.list_repo_tree(repo, folder, revision=rev),
        lambda: api.model_info(repo, revision=rev, files_metadata=True).siblings or [],
    ]
    for source in sources:
        try:
            for item in source():
                lfs = getattr(item, "lfs", None)
                name = getattr(item, "path", None) or getattr(item, "rfilename", None)
                if name == filename and lfs:
                    return Expected(str(lfs["sha256"]), int(lfs["size"]), "hub")
        except _hub_errors():
            continue
    return None


def expected_for(qf: QuantFile, name: str, commit: str, etag: str | None) -> Expected:
    """The sha256 a download must have: catalog value, else the Hub's LFS record."""
    if qf.sha256:
        return Expected(qf.sha256, None, "catalog")
    found = lfs_record(qf.repo, qf.filename, commit)
    if found:
        return found
    if etag and _SHA256.fullmatch(etag):  # an LFS file's ETag is its sha256
        return Expected(etag, None, "hub etag")
    raise UserError(f"cannot verify {name}: the Hub gives no sha256 for {qf.repo}/{qf.filename}")


def progress_class(on_progress: Progress | None) -> type:
    """A tqdm stand-in for ``hf_hub_download(tqdm_class=...)`` reporting ``(done, total)``."""

    class _Bar:
        format_dict: dict[str, Any] = {}

        def __init__(self, *args: Any, total: int | None = None, initial: int = 0, **kw: Any):
            self.total, self.n = total, initial
            self._report()

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int | float | None = 1) -> None:
            self.n += int(n or 0)
            self._report()

        def update_transfer(self, n: int | float | None = 1) -> None:
            """Xet network bytes: we report the bytes written (``update``) instead."""

        def set_postfix_str(self, *args: Any, **kw: Any) -> None: ...
        def set_transfer_postfix_str(self, *args: Any, **kw: Any) -> None: ...
        def refresh(self, *args: Any, **kw: Any) -> None: ...
        def close(self) -> None: ...

        def _report(self) -> None:
            if on_progress:
                on_progress(self.n, self.total)

    return _Bar


def retrying(name: str, what: str, call: Callable[[], T]) -> T:
    """Run a Hub call, retrying network errors and 5xx/429; other failures → UserError."""
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        FileMetadataError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    check_reachable()
    last: BaseException | None = None
    for attempt in range(1, RETRIES + 1):
        try:
            return call()
        except OfflineModeIsEnabled as err:
            raise UserError(f"cannot {what} {name}: huggingface_hub is in offline mode") from err
        except LocalEntryNotFoundError as err:  # HEAD failed and nothing cached: network
            last = err
        except (RepositoryNotFoundError, EntryNotFoundError) as err:
            what_missing = "repository" if isinstance(err, RepositoryNotFoundError) else "file"
            raise UserError(
                f"{name} is not on the Hub at {endpoint()} ({what_missing} not found)",
                "the catalog entry may be out of date",
            ) from err
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status not in _RETRY_STATUS:
                raise UserError(f"cannot {what} {name}: {first_line(err)}") from err
            last = err
        except FileMetadataError as err:
            raise UserError(f"cannot {what} {name}: {first_line(err)}") from err
        except httpx2.TransportError as err:
            last = err
        if is_name_failure(last):  # no retry can help
            raise UserError(f"{OFFLINE} (cannot {what} {name})", OFFLINE_HINT) from last
        if attempt < RETRIES:
            time.sleep(RETRY_DELAY_S * attempt)
    reason = first_line(last) if last else "no answer"
    raise UserError(
        f"cannot {what} {name} after {RETRIES} tries: {reason}",
        "check the network (or HF_ENDPOINT) and run the command again",
    )
