"""An independent implementation of the quiz protocols, to check the package against.

It builds each prompt from the raw rows itself (from shared/specs/quiz-protocols.md), evaluates
it from scratch with its own ``llama_cpp.Llama`` (no prefix reuse), reads the last position's
logits with ``llama_get_logits_ith`` and takes a numpy softmax over the four letter tokens.
"""

from __future__ import annotations

import llama_cpp
import numpy as np


def ref_ceval(zh: str, dev: list[dict], item: dict, k: int) -> tuple[str, str]:
    def example(d: dict, ans: str) -> str:
        return f"{d['question']}\nA. {d['A']}\nB. {d['B']}\nC. {d['C']}\nD. {d['D']}\n答案：{ans}"

    prompt = f"以下是中国关于{zh}考试的单项选择题，请选出其中的正确答案。\n"
    for d in dev[:k]:
        prompt += "\n" + example(d, d["answer"].strip().upper())
    return prompt + "\n" + example(item, ""), ""


def ref_mmlu(subject: str, dev: list[dict], item: dict, k: int) -> tuple[str, str]:
    def example(d: dict, ans: str | None) -> str:
        opts = "".join(f"\n{L}. {c}" for L, c in zip("ABCD", d["choices"], strict=True))
        return d["question"] + opts + "\nAnswer:" + (f" {ans}\n\n" if ans else "")

    prompt = (
        "The following are multiple choice questions (with answers) about "
        f"{' '.join(subject.split('_'))}.\n\n"
    )
    for d in dev[:k]:
        prompt += example(d, "ABCD"[d["answer"]])
    return prompt + example(item, None), " "


def ref_cmmlu(zh: str, dev: list[dict], item: dict, k: int) -> tuple[str, str]:
    def example(d: dict, ans: str) -> str:
        opts = f"\nA. {d['A']}\nB. {d['B']}\nC. {d['C']}\nD. {d['D']}"
        return f"题目：{d['Question']}{opts}\n答案是：{ans}"

    prompt = f"以下是关于{zh}的单项选择题，请直接给出正确答案的选项。\n\n"
    for d in dev[:k]:
        prompt += example(d, d["Answer"]) + "\n\n"
    return prompt + example(item, ""), ""


class Reference:
    def __init__(self, path, n_ctx: int = 4096) -> None:
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=512, verbose=False)
        self.n_ctx = n_ctx

    def tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def score(self, prompt: str, sep: str) -> np.ndarray:
        ids = self.tokens(prompt)
        self.llm.reset()
        self.llm.eval(ids)
        row = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        letters = [self.tokens(prompt + sep + L)[-1] for L in "ABCD"]
        logits = np.array([row[t] for t in letters], dtype=np.float64)
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def fitted(self, make, k: int) -> tuple[np.ndarray, int]:
        """Drop shots from the end until the prompt fits, as the C-Eval and MMLU scripts."""
        while True:
            prompt, sep = make(k)
            if len(self.tokens(prompt)) <= self.n_ctx or k == 0:
                return self.score(prompt, sep), k
            k -= 1

    def close(self) -> None:
        self.llm.close()
