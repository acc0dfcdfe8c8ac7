"""The engine on generated tiny Baichuan models: greedy parity, UTF-8, cancel, KV reuse."""

from __future__ import annotations

import json
import threading
import time

import llama_cpp
import pytest

from baichuan_tui.engine.llama import LlamaEngine, LoadOptions, TextStream
from baichuan_tui.engine.prompts import Message, Prompt
from baichuan_tui.engine.sampling import Sampling

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=48)


def reference_greedy(path, ids, max_tokens, n_ctx=1024):
    """llama-cpp-python's own greedy loop on the same ids."""
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
    out = []
    for tok in llm.generate(ids, temp=0.0, repeat_penalty=1.0):
        if tok == llm.token_eos() or len(out) >= max_tokens:
            break
        out.append(tok)
    text = llm.detokenize(out).decode("utf-8", errors="ignore")
    llm.close()
    return out, text


@pytest.fixture(scope="module")
def b2(tiny_path):
    with LlamaEngine(tiny_path("b2-7b-chat"), LoadOptions(n_ctx=1024)) as engine:
        yield engine


@pytest.fixture(scope="module")
def tiny_path():
    from tiny_models import tiny_model

    return tiny_model


@pytest.mark.parametrize("kind", ["b2-7b-chat", "b1-13b-chat", "b1-7b-base"])
def test_greedy_equals_llama_cpp_python(tiny_path, kind):
    path = tiny_path(kind)
    with LlamaEngine(path, LoadOptions(n_ctx=1024)) as engine:
        prompt = engine.prompt([Message("user", "请介绍一下你自己")], max_tokens=48)
        res = engine.generate(prompt, GREEDY).wait()
    ref_ids, ref_text = reference_greedy(path, prompt.token_ids, 48)
    assert res.token_ids == ref_ids
    assert res.text == ref_text
    assert res.completion_tokens == len(ref_ids) > 0


def test_ask_json_equals_reference(cli, tiny_path, tmp_path):
    path = tiny_path("b1-13b-chat")
    res = cli(
        "ask",
        "--model",
        str(path),
        "--json",
        "--temperature",
        "0",
        "--repeat-penalty",
        "1.0",
        "--max-tokens",
        "40",
        "--n-ctx",
        "512",
        "你好，百川",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) >= {
        "reply",
        "model",
        "template",
        "prompt_tokens",
        "completion_tokens",
        "finish_reason",
        "ttft_s",
        "prompt_tokens_per_s",
        "gen_tokens_per_s",
    }
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps([{"role": "user", "content": "你好，百川"}]), encoding="utf-8")
    ids = json.loads(cli("prompt", str(msgs), "--model", str(path)).stdout)["token_ids"]
    _, ref_text = reference_greedy(path, ids, 40, n_ctx=512)
    assert doc["reply"] == ref_text
    assert doc["template"] == "baichuan-13b-chat"
    assert doc["prompt_tokens"] == len(ids)


def test_utf8_split_over_byte_tokens_streams_whole_characters(b2):
    from make_tiny_model import ZH_ABSENT

    text = "中" + "".join(ZH_ABSENT[:6]) + "好"
    ids = b2.tokenizer.encode(text)
    pieces = b2.call(lambda: [b2._piece(t) for t in ids])
    assert any(len(p) == 1 and p[0] >= 0x80 for p in pieces), "expected byte-fallback tokens"
    stream = TextStream()
    deltas = [stream.feed(p)[0] for p in pieces]
    deltas.append(stream.flush())
    assert "".join(deltas).lstrip() == text
    assert all("\ufffd" not in d for d in deltas)


def test_stop_string_is_cut_and_never_streamed():
    stream = TextStream(["USER:"])
    out = []
    for chunk in [b"Hello ", b"US", b"ER", b": next"]:
        text, hit = stream.feed(chunk)
        out.append(text)
        if hit:
            break
    assert "".join(out) == "Hello " and hit
    stream = TextStream(["USER:"])
    assert stream.feed(b"a US")[0] == "a " and stream.flush() == "US"


def test_cancel_stops_within_a_token(b2):
    prompt = Prompt(
        b2.prompt([Message("user", "写一篇长文章")], max_tokens=900).token_ids,
        "baichuan2-chat",
        900,
    )
    gen = b2.generate(prompt, GREEDY, ignore_eos=True)
    it = iter(gen)
    for _ in range(5):
        next(it)
    t0 = time.perf_counter()
    gen.cancel()
    for _ in it:
        pass
    latency = time.perf_counter() - t0
    assert gen.result.finish_reason == "cancelled"
    assert gen.result.completion_tokens < 900
    assert latency < 0.5, f"cancel took {latency:.3f}s"


