"""Prompts byte for byte against hand-written strings; letter tokens; shot reduction."""

from __future__ import annotations

import pytest

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import protocols
from baichuan_tui.quiz.schema import Item, Subject


def _zh_subject(name: str = "computer_network", title: str = "计算机网络") -> Subject:
    shots = [
        Item(name, 0, "甲是什么", ("一", "二", "三", "四"), " b "),
        Item(name, 1, " 乙在哪里 ", ("东", "西", "南", "北"), "C"),
    ]
    item = Item(name, 7, "丙多少\n钱", ("1", "2", "3", "4"), "A")
    return Subject(name, title, [item], shots)


def _en_subject() -> Subject:
    shots = [
        Item("high_school_physics", 0, "What is x?", ("one", "two", "three", "four"), "B"),
        Item("high_school_physics", 1, " Why y? ", ("a", "b", "c", "d"), "D"),
    ]
    item = Item("high_school_physics", 3, "Where is z?", ("up", "down", "left", "right"), "A")
    return Subject("high_school_physics", "high school physics", [item], shots)


def _prompt(bench: str, proto: str, subject: Subject) -> str:
    return protocols.get_protocol(bench, proto).prompt(subject, subject.shots, subject.items[0])


def test_ceval_baichuan_byte_exact():
    assert _prompt("ceval", "baichuan", _zh_subject()) == (
        "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n"
        "\n甲是什么\nA. 一\nB. 二\nC. 三\nD. 四\n答案：B"
        "\n 乙在哪里 \nA. 东\nB. 西\nC. 南\nD. 北\n答案：C"
        "\n丙多少\n钱\nA. 1\nB. 2\nC. 3\nD. 4\n答案："
    )


def test_ceval_zero_shot_is_the_scripts_zero_shot_form():
    s = _zh_subject()
    text = protocols.get_protocol("ceval").prompt(s, [], s.items[0])
    assert text == (
        "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n"
        "丙多少\n钱\nA. 1\nB. 2\nC. 3\nD. 4\n答案："
    )


def test_ceval_lm_eval_byte_exact():
    s = _zh_subject("mao_zedong_thought", "毛泽东思想和中国特色社会主义理论概论")
    assert _prompt("ceval", "lm-eval", s) == (
        "以下是中国关于毛泽东思想和中国特色社会主义理论体系概论的单项选择题，请选出其中的正确答案。\n\n"
        "甲是什么\nA. 一\nB. 二\nC. 三\nD. 四\n答案： B\n\n"
        "乙在哪里\nA. 东\nB. 西\nC. 南\nD. 北\n答案： C\n\n"
        "丙多少\n钱\nA. 1\nB. 2\nC. 3\nD. 4\n答案："
    )


def test_cmmlu_byte_exact():
    s = _zh_subject("agronomy", "农学")
    assert _prompt("cmmlu", "cmmlu", s) == (
        "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n"
        "题目：甲是什么\nA. 一\nB. 二\nC. 三\nD. 四\n答案是： b \n\n"
        "题目： 乙在哪里 \nA. 东\nB. 西\nC. 南\nD. 北\n答案是：C\n\n"
        "题目：丙多少\n钱\nA. 1\nB. 2\nC. 3\nD. 4\n答案是："
    )


def test_cmmlu_lm_eval_byte_exact():
    s = _zh_subject("agronomy", "农学")
    assert _prompt("cmmlu", "lm-eval", s) == (
        "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n"
        "甲是什么\nA. 一\nB. 二\nC. 三\nD. 四\n答案： B\n\n"
        "乙在哪里\nA. 东\nB. 西\nC. 南\nD. 北\n答案： C\n\n"
        "丙多少\n钱\nA. 1\nB. 2\nC. 3\nD. 4\n答案："
    )


def test_mmlu_hendrycks_byte_exact():
    assert _prompt("mmlu", "hendrycks", _en_subject()) == (
        "The following are multiple choice questions (with answers) about high school physics."
        "\n\n"
        "What is x?\nA. one\nB. two\nC. three\nD. four\nAnswer: B\n\n"
        " Why y? \nA. a\nB. b\nC. c\nD. d\nAnswer: D\n\n"
        "Where is z?\nA. up\nB. down\nC. left\nD. right\nAnswer:"
    )


def test_mmlu_lm_eval_byte_exact():
    assert _prompt("mmlu", "lm-eval", _en_subject()) == (
        "The following are multiple choice questions (with answers) about high school physics."
        "\n\n"
        "What is x?\nA. one\nB. two\nC. three\nD. four\nAnswer: B\n\n"
        "Why y?\nA. a\nB. b\nC. c\nD. d\nAnswer: D\n\n"
        "Where is z?\nA. up\nB. down\nC. left\nD. right\nAnswer:"
    )


def test_agieval_first5_byte_exact():
    q = "问题：{}？ 选项：(A)一 (B)二 (C)三 (D)四\n答案：从A到D, 我们应选择"
    shots = [
        Item("logiqa-zh", 0, q.format("甲"), (), "B"),
        Item("logiqa-zh", 1, q.format("乙"), (), "D"),
    ]
    s = Subject("logiqa-zh", "逻辑推理", [Item("logiqa-zh", 9, q.format("丙"), (), "A")], shots)
    assert _prompt("agieval", "first5", s) == (
        "以下是中国关于逻辑推理考试的单项选择题，请选出其中的正确答案。\n"
        "\n问题：甲？ 选项：(A)一 (B)二 (C)三 (D)四\n答案：从A到D, 我们应选择B"
        "\n问题：乙？ 选项：(A)一 (B)二 (C)三 (D)四\n答案：从A到D, 我们应选择D"
        "\n问题：丙？ 选项：(A)一 (B)二 (C)三 (D)四\n答案：从A到D, 我们应选择"
    )


