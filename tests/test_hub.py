"""Catalog, downloads against a fake Hub (tests/fakehub.py), offline use, verify, rm, fit math."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from baichuan_tui.commands import models as cmd
from baichuan_tui.errors import ModelNotFound, UserError
from baichuan_tui.hub import cache, fit, remote
from baichuan_tui.hub import download as dl
from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.catalog import load_catalog, parse_spec
from baichuan_tui.hub.remove import remove
from baichuan_tui.hub.resolve import cached_model
from baichuan_tui.hub.states import list_models
from baichuan_tui.hub.verify import verify
from baichuan_tui.library import resolve_model

from fakehub import FakeHub

REPO = "second-state/Baichuan2-7B-Chat-GGUF"
FILE = "Baichuan2-7B-Chat-Q4_K_M.gguf"
SPEC = "baichuan2-7b-chat:Q4_K_M"
PAYLOAD = b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 1200  # ~300 kB
GB = 10**9


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("BAICHUAN_CHAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_TOKEN", "")
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(remote, "RETRY_DELAY_S", 0.01)
    # huggingface_hub froze HF_HUB_OFFLINE when an earlier test imported it offline
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path


@pytest.fixture
def hub(env: Path, monkeypatch: pytest.MonkeyPatch):
    fake = FakeHub()
    fake.add(REPO, FILE, PAYLOAD)
    fake.add(REPO, "README.md", b"# card\n")
    with fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def snapshot_files(env: Path) -> list[Path]:
    root = env / "hf" / "hub" / ("models--" + REPO.replace("/", "--"))
    return [p for p in root.rglob("*") if p.is_file() and "snapshots" in p.parts]


def blobs(env: Path) -> list[Path]:
    return list((env / "hf" / "hub").rglob("blobs/*"))


# ---------------------------------------------------------------------------- catalog
def test_catalog_lists_every_spec_model() -> None:
    catalog = load_catalog()
    assert set(catalog.names()) == {
        "baichuan-7b",
        "baichuan-13b-base",
        "baichuan-13b-chat",
        "baichuan2-7b-base",
        "baichuan2-7b-chat",
        "baichuan2-13b-base",
        "baichuan2-13b-chat",
        "baichuan-7b-sft",
        "baichuan-vicuna-chinese-7b",
        "baichuan-vicuna-7b",
    }
    repos = {m.hf_repo for m in catalog}
    assert {
        "baichuan-inc/Baichuan-7B",
        "hiyouga/baichuan-7b-sft",
        "fireballoon/baichuan-vicuna-7b",
        "fireballoon/baichuan-vicuna-chinese-7b",
    } <= repos
    assert any("TheBloke/baichuan-7B-GPTQ" in n for n in catalog.notes)
    assert catalog.default == SPEC
    for m in catalog:
        assert m.context_length == 4096
        assert m.needs_conversion == (not m.quants)
        assert m.template in {
            "baichuan2-chat",
            "baichuan-13b-chat",
            "completion",
            "vicuna",
            "llama-factory",
        }
    assert catalog.get("baichuan-7b").needs_conversion
    q = catalog.get("baichuan2-13b-chat").quants["Q4_K_M"]
    assert (q.repo, q.filename, q.size_bytes) == (
        "second-state/Baichuan2-13B-Chat-GGUF",
        "Baichuan2-13B-Chat-Q4_K_M.gguf",
        9 * GB,
    )
    assert catalog.get("baichuan2-13b-chat").numbers.n_layer == 40
    assert catalog.get("baichuan2-7b-chat").numbers.n_vocab == 125696


def test_parse_spec() -> None:
    assert parse_spec("baichuan2-7b-chat")[1] == "Q4_K_M"
    assert parse_spec("Baichuan2-7B-Chat:q8_0")[1] == "Q8_0"
    assert parse_spec("baichuan-13b-chat")[1] == "Q4_0"  # no Q4_K_M: first quant
    assert parse_spec("baichuan2-7b-base:Q4_K")[1] == "Q4_K_M"  # llama.cpp alias
    assert parse_spec("baichuan-vicuna-7b")[1] is None
    with pytest.raises(UserError, match="baichuan2-7b-chat"):
        parse_spec("baichuan2-7b-caht")
    with pytest.raises(UserError, match="Q8_0"):
        parse_spec("baichuan2-7b-chat:Q9_9")
    with pytest.raises(UserError, match="conversion"):
        parse_spec("baichuan-7b:Q4_K_M")


# ---------------------------------------------------------------------------- fake Hub
def test_fake_hub_speaks_the_endpoints_huggingface_hub_calls(hub: FakeHub) -> None:
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url

    api, sha = HfApi(endpoint=hub.url), hub.sha256(REPO, FILE)
    meta = get_hf_file_metadata(hf_hub_url(REPO, FILE, endpoint=hub.url), endpoint=hub.url)
    assert (meta.etag, meta.size, meta.commit_hash) == (sha, len(PAYLOAD), hub.commit(REPO))
    assert meta.location.startswith(hub.cdn_url)
    info = api.get_paths_info(REPO, [FILE], revision=hub.commit(REPO))
    assert info[0].lfs.sha256 == sha
    tree = {f.path: f for f in api.list_repo_tree(REPO)}
    assert tree[FILE].lfs.sha256 == sha and tree[FILE].size == len(PAYLOAD)
    siblings = api.model_info(REPO, files_metadata=True).siblings
    assert {s.rfilename: s.lfs.sha256 for s in siblings if s.lfs} == {FILE: sha}


# ---------------------------------------------------------------------------- download
def test_download_lands_a_verified_file(hub: FakeHub, env: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    path = dl.download(SPEC, on_progress=lambda d, t: seen.append((d, t)))
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(env / "hf" / "hub")
    assert path.parent.name == hub.commit(REPO)
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert cache.is_verified(path)
    assert cache.record_of(path)["sha256"] == hub.sha256(REPO, FILE)
    assert cached_model(SPEC) == path
    assert cached_model("baichuan2-7b-chat") == path
    assert hub.seen("POST")  # paths-info asked for the LFS sha256
    gets = len(hub.seen("GET", "cdn"))
    assert dl.download(SPEC) == path and len(hub.seen("GET", "cdn")) == gets  # cached


def test_download_resumes_after_a_cut_connection(hub: FakeHub) -> None:
    hub.cut_first_get = True
    path = dl.download(SPEC)
    assert path.read_bytes() == PAYLOAD
    ranges = [r.headers.get("Range") for r in hub.seen("GET", "cdn")]
    assert ranges[0] is None
    assert any(r and r.startswith("bytes=") and int(r[6:].split("-")[0]) > 0 for r in ranges)
    assert cache.is_verified(path)


def test_download_retries_a_failed_attempt(hub: FakeHub) -> None:
    hub.fail_gets = 2
    assert dl.download(SPEC).read_bytes() == PAYLOAD
    assert len(hub.seen("GET", "cdn")) == 3


def test_download_without_redirect(hub: FakeHub) -> None:
    hub.redirect = False
    hub.cut_first_get = True
    assert dl.download(SPEC).read_bytes() == PAYLOAD
    assert not hub.seen(server="cdn")


@pytest.mark.parametrize("corrupt", ["flip", "extra"])
def test_corrupted_body_is_refused_and_never_resolves(
    hub: FakeHub, env: Path, corrupt: str
) -> None:
    hub.corrupt = corrupt
    with pytest.raises(UserError, match="sha256"):
        dl.download(SPEC)
    assert snapshot_files(env) == []
    assert not [b for b in blobs(env) if b.is_file()]
    with pytest.raises(ModelNotFound, match=f"baichuan-chat models download {SPEC}"):
        cached_model(SPEC)


def test_ctrl_c_leaves_nothing_that_resolves(hub: FakeHub, env: Path) -> None:
    def interrupt(done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dl.download(SPEC, on_progress=interrupt)
    assert snapshot_files(env) == [] and not [b for b in blobs(env) if b.is_file()]

    def interrupt_hash(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dl.download(SPEC, on_verify=interrupt_hash)
    assert snapshot_files(env) == []
    with pytest.raises(ModelNotFound):
        cached_model(SPEC)


def test_not_enough_disk_space(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: SimpleNamespace(free=1000))
    with pytest.raises(UserError, match="disk space"):
        dl.download(SPEC)
    assert not hub.seen("GET")


def test_unknown_file_on_the_hub(hub: FakeHub) -> None:
    with pytest.raises(UserError, match="not on the Hub"):
        dl.download("baichuan2-7b-chat:Q8_0")


# ---------------------------------------------------------------------------- offline
def test_offline_after_download_needs_no_network(
    hub: FakeHub, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = dl.download(SPEC)
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cached_model(SPEC) == path
    assert cached_model(SPEC, offline=True) == path
    assert dl.download(SPEC) == path
    result = verify(SPEC)
    assert result.ok and result.source == "record"
    state = {s.spec: s.state for s in list_models()}
    assert state[SPEC] == "downloaded"


def test_offline_without_the_file_names_the_download_command(env: Path) -> None:
    with pytest.raises(ModelNotFound) as err:
        cached_model(SPEC, offline=True)
    assert f"baichuan-chat models download {SPEC}" in str(err.value)
    with pytest.raises(UserError, match="offline"):
        dl.download(SPEC, offline=True)


def test_paths_resolve_as_is(tmp_path: Path, env: Path) -> None:
    f = tmp_path / "my model.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model(str(f), offline=False) == f
    # a missing file is returned as is: the loader says "does not exist" (see test_cli)
    missing = tmp_path / "missing.gguf"
    assert resolve_model(str(missing), offline=False) == missing


# ---------------------------------------------------------------------------- verify / rm
def test_verify_detects_a_changed_file_and_rm_removes_it(hub: FakeHub, env: Path) -> None:
    path = dl.download(SPEC)
    good = verify(SPEC)
    assert good.ok and good.source == "hub" and good.sha256 == hub.sha256(REPO, FILE)
    assert verify(str(path)).ok
    blob = path.resolve()
    blob.write_bytes(b"X" + PAYLOAD[1:])
    assert not cache.is_verified(path)
    bad = verify(SPEC)
    assert bad.ok is False and "mismatch" in bad.message
    with pytest.raises(UserError, match="failed its sha256"):
        cached_model(SPEC)
    assert remove("baichuan2-7b-chat") == [path]
    assert not path.exists() and not blob.exists()
    with pytest.raises(ModelNotFound):
        cached_model(SPEC)
    with pytest.raises(ModelNotFound):
        remove(SPEC)


def test_file_cached_by_another_tool_is_used_only_once_verified(hub: FakeHub, env: Path) -> None:
    from huggingface_hub import hf_hub_download

    other = Path(hf_hub_download(REPO, FILE, cache_dir=env / "hf" / "hub", endpoint=hub.url))
    with pytest.raises(UserError, match="not verified"):
        cached_model(SPEC)
    assert [s.state for s in list_models() if s.spec == SPEC] == ["unverified"]
    assert verify(SPEC).ok
    assert cached_model(SPEC) == other


def test_bad_copy_already_in_the_cache_is_replaced(hub: FakeHub, env: Path) -> None:
    from huggingface_hub import hf_hub_download

    hub.corrupt = "flip"
    bad = Path(hf_hub_download(REPO, FILE, cache_dir=env / "hf" / "hub", endpoint=hub.url))
    assert bad.read_bytes() != PAYLOAD  # huggingface_hub itself accepts it
    hub.corrupt = None
    assert dl.download(SPEC).read_bytes() == PAYLOAD


# ---------------------------------------------------------------------------- commands
def fake_machine(vram_gb: float = 0, ram_gb: float = 32) -> hw.Machine:
    gpus = [hw.GPU(0, "NVIDIA GeForce RTX 4090", 24 * GB, int(vram_gb * GB))] if vram_gb else []
    return hw.Machine("0.3.36", bool(vram_gb), gpus, int(ram_gb * GB), int(ram_gb * GB), 8, 16)


def ns(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"json": False, "offline": False, **kw})


def test_commands(
    hub: FakeHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hw, "machine_facts", lambda: fake_machine(23.5))
    assert cmd.cmd_download(ns(spec=SPEC)) == 0
    assert "sha256 verified" in capsys.readouterr().out

    assert cmd.cmd_list(ns(json=True)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in doc["models"]} == set(load_catalog().names())
    chat = next(m for m in doc["models"] if m["name"] == "baichuan2-7b-chat")
    q4 = next(q for q in chat["quants"] if q["quant"] == "Q4_K_M")
    assert chat["state"] == q4["state"] == "downloaded" and q4["fit"]["fits"] == "gpu"
    assert {m["state"] for m in doc["models"] if not m["quants"]} == {"needs conversion"}

    assert cmd.cmd_list(ns()) == 0
    assert "baichuan2-13b-chat" in capsys.readouterr().out

    assert cmd.cmd_verify(ns(json=True, spec=None)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and [r["name"] for r in doc["results"]] == [SPEC]

    assert cmd.cmd_rm(ns(json=True, name=SPEC)) == 0
    assert len(json.loads(capsys.readouterr().out)["removed"]) == 1
    with pytest.raises(UserError):
        cmd.cmd_rm(ns(spec=SPEC))


def test_hub_modules_do_not_import_textual_or_llama_cpp() -> None:
    code = (
        "import sys, baichuan_tui.hub.download, baichuan_tui.hub.fit, baichuan_tui.hub.machine, "
        "baichuan_tui.hub.resolve, baichuan_tui.hub.verify, baichuan_tui.hub.remove, "
        "baichuan_tui.hub.states, baichuan_tui.library, "
        "baichuan_tui.loading, baichuan_tui.commands.models; "
        "assert 'textual' not in sys.modules and 'llama_cpp' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


# ---------------------------------------------------------------------------- fit
def est(name: str, quant: str, n_ctx: int = 4096) -> fit.MemoryEstimate:
    return fit.estimate(fit.numbers_for(load_catalog().get(name), quant), n_ctx)


def test_fit_rtx_4090_runs_13b_chat_q4_k_m_fully_offloaded() -> None:
    e = est("baichuan2-13b-chat", "Q4_K_M")
    assert e.kv_bytes == 2 * 40 * 4096 * 5120 * 2
    assert 12 * GB < e.vram_bytes(41) < 15 * GB
    machine = fake_machine(vram_gb=23.5)
    assert fit.gpu_layers_that_fit(e, machine.free_vram) == 41
    assert fit.placement(e, machine).kind == "gpu"
    assert fit.placement(est("baichuan2-13b-chat", "Q8_0"), machine).kind == "gpu"


def test_fit_cpu_only() -> None:
    machine = fake_machine(vram_gb=0, ram_gb=16)
    q5 = fit.placement(est("baichuan2-13b-chat", "Q5_K_M"), machine)
    assert q5.kind == "cpu" and q5.gpu_layers == 0
    # Q6_K (12.1 GB + KV) no longer fits 16 GB
    assert fit.placement(est("baichuan2-13b-chat", "Q6_K"), machine).kind == "no"
    model = load_catalog().get("baichuan2-13b-chat")
    small = fake_machine(ram_gb=4)
    assert {fit.placement(est(model.name, q), small).kind for q in model.quants} == {"no"}
    no_offload = hw.Machine("0.3.36", False, fake_machine(23.5).gpus, 16 * GB, 16 * GB)
    assert fit.placement(est("baichuan2-13b-chat", "Q4_K_M"), no_offload).kind == "cpu"


def test_gpu_layers_that_fit() -> None:
    e = est("baichuan2-7b-chat", "Q4_K_M")
    counts = [fit.gpu_layers_that_fit(e, int(gb * GB)) for gb in (0, 1, 2, 4, 6, 8, 24)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 33
    partial = fit.gpu_layers_that_fit(e, 4 * GB)
    assert 0 < partial < 32
    assert e.vram_bytes(partial) <= 4 * GB - fit.HEADROOM
    assert e.vram_bytes(partial + 1) > 4 * GB - fit.HEADROOM
    where = fit.placement(e, fake_machine(vram_gb=4))
    assert where.kind == "partial" and where.gpu_layers == partial
    assert e.ram_bytes(partial) < e.total_bytes


def test_numbers_from_gguf_info() -> None:
    t = [
        SimpleNamespace(name="token_embd.weight", nbytes=100),
        SimpleNamespace(name="output.weight", nbytes=100),
        SimpleNamespace(name="output_norm.weight", nbytes=4),
    ]
    t += [SimpleNamespace(name=f"blk.{i}.ffn_up.weight", nbytes=50) for i in range(32)]
    info = SimpleNamespace(
        block_count=32,
        embedding_length=64,
        head_count=4,
        head_count_kv=4,
        vocab_size=125696,
        tensors=t,
        file_size=5000,
    )
    n = fit.numbers_from_gguf(info)
    assert (n.weights_bytes, n.layer_weights, n.output_weights, n.input_weights) == (
        1804,
        50,
        104,
        100,
    )
    e = fit.estimate(n, 512)
    assert e.kv_bytes == 2 * 32 * 512 * 64 * 2


def test_numbers_from_a_real_tiny_gguf(tiny) -> None:
    gguf_check = pytest.importorskip("baichuan_tui.engine.gguf_check")
    info = gguf_check.inspect_gguf(tiny("b2-7b-chat"))
    n = fit.numbers_from_gguf(info)
    assert (n.n_layer, n.n_vocab) == (32, 125696)
    assert n.weights_bytes <= info.file_size
    parts = n.layer_weights * 32 + n.output_weights + n.input_weights
    assert parts == pytest.approx(n.weights_bytes)
    e = fit.estimate(n, 4096)
    assert fit.gpu_layers_that_fit(e, 4 * GB) == 33 and fit.gpu_layers_that_fit(e, 0) == 0
    with pytest.raises(UserError, match="block_count"):
        fit.numbers_from_gguf(
            SimpleNamespace(
                path="x.gguf", block_count=None, embedding_length=1, head_count=1, vocab_size=1
            )
        )


def test_machine_fact_parsers() -> None:
    gpus = hw.parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564, 23012\nbad line\n")
    assert gpus == [hw.GPU(0, "NVIDIA GeForce RTX 4090", 24564 << 20, 23012 << 20)]
    cpuinfo = "".join(
        f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 2}\n\n" for i in range(4)
    )
    assert hw.physical_cores(cpuinfo) == min(2, hw.logical_cores())
    total, available = hw.ram()
    assert total >= available > 0
    machine = hw.machine_facts()
    assert isinstance(machine.gpus, list) and machine.physical_cores >= 1


def test_cli_download_list_and_corrupt(hub: FakeHub, env: Path, cli) -> None:
    hub.cut_first_get = True
    done = cli("models", "download", SPEC)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().rpartition("→ ")[2])
    assert path.read_bytes() == PAYLOAD and path.is_relative_to(env / "hf")
    listed = cli("--offline", "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {
        q["spec"]: q["state"] for m in json.loads(listed.stdout)["models"] for q in m["quants"]
    }
    assert states[SPEC] == "downloaded"

    hub.corrupt = "flip"
    bad = cli("models", "download", "baichuan2-7b-chat:Q8_0")  # not on the fake Hub
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    assert cli("models", "rm", SPEC).returncode == 0
    bad = cli("models", "download", SPEC)
    assert bad.returncode == 1 and "sha256" in bad.stderr.strip().splitlines()[-1]
    offline = cli("--offline", "models", "verify", SPEC)
    assert offline.returncode == 1
    assert f"baichuan-chat models download {SPEC}" in offline.stderr


def test_hf_hub_cache_is_respected(
    hub: FakeHub, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(env / "elsewhere"))
    path = dl.download(SPEC)
    assert path.is_relative_to(env / "elsewhere") and cached_model(SPEC) == path


def test_download_then_ask_offline_by_catalog_name(env: Path, cli, tiny) -> None:
    """Issue 3's acceptance flow with a real (tiny) model behind the catalog name."""
    model = tiny("b2-7b-chat").read_bytes()
    fake = FakeHub()
    fake.add(REPO, FILE, model)
    fake.cut_first_get = True
    with fake:
        got = cli("models", "download", SPEC, env={"HF_ENDPOINT": fake.url})
        assert got.returncode == 0, got.stderr
    # the server is gone: everything below must work from the cache alone
    res = cli("ask", "--offline", "--model", SPEC, "--max-tokens", "8", "--json", "你好")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["template"] == "baichuan2-chat" and doc["completion_tokens"] > 0
    info = cli("--offline", "models", "info", SPEC, "--json")
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert (facts["architecture"], facts["layers"], facts["vocab_size"]) == ("baichuan", 32, 125696)
    assert facts["memory"]["kv_cache_bytes"] > 0 and facts["quant"]
