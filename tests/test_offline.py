"""No network: "offline: the Hub cannot be reached" within 3 s, no retries (issue 12, item 18).

``nonexistent.invalid`` never resolves (RFC 6761): the lookup fails on this machine and no
traffic leaves it. The local fake Hub (tests/fakehub.py) still answers.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx2
import pytest

from baichuan_tui.errors import UserError
from baichuan_tui.hub import download as dl
from baichuan_tui.hub import remote

from fakehub import FakeHub

NOWHERE = "http://nonexistent.invalid"
SPEC = "baichuan2-7b-chat:Q4_K_M"


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The network allowed (conftest turns it off), a fresh resolve cache."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_TOKEN", "")
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(remote, "_resolved", {})
    return tmp_path


def _fails_fast(call) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(UserError) as err:
        call()
    return str(err.value), time.monotonic() - start


def test_download_says_offline_within_3_s(online, monkeypatch):
    # it took 12-19 s of retries ("cannot look up … after 4 tries")
    monkeypatch.setenv("HF_ENDPOINT", NOWHERE)
    text, took = _fails_fast(lambda: dl.download(SPEC))
    assert text.startswith("offline: the Hub cannot be reached (nonexistent.invalid")
    assert "--offline" in text and took < 3


def test_dataset_and_checkpoint_downloads_say_offline(online, monkeypatch):
    from baichuan_tui.convert.source import fetch
    from baichuan_tui.quiz.datasets import load

    monkeypatch.setenv("HF_ENDPOINT", NOWHERE)
    for call in (
        lambda: load("ceval", subject_names=["logic"]),
        lambda: fetch("baichuan-inc/Baichuan2-7B-Chat", offline=False),
    ):
        text, took = _fails_fast(call)
        assert text.startswith("offline: the Hub cannot be reached") and took < 3


def test_a_resolver_that_does_not_answer_counts_as_offline(online, monkeypatch):
    monkeypatch.setattr(remote, "RESOLVE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(5))
    text, took = _fails_fast(remote.check_reachable)
    assert text.startswith("offline: the Hub cannot be reached (huggingface.co: no answer)")
    assert took < 1


def test_a_name_failure_is_not_retried(online, monkeypatch):
    monkeypatch.setattr(remote, "check_reachable", lambda: None)  # resolved a moment ago
    calls = []

    def call() -> None:
        calls.append(1)
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx2.ConnectError("[Errno -2] Name or service not known") from exc

    text, _ = _fails_fast(lambda: remote.retrying(SPEC, "look up", call))
    assert calls == [1] and text.startswith("offline: the Hub cannot be reached")


def test_other_network_errors_are_still_retried(online, monkeypatch):
    monkeypatch.setattr(remote, "check_reachable", lambda: None)
    monkeypatch.setattr(remote, "RETRY_DELAY_S", 0.0)
    calls = []

    def call() -> None:
        calls.append(1)
        raise httpx2.ConnectError("[Errno 111] Connection refused")

    text, _ = _fails_fast(lambda: remote.retrying(SPEC, "look up", call))
    assert len(calls) == remote.RETRIES and "after 4 tries" in text


def test_behind_a_proxy_the_name_is_not_resolved_here(online, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", NOWHERE)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    remote.check_reachable()  # the proxy resolves it


def test_the_local_fake_hub_is_reachable(online, monkeypatch):
    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        assert remote.reachable()
    monkeypatch.setenv("HF_ENDPOINT", NOWHERE)
    assert not remote.reachable()
