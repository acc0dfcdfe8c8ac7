"""Prompts, byte for byte as shared/specs/quiz-protocols.md gives them, and fitting into n_ctx.

Every protocol's prompt is ``header + shot(d1) + ... + shot(dk) + query(item)``: the header and
shots are the same for every question of a subject, so their KV cache can be reused. The letter
token of L is ``tokens(prompt + sep + L)[-1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from baichuan_tui.errors import UserError
from baichuan_tui.quiz.datasets import get_benchmark
from baichuan_tui.quiz.schema import LETTERS, Item, Subject
from baichuan_tui.quiz.subjects import CEVAL_LM_EVAL

Encode = Callable[[str], list[int]]
_CEVAL_HEADER = "以下是中国关于{}考试的单项选择题，请选出其中的正确答案。\n"


def _options(d: Item) -> str:
    return "".join(f"\n{L}. {c}" for L, c in zip(LETTERS, d.options, strict=True))


def _letter(d: Item) -> str:
    if d.answer is None:
        raise UserError(
            f"shot {d.index} of {d.subject} has no answer letter ({d.answer_raw!r})",
            "fix the dev file or pass --shots 0",
        )
    return d.answer


@dataclass(frozen=True)
class Protocol:
    """How one benchmark's prompts are written (see the module docstring)."""

    name: str
    title: str
    sep: str
    header: Callable[[Subject], str]
    shot: Callable[[Item], str]
    query: Callable[[Item], str]
    reduce: str = "end"
    """Which shot goes first when a prompt does not fit: ``end`` (k -> k-1) or ``longest``."""

    def prompt(self, subject: Subject, shots: Sequence[Item], item: Item) -> str:
        return self.header(subject) + "".join(self.shot(d) for d in shots) + self.query(item)


# ------------------------------------------------------------------------------ protocols
def _baichuan_example(d: Item, ans: str) -> str:
    return f"{d.question}{_options(d)}\n答案：{ans}"


def _cmmlu_example(d: Item, ans: str) -> str:
    return f"题目：{d.question}{_options(d)}\n答案是：{ans}"


def _hendrycks_example(d: Item, ans: str | None) -> str:
    return d.question + _options(d) + "\nAnswer:" + (f" {ans}\n\n" if ans else "")


def _lm_eval(cue: str) -> Callable[[Item], str]:
    return lambda d: f"{d.question.strip()}{_options(d)}\n{cue}"


def _first5_text(bench: str) -> Callable[[Item], str]:
    if bench == "agieval":
        return lambda d: d.question  # the query already ends with the answer cue
    return lambda d: f"{d.question.strip()}\n答案："


def _first5(bench: str) -> Protocol:
    text = _first5_text(bench)
    return Protocol(
        "first5",
        "C-Eval-style, first-5 split",
        "",
        lambda s: _CEVAL_HEADER.format(s.title),
        lambda d: "\n" + text(d) + _letter(d),
        lambda d: "\n" + text(d),
    )


_ceval_lm = _lm_eval("答案：")
_mmlu_lm = _lm_eval("Answer:")

PROTOCOLS: dict[tuple[str, str], Protocol] = {
    ("ceval", "baichuan"): Protocol(
        "baichuan",
        "Baichuan-7B evaluation/evaluate_zh.py",
        "",
        lambda s: _CEVAL_HEADER.format(s.title),
        lambda d: "\n" + _baichuan_example(d, _letter(d)),
        lambda d: "\n" + _baichuan_example(d, ""),
    ),
    ("ceval", "lm-eval"): Protocol(
        "lm-eval",
        "lm-evaluation-harness ceval-valid",
        " ",
        lambda s: (
            f"以下是中国关于{CEVAL_LM_EVAL.get(s.name, s.title)}的单项选择题，"
            "请选出其中的正确答案。\n\n"
        ),
        lambda d: f"{_ceval_lm(d)} {_letter(d)}\n\n",
        _ceval_lm,
    ),
    ("cmmlu", "cmmlu"): Protocol(
        "cmmlu",
        "CMMLU src/mp_utils.py",
        "",
        lambda s: f"以下是关于{s.title}的单项选择题，请直接给出正确答案的选项。\n\n",
        lambda d: _cmmlu_example(d, d.answer_raw or "") + "\n\n",
        lambda d: _cmmlu_example(d, ""),
        reduce="longest",
    ),
    ("cmmlu", "lm-eval"): Protocol(
        "lm-eval",
        "lm-evaluation-harness cmmlu",
        " ",
        lambda s: f"以下是关于{s.title}的单项选择题，请直接给出正确答案的选项。\n\n",
        lambda d: f"{_ceval_lm(d)} {_letter(d)}\n\n",
        _ceval_lm,
    ),
    ("mmlu", "hendrycks"): Protocol(
        "hendrycks",
        "Baichuan-7B evaluation/evaluate_mmlu.py (Hendrycks)",
        " ",
        lambda s: (
            "The following are multiple choice questions (with answers) about "
            f"{' '.join(s.name.split('_'))}.\n\n"
        ),
        lambda d: _hendrycks_example(d, _letter(d)),
        lambda d: _hendrycks_example(d, None),
    ),
    ("mmlu", "lm-eval"): Protocol(
        "lm-eval",
        "lm-evaluation-harness mmlu",
        " ",
        lambda s: (
            "The following are multiple choice questions (with answers) about "
            f"{' '.join(s.name.split('_'))}.\n\n"
        ),
        lambda d: f"{_mmlu_lm(d)} {_letter(d)}\n\n",
        _mmlu_lm,
    ),
    ("agieval", "first5"): _first5("agieval"),
    ("gaokao", "first5"): _first5("gaokao"),
}


def get_protocol(bench: str, name: str | None = None) -> Protocol:
    b = get_benchmark(bench)
    name = name or b.default_protocol
    protocol = PROTOCOLS.get((b.name, name))
    if protocol is None:
        raise UserError(
            f"{b.title} has no protocol '{name}'", f"choose one of {', '.join(b.protocols)}"
        )
    return protocol


# ---------------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class Built:
    text: str
    ids: list[int]
    shots: int
    letter_ids: tuple[int, ...]


def _drop(protocol: Protocol, shots: list[Item], encode: Encode) -> list[Item]:
    if protocol.reduce == "longest":  # as CMMLU's mp_utils.gen_prompt: every longest one goes
        lengths = [len(encode(protocol.shot(d))) for d in shots]
        return [d for d, n in zip(shots, lengths, strict=True) if n != max(lengths)]
    return shots[:-1]


def build(
    protocol: Protocol,
    subject: Subject,
    item: Item,
    encode: Encode,
    n_ctx: int,
    shots: Sequence[Item] | None = None,
) -> Built:
    """The prompt for ``item`` with as many shots as fit in ``n_ctx``, and the letter ids."""
    chosen = list(subject.shots if shots is None else shots)
    while True:
        text = protocol.prompt(subject, chosen, item)
        ids = encode(text)
        if len(ids) <= n_ctx:
            break
        if not chosen:
            raise UserError(
                f"question {item.index} of {subject.name} is {len(ids)} tokens "
                f"without shots; the context holds {n_ctx}",
                "raise --n-ctx",
            )
        chosen = _drop(protocol, chosen, encode)
    letters = tuple(encode(text + protocol.sep + L)[-1] for L in LETTERS)
    return Built(text, ids, len(chosen), letters)