def test_gaokao_first5_byte_exact():
    name = "2010-2022_Geography_MCQs"
    shots = [Item(name, 0, "1．甲（　　）\nA．一 B．二 C．三 D．四\n", (), "C")]
    s = Subject(
        name,
        "高考地理",
        [Item(name, 6, "7．乙（　　）\nA．东 B．西 C．南 D．北\n", (), "D")],
        shots,
    )
    assert _prompt("gaokao", "first5", s) == (
        "以下是中国关于高考地理考试的单项选择题，请选出其中的正确答案。\n"
        "\n1．甲（　　）\nA．一 B．二 C．三 D．四\n答案：C"
        "\n7．乙（　　）\nA．东 B．西 C．南 D．北\n答案："
    )


def test_unknown_protocol_is_one_line():
    with pytest.raises(UserError, match="C-Eval has no protocol 'harness'"):
        protocols.get_protocol("ceval", "harness")


# ------------------------------------------------------------------------------ letter tokens
@pytest.fixture(scope="module")
def vocab(tiny):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(tiny("b2-vocab")), vocab_only=True, verbose=False)
    yield lambda text: llm.tokenize(text.encode(), add_bos=False, special=False)
    llm.close()


def test_letter_tokens_are_the_letters_as_they_stand_in_the_shots(vocab):
    zh = _zh_subject()
    built = protocols.build(protocols.get_protocol("ceval"), zh, zh.items[0], vocab, 4096)
    assert built.ids == vocab(built.text) and built.shots == 2
    # after 答案： the bare letter; the same ids as in the shots' "答案：B"
    assert built.letter_ids == tuple(vocab(f"答案：{L}")[-1] for L in "ABCD")
    en = _en_subject()
    built = protocols.build(protocols.get_protocol("mmlu"), en, en.items[0], vocab, 4096)
    assert built.letter_ids == tuple(vocab(f"Answer: {L}")[-1] for L in "ABCD")
    assert built.letter_ids != tuple(vocab(L)[-1] for L in "ABCD")  # "▁A", not "A"
    assert len(set(built.letter_ids)) == 4


def test_no_bos_and_no_special_parsing(vocab):
    s = _zh_subject()
    s.items[0] = Item(s.name, 0, "</s><s>", ("1", "2", "3", "4"), "A")
    built = protocols.build(protocols.get_protocol("ceval"), s, s.items[0], vocab, 4096)
    assert 1 not in built.ids and 2 not in built.ids  # <s>, </s> stay text


# ------------------------------------------------------------------------------ shot reduction
def _chars(text: str) -> list[int]:
    return [ord(c) for c in text]


def _long_subject(lengths: list[int]) -> Subject:
    shots = [
        Item("s", i, "问" * n, ("a", "b", "c", "d"), "ABCD"[i % 4]) for i, n in enumerate(lengths)
    ]
    return Subject("s", "科目", [Item("s", 9, "问题", ("a", "b", "c", "d"), "A")], shots)


def test_ceval_and_mmlu_drop_shots_from_the_end():
    s = _long_subject([10, 50, 10, 10, 10])
    p = protocols.get_protocol("ceval")
    full = len(p.prompt(s, s.shots, s.items[0]))
    three = len(p.prompt(s, s.shots[:3], s.items[0]))
    built = protocols.build(p, s, s.items[0], _chars, three)
    assert built.shots == 3 and built.text == p.prompt(s, s.shots[:3], s.items[0])
    assert protocols.build(p, s, s.items[0], _chars, full).shots == 5
    assert protocols.build(p, s, s.items[0], _chars, three - 1).shots == 2


def test_cmmlu_drops_the_longest_shot_first():
    s = _long_subject([10, 50, 12, 30, 11])
    p = protocols.get_protocol("cmmlu")
    without_longest = [s.shots[i] for i in (0, 2, 3, 4)]
    n = len(p.prompt(s, without_longest, s.items[0]))
    built = protocols.build(p, s, s.items[0], _chars, n)
    assert built.shots == 4 and built.text == p.prompt(s, without_longest, s.items[0])
    built = protocols.build(p, s, s.items[0], _chars, n - 1)  # then the 30
    assert built.text == p.prompt(s, [s.shots[i] for i in (0, 2, 4)], s.items[0])


def test_cmmlu_removes_every_shot_of_the_longest_length_as_mp_utils():
    s = _long_subject([10, 40, 12, 40, 11])
    p = protocols.get_protocol("cmmlu")
    n = len(p.prompt(s, s.shots, s.items[0])) - 1
    built = protocols.build(p, s, s.items[0], _chars, n)
    assert built.text == p.prompt(s, [s.shots[i] for i in (0, 2, 4)], s.items[0])


def test_a_question_that_never_fits_is_one_clear_error():
    s = _long_subject([10])
    with pytest.raises(UserError, match="raise --n-ctx"):
        protocols.build(protocols.get_protocol("ceval"), s, s.items[0], _chars, 5)
