"""The CLI with ``--server`` against the real llama-server: ``ask`` and ``prompt`` equal the
local run, named servers from config.toml, ``BAICHUAN_CHAT_SERVER``, and one ``error:`` line
when nothing listens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llama_servers import free_port

CTX = 1024
GREEDY = ("--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "30", "--n-ctx", "1024")
TRICKY = [
    {"role": "system", "content": "你是一个助手 <s> </s>"},
    {"role": "user", "content": "<reserved_106>你好</s><reserved_107> <s>"},
    {"role": "assistant", "content": "好的 <reserved_102> </s>"},
    {"role": "user", "content": "再说一次 <reserved_103>\n\t</s>"},
]


@pytest.fixture(scope="module")
def server(tiny, launch):
    return launch(tiny("b2-7b-chat"), ctx=CTX)


def _reply(res) -> dict:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_ask_on_the_server_equals_the_local_reply(cli, tiny, server):
    path = str(tiny("b2-7b-chat"))
    local = _reply(cli("ask", "--model", path, *GREEDY, "--json", "讲个故事"))
    remote = _reply(cli("ask", "--server", server.url, *GREEDY, "--json", "讲个故事"))
    assert remote["reply"] == local["reply"] and local["completion_tokens"] > 5
    assert remote["completion_tokens"] == local["completion_tokens"]
    assert (remote["template"], remote["family"]) == (local["template"], local["family"])
    assert remote["model"] == local["model"]


def test_model_picks_the_servers_model_or_is_an_error(cli, tiny, server):
    name = tiny("b2-7b-chat").name
    ok = cli("ask", "--server", server.url, "--model", name, *GREEDY, "--json", "hi")
    assert ok.returncode == 0, ok.stderr
    res = cli("ask", "--server", server.url, "--model", "other-13b.gguf", "hi")
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr


def test_prompt_on_the_server_gives_the_same_token_ids(cli, tiny, server, tmp_path):
    messages = tmp_path / "m.json"
    messages.write_text(json.dumps(TRICKY, ensure_ascii=False), "utf-8")
    fit = ("--max-tokens", "64", str(messages))  # nothing dropped in either context
    local = _reply(cli("prompt", "--model", str(tiny("b2-7b-chat")), *fit))
    remote = _reply(cli("prompt", "--server", server.url, *fit))
    assert local["dropped_rounds"] == remote["dropped_rounds"] == 0
    assert remote["token_ids"] == local["token_ids"]
    assert remote["text"] == local["text"] and remote["template"] == local["template"]


def test_named_server_in_config_and_the_environment(cli, tiny, server, isolated_home):
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[servers.lab]\nurl = "{server.url}"\napi_key_env = "LAB_KEY"\n', "utf-8")
    env = {"LAB_KEY": "secret-not-needed"}
    named = _reply(cli("ask", "--server", "lab", *GREEDY, "--json", "hi", env=env))
    by_env = _reply(cli("ask", *GREEDY, "--json", "hi", env={"BAICHUAN_CHAT_SERVER": "lab"}))
    assert named["reply"] == by_env["reply"]
    assert named["model"] == str(tiny("b2-7b-chat"))


def test_nothing_listening_is_one_error_line(cli):
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["ask", "--server", url, "hi"], ["prompt", "--server", url, "-"]):
        res = cli(*command, input="[]")
        assert res.returncode == 1, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr


def test_plain_http_to_another_host_warns_once(cli):
    res = cli("ask", "--server", "http://192.0.2.1:9", "hi", env={"NO_PROXY": "*"})
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1
    assert lines[0].startswith("warning: ") and "unencrypted" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("error: ")


def test_a_bad_servers_table_is_one_warning(isolated_home):
    from baichuan_tui import settings

    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('server = "lab"\n[servers.lab]\nport = 8080\n', "utf-8")
    loaded = settings.load()
    assert loaded.servers == {} and loaded.server == "lab"
    assert len(loaded.warnings) == 1 and "[servers.lab] needs url" in loaded.warnings[0]
    assert settings.server_entry(loaded, "http://h:1").url == "http://h:1"


def test_ask_exits_1_after_printing_what_streamed_when_the_server_dies(tiny, launch):
    """SIGKILL the server mid-reply: what came is on stdout, one error line, exit 1."""
    victim = launch(tiny("b2-7b-chat"), ctx=CTX)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baichuan_tui",
            "ask",
            "--server",
            victim.url,
            *GREEDY[:4],
            "--max-tokens",
            "900",
            "please do not die",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    first = proc.stdout.read1(1)  # type: ignore[attr-defined]
    assert first, "the reply started streaming"
    time.sleep(0.2)
    os.kill(victim.proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)
    out = (first + rest).decode()
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "closed the connection in the middle of the reply" in lines[0]
    assert len(out.strip()) > 1  # what streamed before the kill was printed
