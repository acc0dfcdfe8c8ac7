"""The engine in a child process (what the app uses) and lending a core to the reader."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import llama_cpp
import pytest

from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.engine.process import EngineProcess
from baichuan_tui.engine.prompts import Message, Prompt, PromptTooLong
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.engine.stream import Generation
from baichuan_tui.errors import UserError

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=40)
HELLO = [Message("user", "请介绍一下你自己")]


@pytest.fixture(scope="module")
def b2_path():
    from tiny_models import tiny_model

    return tiny_model("b2-7b-chat")


@pytest.fixture(scope="module")
def remote(b2_path):
    with EngineProcess(b2_path, LoadOptions(n_ctx=1024, n_threads=2)) as engine:
        yield engine


def test_same_prompt_tokens_and_reply_as_in_process(remote, b2_path):
    with LlamaEngine(b2_path, LoadOptions(n_ctx=1024)) as local:
        prompt = local.prompt(HELLO, max_tokens=40)
        want = local.generate(prompt, GREEDY).wait()
        want_logits = local.next_token_logits(prompt.token_ids, [195, 196, 2680])
        want_ids = local.encode("你好")
    assert remote.prompt(HELLO, max_tokens=40) == prompt
    gen = remote.generate(prompt, GREEDY)
    text = "".join(gen)
    assert gen.result.token_ids == want.token_ids and gen.result.completion_tokens > 0
    assert text == want.text == gen.result.text
    assert gen.tokens == len(want.token_ids)
    assert remote.next_token_logits(
        prompt.token_ids, [195, 196, 2680], reuse_cache=False
    ) == pytest.approx(want_logits)
    assert remote.encode("你好") == want_ids
    assert (remote.family.label, remote.template, remote.n_ctx) == (
        "Baichuan2-7B-Chat",
        "baichuan2-chat",
        1024,
    )


def test_cancel_reaches_the_child(remote):
    prompt = Prompt(remote.prompt(HELLO, max_tokens=900).token_ids, "baichuan2-chat", 900)
    gen = remote.generate(prompt, GREEDY.merged(max_tokens=900), ignore_eos=True)
    it = iter(gen)
    next(it)
    t0 = time.perf_counter()
    gen.cancel()
    for _ in it:
        pass
    assert gen.result.finish_reason == "cancelled"
    assert gen.result.completion_tokens < 900
    assert time.perf_counter() - t0 < 1.0
    # the next request is answered: the child is free again
    short = Prompt(prompt.token_ids, "baichuan2-chat", 3)
    assert remote.generate(short, GREEDY, ignore_eos=True).wait().completion_tokens == 3


def test_a_prompt_too_long_comes_back_with_its_numbers(remote):
    with pytest.raises(PromptTooLong) as err:
        remote.prompt([Message("user", "长话短说，" * 600)], max_tokens=8)
    exc = err.value
    assert exc.n_ctx == 1024 and exc.tokens > 1024 and exc.over == exc.tokens + 1 - 1024
    assert "context holds 1024" in str(exc)


def test_errors_come_back_as_one_line(remote, tmp_path):
    with pytest.raises(UserError, match="context holds 1024"):
        remote.next_token_logits(list(range(5, 2000)))
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    with pytest.raises(UserError, match="notes.gguf") as err:
        EngineProcess(bad)
    assert "\n" not in str(err.value)
    assert remote.encode("好") == remote.encode("好")  # still serving after an error


def test_core_lent_while_the_reader_asks(b2_path):
    """Inside ``core_lent`` the engine decodes with one thread fewer, after it all of them."""
    with LlamaEngine(b2_path, LoadOptions(n_ctx=2048, n_threads=2)) as engine:
        ctx = engine._llm.ctx
        prompt = Prompt(engine.prompt(HELLO, max_tokens=1500).token_ids, "baichuan2-chat", 1500)
        gen = engine.generate(prompt, GREEDY.merged(max_tokens=1500), ignore_eos=True)
        it = iter(gen)
        next(it)
        assert llama_cpp.llama_n_threads(ctx) == 2
        with gen.core_lent(timeout=5) as lent:
            assert lent
            assert llama_cpp.llama_n_threads(ctx) == 1
            assert llama_cpp.llama_n_threads_batch(ctx) == 2  # prompts keep every thread
        deadline = time.monotonic() + 5
        while llama_cpp.llama_n_threads(ctx) != 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert llama_cpp.llama_n_threads(ctx) == 2
        gen.cancel()
        gen.wait()
        assert llama_cpp.llama_n_threads(ctx) == 2


def test_core_lent_returns_after_the_reply_ends(remote):
    gen = remote.generate(remote.prompt(HELLO, max_tokens=4), GREEDY.merged(max_tokens=4))
    gen.wait()
    t0 = time.perf_counter()
    with gen.core_lent(timeout=5) as lent:
        assert lent  # nothing to wait for: the reply has ended
    assert time.perf_counter() - t0 < 1.0


def test_child_exits_when_the_app_is_killed(b2_path, tmp_path):
    """``kill -9`` of the app leaves no model process behind."""
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys, time
        from baichuan_tui.engine.llama import LoadOptions
        from baichuan_tui.engine.process import EngineProcess
        from baichuan_tui.engine.prompts import Message
        from baichuan_tui.engine.sampling import Sampling
        if __name__ == "__main__":
            e = EngineProcess({str(b2_path)!r}, LoadOptions(n_ctx=2048))
            p = e.prompt([Message("user", "写")], max_tokens=1800)
            gen = e.generate(p, Sampling(max_tokens=1800), ignore_eos=True)
            next(iter(gen))
            print(e._proc.pid, flush=True)
            time.sleep(60)
    """)
    )
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(app.stdout.readline())
        os.kill(child, 0)  # running, mid-reply
    finally:
        app.kill()
        app.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_cancel_during_prompt_evaluation_in_the_child(b2_path):
    with EngineProcess(b2_path, LoadOptions(n_ctx=4096, n_batch=4096)) as engine:
        ids = engine.encode("很长的提示。" * 600)[:3500]
        gen = engine.generate(Prompt(ids, "completion", 10), GREEDY)
        time.sleep(0.05)
        gen.cancel()
        res = gen.wait()
    assert res.finish_reason == "cancelled"
    assert res.completion_tokens == 0