def test_cancel_during_prompt_evaluation(tiny_path):
    with LlamaEngine(tiny_path("b2-7b-chat"), LoadOptions(n_ctx=4096, n_batch=4096)) as engine:
        ids = engine.tokenizer.encode("很长的提示。" * 600)[:3500]
        gen = engine.generate(Prompt(ids, "completion", 10), GREEDY)
        threading.Timer(0.05, gen.cancel).start()
        res = gen.wait()
    assert res.finish_reason == "cancelled"
    assert res.completion_tokens == 0


def test_kv_cache_reused_across_turns(b2):
    b2.reset_cache()
    s = GREEDY.merged(max_tokens=16)
    msgs = [Message("system", "你是助手"), Message("user", "第一个问题")]
    p1 = b2.prompt(msgs, max_tokens=16)
    r1 = b2.generate(p1, s).wait()
    assert r1.cached_tokens == 0
    msgs += [Message("assistant", r1.text), Message("user", "第二个问题")]
    p2 = b2.prompt(msgs, max_tokens=16)
    r2 = b2.generate(p2, s).wait()
    assert r2.cached_tokens >= len(p1.token_ids)
    assert r2.prompt_tokens - r2.cached_tokens < len(p2.token_ids) - len(p1.token_ids) + 20
    # the same prompt again evaluates a single token
    r3 = b2.generate(p2, s).wait()
    assert r3.cached_tokens == len(p2.token_ids) - 1 or r3.cached_tokens == len(p2.token_ids)


def test_generation_never_exceeds_context(tiny_path):
    with LlamaEngine(tiny_path("b2-7b-chat"), LoadOptions(n_ctx=64)) as engine:
        msgs = []
        for i in range(12):
            msgs += [Message("user", f"问题{i}"), Message("assistant", f"回答{i}回答")]
        msgs.append(Message("user", "最后"))
        prompt = engine.prompt(msgs, max_tokens=200)
        res = engine.generate(prompt, GREEDY.merged(max_tokens=200), ignore_eos=True).wait()
    assert prompt.dropped_rounds > 0
    assert len(prompt.token_ids) + res.completion_tokens <= 64
    assert res.finish_reason == "length"


def test_seed_makes_sampling_reproducible(b2):
    s = Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=1234, max_tokens=20)
    p = b2.prompt([Message("user", "随便说点")], max_tokens=20)
    a = b2.generate(p, s, ignore_eos=True).wait().token_ids
    b = b2.generate(p, s, ignore_eos=True).wait().token_ids
    c = b2.generate(p, s.merged(seed=99), ignore_eos=True).wait().token_ids
    assert a == b and a != c


def test_templates_detected_from_file(tiny_path):
    from baichuan_tui.engine.family import detect_family
    from baichuan_tui.engine.gguf_check import inspect_gguf

    expect = {
        "b2-7b-chat": "baichuan2-chat",
        "b2-13b-chat": "baichuan2-chat",
        "b1-13b-chat": "baichuan-13b-chat",
        "b1-7b-base": "completion",
        "b2-7b-base": "completion",
        "vicuna": "vicuna",
    }
    for kind, template in expect.items():
        assert detect_family(inspect_gguf(tiny_path(kind))).template == template, kind


def test_a_context_llama_cpp_cannot_allocate_is_memory_advice_not_a_bad_file(tiny_path):
    """Past the loaders' memory check (a direct LlamaEngine), a context llama.cpp fails to
    allocate says so, instead of blaming the file ("download it again")."""
    import subprocess
    import sys

    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from baichuan_tui.engine.llama import LlamaEngine, LoadOptions\n"
        "from baichuan_tui.errors import BadModelFile, UserError\n"
        "try:\n"
        f"    LlamaEngine({str(tiny_path('b2-7b-chat'))!r}, LoadOptions(n_ctx=99_999_999))\n"
        "except BadModelFile as e:\n"
        "    print('BAD', e)\n"
        "except UserError as e:\n"
        "    print('USER', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    ).stdout
    assert out.startswith("USER llama.cpp could not set up a context of 99999999 tokens"), out
    assert "lower --n-ctx" in out and "download it again" not in out
