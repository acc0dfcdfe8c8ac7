"""Quiz fixtures: the CLI with the ``quiz`` commands."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from quizcli import REPO, command, wired


@pytest.fixture
def quiz_cli(cli) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``baichuan-chat ARGS`` in a subprocess (the ``cli`` fixture once quiz is wired)."""
    if wired():
        return cli

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command(), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=REPO)
    return run
