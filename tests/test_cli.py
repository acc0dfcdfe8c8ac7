"""The command line as a user meets it: bad files, fast --help, headless core, sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tiny_models import BAD_KINDS, bad_file

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_model_file_one_clear_line(cli, tmp_path, kind):
    path = bad_file(kind, tmp_path)
    res = cli("ask", "--model", str(path), "--max-tokens", "4", "hello")
    assert res.returncode == 1, (res.returncode, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and str(path) in lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_missing_model_path(cli, tmp_path):
    res = cli("ask", "--model", str(tmp_path / "nope.gguf"), "hi")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope.gguf'} does not exist: check the path"
    ]


def test_usage_error_exits_2(cli):
    assert cli("ask", "--gpu-layers", "many", "hi").returncode == 2
    assert cli("nonsense").returncode == 2


def test_bad_sampling_value(cli, tiny):
    res = cli("ask", "--model", str(tiny("b2-7b-chat")), "--top-p", "3", "hi")
    assert res.returncode == 2 and "--top-p" in res.stderr  # a usage error (cli.md)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["ask", "--help"],
        ["models", "--help"],
        ["quiz", "run", "--help"],
        ["convert", "--help"],
    ],
)
def test_help_imports_no_heavy_modules(argv):
    code = (
        "import sys\nfrom baichuan_tui import cli\n"
        f"try:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('llama_cpp', 'textual', 'huggingface_hub', 'numpy') "
        "if m in sys.modules]\nprint(heavy)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.stdout.strip().splitlines()[-1] == "[]"


def test_headless_core_never_imports_textual():
    """Every module outside baichuan_tui/ui imports without pulling in Textual."""
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts)
        for p in (REPO / "baichuan_tui").rglob("*.py")
        if "ui" not in p.relative_to(REPO / "baichuan_tui").parts[:1] and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        "print('textual' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


EVIL = (
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}"
    "{% for m in messages %}{{ m.content }}{% endfor %}"
)


def test_embedded_template_is_sandboxed(tmp_path, monkeypatch):
    from baichuan_tui.engine.chat_template import render
    from baichuan_tui.engine.prompts import Message
    from baichuan_tui.errors import UserError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="unsafe"):
        render(EVIL, [Message("user", "hi")], bos_token="<s>", eos_token="</s>")
    assert not (tmp_path / "PWNED").exists()
    ok = render(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}",
        [Message("user", "hi")],
        bos_token="<s>",
        eos_token="</s>",
    )
    assert ok == "[user]hi[assistant]"


SIMPLE_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.mark.parametrize("template, ok", [(SIMPLE_TEMPLATE, True), (EVIL, False)])
def test_gguf_template_through_the_cli(cli, tmp_path, template, ok):
    import json

    from tiny_models import generator

    path = generator().write_tiny_model(
        tmp_path / "tpl.gguf", family="baichuan", layers=32, vocab_only=True, chat_template=template
    )
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps([{"role": "user", "content": "hi </s>"}]), encoding="utf-8")
    res = cli("prompt", str(msgs), "--model", str(path), "--template", "gguf", cwd=tmp_path)
    assert not (tmp_path / "PWNED").exists()
    if not ok:
        assert res.returncode == 1 and "unsafe" in res.stderr and "Traceback" not in res.stderr
        return
    assert res.returncode == 0, res.stderr
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

    def tok(text: str, special: bool) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=special)

    # the template's own EOS is a control token; the user's typed "</s>" stays text
    expect = tok("<|user|>", True) + tok("hi </s>", False) + [2] + tok("<|assistant|>", True)
    assert json.loads(res.stdout)["token_ids"] == expect


def test_completion_template_is_plain_text(cli, tiny, tmp_path):
    import json

    import llama_cpp

    path = tiny("b1-7b-base")
    msgs = tmp_path / "m.json"
    msgs.write_text(
        json.dumps([{"role": "user", "content": "登鹳雀楼->王之涣\n夜雨寄北->"}]), encoding="utf-8"
    )
    res = cli("prompt", str(msgs), "--model", str(path))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    # add_bos_token is false in these files, as in converted Baichuan GGUFs
    assert doc["template"] == "completion"
    assert doc["token_ids"] == llm.tokenize("登鹳雀楼->王之涣\n夜雨寄北->".encode(), add_bos=False)


def test_bench_reports_both_paths_and_their_ratio(cli, tiny):
    import json

    res = cli(
        "bench",
        "--model",
        str(tiny("b2-7b-chat")),
        "--gen-tokens",
        "24",
        "--prompt-tokens",
        "16",
        "--repeats",
        "2",
        "--n-ctx",
        "256",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["paths"]) == {"engine", "llama-cpp-python"}
    for path in doc["paths"].values():
        assert [r["tokens"] for r in path["runs"]] == [24, 24]
    assert doc["per_token_ratio"] > 0 and doc["prompt_tokens"] == 16
