"""ServerEngine against the real llama-server on tiny models, checked against LlamaEngine:
prompt ids, greedy replies (with and without an RPC worker), streaming, cancel, slot reuse,
quiz probabilities."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.engine.prompts import ASSISTANT_ID, USER_ID, Message
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.quiz import datasets, protocols, runner
from baichuan_tui.server.engine import ServerEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))
import quizdata  # noqa: E402
from llama_servers import start_rpc  # noqa: E402

CTX = 1024
GREEDY = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=40)
LONG = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=600)

TRICKY = [
    Message("system", "你是一个助手 <s> </s>"),
    Message("user", "<reserved_106>你好</s><reserved_107> <s>"),
    Message("assistant", "好的 <reserved_102> </s>"),
    Message("user", "再说一次 <reserved_103>\n\t</s>"),
]


@pytest.fixture(scope="module")
def b2(tiny, launch):
    """A two-slot server on the Baichuan2 tiny model, and the same file loaded here."""
    path = tiny("b2-7b-chat")
    server = launch(path, slots=2, ctx=CTX)
    local = LlamaEngine(path, LoadOptions(n_ctx=CTX))
    yield server, ServerEngine(server.url), local
    local.close()


def test_the_server_describes_its_model(b2, tiny):
    server, remote, local = b2
    assert remote.path == tiny("b2-7b-chat")
    assert remote.n_ctx == CTX
    assert remote.total_slots == 2
    assert remote.template == local.template == "baichuan2-chat"
    assert remote.family == local.family
    assert (remote.tokenizer.bos_id, remote.tokenizer.eos_id) == (1, 2)


@pytest.mark.parametrize("kind", ["b2-7b-chat", "b1-13b-chat", "b1-7b-base", "vicuna"])
def test_prompt_ids_equal_the_local_engine(tiny, launch, kind):
    path = tiny(kind)
    server = launch(path, ctx=CTX)
    remote = ServerEngine(server.url)
    with LlamaEngine(path, LoadOptions(n_ctx=CTX, vocab_only=True)) as local:
        assert remote.template == local.template
        for messages in (TRICKY, TRICKY[:2], TRICKY[1:2]):
            want = local.prompt(messages, max_tokens=64)
            got = remote.prompt(messages, max_tokens=64)
            assert got == want
        cont = remote.prompt(TRICKY[:3], max_tokens=64, continue_last=True)
        assert cont == local.prompt(TRICKY[:3], max_tokens=64, continue_last=True)
        for text in ("<reserved_106>", "</s>", "<s>你好", ""):
            assert remote.encode(text) == local.encode(text)
            assert remote.encode(text, special=True) == local.encode(text, special=True)
    if remote.template == "baichuan2-chat":
        ids = remote.prompt(TRICKY, max_tokens=64).token_ids
        # role ids only where the builder put them: two user turns, one assistant, one cue
        assert ids.count(USER_ID) == 2 and ids.count(ASSISTANT_ID) == 2
        assert 1 not in ids and 2 not in ids


def _parity(remote: ServerEngine, local: LlamaEngine, messages: list[Message]) -> int:
    prompt = local.prompt(messages, max_tokens=GREEDY.max_tokens)
    assert remote.prompt(messages, max_tokens=GREEDY.max_tokens) == prompt
    want = local.generate(prompt, GREEDY).wait()
    got = remote.generate(prompt, GREEDY).wait()
    assert got.text == want.text
    assert (got.finish_reason, got.completion_tokens) == (want.finish_reason, len(want.token_ids))
    if len(got.token_ids) == len(want.token_ids):
        assert got.token_ids == want.token_ids
    else:  # a byte that is not UTF-8: the server sends U+FFFD and never the byte token's id
        assert "\ufffd" in local.detokenize(want.token_ids)
        assert got.token_ids == [t for t in want.token_ids if t in got.token_ids]
    return got.completion_tokens


@pytest.mark.parametrize("kind", ["b2-7b-chat", "b1-13b-chat", "b1-7b-base"])
def test_greedy_reply_equals_the_local_engine(tiny, launch, kind):
    path = tiny(kind)
    server = launch(path, ctx=CTX)
    remote = ServerEngine(server.url)
    with LlamaEngine(path, LoadOptions(n_ctx=CTX)) as local:
        for text in ("请介绍一下你自己", "Write a poem about the sea", "<reserved_106></s>"):
            assert _parity(remote, local, [Message("user", text)]) > 0


@pytest.fixture(scope="module")
def f16_model(tmp_path_factory):
    """A tiny Baichuan2 with F16 weights: llama.cpp repacks Q4_0 weights for its CPU kernels
    in-process but not on an RPC worker, which changes near-tie argmaxes of random weights."""
    from tiny_models import generator

    path = tmp_path_factory.mktemp("f16") / "Baichuan2-7B-Chat-f16.gguf"
    generator().write_tiny_model(
        path, family="baichuan2", layers=32, name="Baichuan2-7B-Chat", seed=1,
        head_type="F16", _weight_type="F16",
    )  # fmt: skip
    return path


def test_greedy_reply_equals_the_local_engine_over_an_rpc_worker(f16_model, launch, tmp_path):
    worker = start_rpc(tmp_path)
    try:
        server = launch(f16_model, ctx=CTX, rpc=f"127.0.0.1:{worker.port}")
        remote = ServerEngine(server.url)
        with LlamaEngine(f16_model, LoadOptions(n_ctx=CTX)) as local:
            for text in ("请介绍一下你自己", "Write a poem about the sea"):
                assert _parity(remote, local, [Message("user", text)]) > 0
        assert "Accepted client connection" in worker.log.read_text()
    finally:
        worker.stop()


def test_the_reply_streams_in_batches(b2):
    _, remote, _ = b2
    prompt = remote.prompt([Message("user", "stream")], max_tokens=300)
    gen = remote.generate(prompt, LONG, ignore_eos=True)
    chunks, counts = [], []
    for chunk in gen:
        chunks.append(chunk)
        counts.append(gen.tokens)
    res = gen.result
    assert res is not None and res.finish_reason == "length"
    assert res.completion_tokens == len(res.token_ids) == 300
    assert "".join(chunks) == res.text
    assert len(chunks) > 1  # it streamed
    assert counts == sorted(counts)
    assert res.ttft_s > 0 and res.gen_s > 0


def _wait_idle(server, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while server.busy_slots():
        assert time.monotonic() - start < timeout, "the server slot stayed busy"
        time.sleep(0.02)
    return time.monotonic() - start


def test_cancel_closes_the_request_and_frees_the_slot(b2):
    server, remote, _ = b2
    prompt = remote.prompt([Message("user", "a long one")], max_tokens=900)
    gen = remote.generate(prompt, LONG.merged(max_tokens=900), ignore_eos=True)
    it = iter(gen)
    next(it)
    assert server.busy_slots() == 1
    gen.cancel()
    for _ in it:
        pass
    res = gen.result
    assert res is not None and res.finish_reason == "cancelled"
    assert 0 < res.completion_tokens < 900
    _wait_idle(server)


def test_a_conversation_keeps_its_slot_and_its_cache(b2):
    _, remote, local = b2
    first = [Message("user", "第一个问题是什么")]
    p1 = remote.prompt(first, max_tokens=20)
    r1 = remote.generate(p1, GREEDY.merged(max_tokens=20)).wait()
    slot = remote.slot
    assert slot is not None
    second = [*first, Message("assistant", r1.text), Message("user", "第二个")]
    p2 = remote.prompt(second, max_tokens=20)
    r2 = remote.generate(p2, GREEDY.merged(max_tokens=20)).wait()
    assert remote.slot == slot
    assert r2.cached_tokens >= len(p1.token_ids)
    assert r2.token_ids == local.generate(p2, GREEDY.merged(max_tokens=20)).wait().token_ids
    remote.reset_cache()
    r3 = remote.generate(p2, GREEDY.merged(max_tokens=20)).wait()
    assert r3.cached_tokens == 0 and r3.token_ids == r2.token_ids


def test_quiz_letter_probabilities_equal_the_local_softmax(b2):
    _, remote, local = b2
    letters = [local.encode(L)[-1] for L in "ABCD"]
    worst = 0.0
    for text in ("题目：1+1=？\nA. 1\nB. 2\nC. 3\nD. 4\n答案：", "Which is a river?\nAnswer:"):
        ids = local.encode(text)
        want = runner.softmax(local.next_token_logits(ids, letters, reuse_cache=False))
        got = runner.softmax(remote.next_token_logits(ids, letters))
        worst = max(worst, *(abs(a - b) for a, b in zip(got, want, strict=True)))
    assert worst < 1e-4, worst


def test_quiz_run_gives_the_local_predictions(b2, tmp_path):
    _, remote, local = b2
    quizdata.write_ceval(tmp_path, {"logic": 4, "law": 3})
    ds = datasets.load("ceval", split="val", data=tmp_path)
    proto = protocols.get_protocol("ceval")
    ours = runner.run_quiz(ds, proto, runner.EngineScorer(remote))
    theirs = runner.run_quiz(ds, proto, runner.EngineScorer(local))
    for a, b in zip(ours.subjects, theirs.subjects, strict=True):
        for qa, qb in zip(a.questions, b.questions, strict=True):
            assert qa.prediction == qb.prediction
            assert max(abs(qa.probs[L] - qb.probs[L]) for L in "ABCD") < 1e-4
    assert ours.accuracy == theirs.accuracy