def test_a_dead_child_ends_the_reply_with_one_line(b2_path):
    engine = EngineProcess(b2_path, LoadOptions(n_ctx=2048))
    prompt = Prompt(engine.prompt(HELLO, max_tokens=1800).token_ids, "baichuan2-chat", 1800)
    gen = engine.generate(prompt, GREEDY, ignore_eos=True)
    it = iter(gen)
    next(it)
    os.kill(engine._proc.pid, 9)
    with pytest.raises(UserError, match="model process ended unexpectedly"):
        for _ in it:
            pass
    with pytest.raises(UserError, match="model process"):
        engine.encode("好")
    engine.close()  # nothing left to stop; returns at once


def test_unknown_request_is_refused(remote):
    with pytest.raises(ValueError, match="no request 'close'"):
        remote._request("close")
    assert remote.encode("好")


def test_lending_a_core_pays_only_when_a_draw_costs_more_than_slower_tokens():
    """A 7B at 4 tok/s on 2 cores keeps both threads (lending cost 29% of decode speed in the
    app, measured by scripts/bench_shapes.py); a fast model still lends."""
    gen = Generation()
    assert gen.lending_pays(0.02, 0.25)  # threads unknown: lend, as before
    gen.decode_threads = 2
    assert gen.lending_pays(0.02, 0.001)  # tiny model: a token is cheaper than a stall
    assert not gen.lending_pays(0.02, 0.25)  # 7B on 2 threads: one token at half speed
    assert gen.lending_pays(0.0, 0.25)  # no draw measured yet: lend
    gen.decode_threads = 16
    assert gen.lending_pays(0.02, 0.25)  # 1/15 slower tokens cost less than a 20 ms stall


def test_engines_say_how_many_threads_decode(b2_path, remote):
    with LlamaEngine(b2_path, LoadOptions(n_ctx=512, n_threads=2)) as engine:
        gen = engine.generate(engine.prompt(HELLO, max_tokens=2), GREEDY.merged(max_tokens=2))
        gen.wait()
        assert gen.decode_threads == 2
    gen = remote.generate(remote.prompt(HELLO, max_tokens=2), GREEDY.merged(max_tokens=2))
    gen.wait()
    assert gen.decode_threads == remote.n_threads
