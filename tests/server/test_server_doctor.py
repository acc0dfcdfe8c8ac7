"""``doctor --server URL`` against the real llama-server: model, slots, context, build."""

from __future__ import annotations

import json

from llama_servers import free_port


def test_doctor_says_what_the_server_runs(cli, tiny, launch):
    path = tiny("b2-7b-chat")
    server = launch(path, slots=2, ctx=512)
    res = cli("doctor", "--offline", "--server", server.url, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)["server"]
    assert doc["reachable"] is True and doc["url"] == server.url
    assert doc["model"] == path.name and doc["model_path"] == str(path)
    assert (doc["total_slots"], doc["n_ctx"], doc["slots_busy"]) == (2, 512, 0)
    assert doc["build_info"]
    table = cli("doctor", "--offline", "--server", server.url)
    assert table.returncode == 0, table.stderr
    assert path.name in table.stdout and "2 (0 busy), 512 tokens each" in table.stdout


def test_doctor_says_when_nothing_listens(cli):
    url = f"http://127.0.0.1:{free_port()}"
    res = cli("doctor", "--offline", "--server", url, "--json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)["server"]
    assert doc["reachable"] is False and doc["error"]
    table = cli("doctor", "--offline", "--server", url)
    assert table.returncode == 1 and "not reachable" in table.stdout


def test_models_info_describes_the_servers_model(cli, tiny, launch):
    path = tiny("b1-13b-chat")
    server = launch(path, ctx=512)
    res = cli("models", "info", "--server", server.url, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    local = json.loads(cli("models", "info", str(path), "--json").stdout)
    assert doc["path"] == local["path"] and doc["template"] == local["template"]
    assert doc["server"]["url"] == server.url and doc["server"]["total_slots"] == 1
    assert cli("models", "info").returncode == 2
