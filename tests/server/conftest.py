"""Fixtures: the real llama-server on tiny models (see llama_servers.py); skipped, with the
command to run, when the binaries are not built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from llama_servers import BIN, NOT_BUILT, Running, start_server


@pytest.fixture(scope="session")
def server_bin() -> Path:
    if BIN is None:
        pytest.skip(NOT_BUILT)
    return BIN


@pytest.fixture(scope="module")
def launch(
    server_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Running]]:
    """``launch(model, slots=1, ctx=1024, rpc=None, extra=())`` → a running server, stopped
    at the end of the module."""
    started: list[Running] = []
    log_dir = tmp_path_factory.mktemp("llama-server")

    def run(model: Path, **kwargs: object) -> Running:
        server = start_server(model, log_dir, **kwargs)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()
