"""The CLI contract where users lose data or meet raw exceptions (issue #12): exports that
must not overwrite, arguments out of range, closed streams; one ``error:`` line each."""

from __future__ import annotations

import argparse
import errno
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from baichuan_tui import locations
from baichuan_tui.errors import UserError
from baichuan_tui.store import export
from baichuan_tui.store.conversations import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def chat_id() -> int:
    with Store() as store:
        conv = store.create(model="m.gguf")
        store.add_message(conv.id, "user", "你好")
        return conv.id


def _one_error(res: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_export_never_overwrites_the_database(cli, chat_id, suffix):
    db = locations.database_file()
    target = db.with_name(db.name + suffix)
    before = target.read_bytes() if target.exists() else None
    line = _one_error(cli("history", "export", str(chat_id), "-o", str(target), "--force"))
    assert "chat history's database" in line
    assert (target.read_bytes() if target.exists() else None) == before
    res = cli("history", "show", str(chat_id), "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["messages"][0]["content"] == "你好"


def test_export_onto_an_existing_file_needs_force(cli, chat_id, tmp_path):
    out = tmp_path / "notes.md"
    out.write_text("mine")
    line = _one_error(cli("history", "export", str(chat_id), "-o", str(out)))
    assert line == f"error: {out} already exists: pass --force to overwrite it"
    assert out.read_text() == "mine"
    res = cli("history", "export", str(chat_id), "-o", str(out), "--force")
    assert res.returncode == 0 and "你好" in out.read_text()


def test_export_to_a_missing_folder_or_a_folder(cli, chat_id, tmp_path):
    line = _one_error(cli("history", "export", str(chat_id), "-o", str(tmp_path / "a" / "x.md")))
    assert "does not exist: create the folder first" in line
    assert not (tmp_path / "a").exists()
    line = _one_error(cli("history", "export", str(chat_id), "-o", str(tmp_path)))
    assert line == f"error: {tmp_path} is a folder: give the export's file name (-o)"


def test_export_to_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(UserError, match=r"cannot write .*x\.md \(Permission denied\)"):
        export.write_export("text", tmp_path / "x.md", locations.database_file())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["99999999999999999999999", "0", "-3"])
def test_history_id_out_of_range_is_a_usage_error(cli, value):
    for action in ("show", "export", "rm"):
        res = cli("history", action, value)
        assert res.returncode == 2, res.stderr
        assert "is not a conversation id" in res.stderr and "Traceback" not in res.stderr


def test_closed_stdout_is_one_line():
    res = subprocess.run(
        f"{sys.executable} -m baichuan_tui history list --json >&-",
        shell=True,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert res.returncode == 1 and res.stderr.startswith("error: standard output is closed")
    assert res.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--temperature", "-1"),
        ("--top-p", "2"),
        ("--max-tokens", "-3"),
        ("--repeat-penalty", "-1"),
        ("--min-p", "1.5"),
        ("--top-p", "nan"),
        ("--seed", "-1"),
        ("--threads", "0"),
        ("--gpu-layers", "-2"),
        ("--n-ctx", "8"),
    ],
)
def test_out_of_range_options_are_usage_errors_before_loading(cli, tmp_path, flag, value):
    missing = tmp_path / "never-loaded.gguf"  # loading it would fail with exit 1
    for argv in (["ask", "--model", str(missing), flag, value, "hi"], [flag, value, "ask", "hi"]):
        line = _one_error(cli(*argv), code=2)
        assert line.startswith(f"error: argument {flag}: must be "), line
        assert f"not {value}" in line


def test_one_range_table_for_flags_and_settings():
    from baichuan_tui.engine.sampling import RANGES, Sampling

    assert Sampling(top_p=2.0, temperature=-1.0).validate() == [
        "temperature must be between 0 and 5",
        "top_p must be in (0, 1]",
    ]
    assert set(RANGES) == set(Sampling().as_dict())


def test_every_bench_flag_is_documented_and_checked(cli):
    from baichuan_tui.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    bench = sub.choices["bench"]  # type: ignore[attr-defined]  # argparse's subparsers action
    undocumented = [
        a.option_strings
        for a in bench._actions
        if a.option_strings and a.help in (None, "", argparse.SUPPRESS) and a.dest != "debug"
    ]
    assert undocumented == []
    assert bench.description
    line = _one_error(cli("bench", "--repeats", "0"), code=2)
    assert line.startswith("error: argument --repeats: must be at least 1")


@pytest.mark.parametrize(
    ("name", "head"),
    [("model.safetensors", b"\x10\0\0\0\0\0\0\0{}" + b" " * 14), ("pytorch_model.bin", b"PK\3\4")],
)
def test_a_checkpoint_given_as_model_points_to_convert(cli, tmp_path, name, head):
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text("{}")
    (ck / name).write_bytes(head + b"\0" * 64)
    line = _one_error(cli("ask", "--model", str(ck / name), "hi"))
    assert line.endswith(f"'baichuan-chat convert {ck}'"), line
    line = _one_error(cli("ask", "--model", str(ck), "hi"))
    assert line == (
        f"error: {ck} is a directory, not a .gguf file: make a GGUF of the checkpoint with "
        f"'baichuan-chat convert {ck}'"
    )


def test_quiz_limit_zero_is_a_usage_error(cli, tmp_path):
    line = _one_error(cli("quiz", "run", "ceval", "--limit", "0"), code=2)
    assert line.startswith("error: argument --limit: must be at least 1")


@pytest.mark.parametrize(
    "data",
    [
        "你好，百川".encode("gbk"),
        "你好，百川".encode("gb18030"),
        "你好，百川".encode(),
        "\ufeff你好，百川".encode(),
        "你好，百川".encode("utf-16"),
    ],
)
def test_stdin_in_gbk_or_utf8_is_decoded(data):
    from baichuan_tui.commands.common import decode_input

    assert decode_input(data) == "你好，百川"


def test_gbk_prompt_reaches_the_model(tiny):
    """GBK on stdin or as the argument (bytes a UTF-8 locale cannot decode) works like UTF-8."""
    ask = [sys.executable, "-m", "baichuan_tui", "ask", "--model", str(tiny("b2-7b-chat"))]
    ask += ["--max-tokens", "2", "--temperature", "0", "--json"]

    def reply(argv: list, stdin: bytes | None = None) -> dict:
        res = subprocess.run(argv, input=stdin, capture_output=True, cwd=REPO)
        assert res.returncode == 0, res.stderr.decode()
        doc = json.loads(res.stdout)
        return {k: doc[k] for k in ("reply", "prompt_tokens")}

    ref = reply(ask, "你好".encode())
    assert reply(ask, "你好".encode("gbk")) == ref
    assert reply([*ask, "你好".encode("gbk")]) == ref


def test_undecodable_stdin_is_one_line_before_loading(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "baichuan_tui", "ask", "--model", str(tmp_path / "none.gguf")],
        input=b"\x81\x30\xff\xff\x80",
        capture_output=True,
        cwd=REPO,
    )
    assert res.returncode == 1
    assert res.stderr.decode().splitlines() == [
        "error: stdin is not UTF-8 or GB18030 text: convert it first, e.g. iconv -f ENCODING "
        "-t UTF-8"
    ]


def _config(text: str) -> None:
    locations.config_file().parent.mkdir(parents=True, exist_ok=True)
    locations.config_file().write_text(text, "utf-8")


def test_commands_take_their_defaults_from_config_toml(cli, tiny, capsys):
    from baichuan_tui.cli import build_parser
    from baichuan_tui.commands.common import load_request

    model = tiny("b2-7b-chat")
    _config(f'default_model = "{model}"\nn_ctx = 512\nthreads = 1\ngpu_layers = "0"\n')
    req = load_request(build_parser().parse_args(["ask", "hi"]))
    assert (req.spec, req.n_ctx, req.n_ctx_asked, req.threads, req.gpu_layers) == (
        str(model),
        512,
        False,
        1,
        "0",
    )
    flags = ["ask", "--model", "m.gguf", "--n-ctx", "256", "--threads", "2", "--gpu-layers", "3"]
    req = load_request(build_parser().parse_args(flags))
    assert (req.spec, req.n_ctx, req.n_ctx_asked, req.threads, req.gpu_layers) == (
        "m.gguf",
        256,
        True,
        2,
        "3",
    )
    res = cli("ask", "--max-tokens", "2", "--json", "hi")  # no --model: config's default_model
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["model"] == str(model)


def test_a_bad_config_value_is_one_warning(cli, tiny, capsys):
    from baichuan_tui.cli import build_parser
    from baichuan_tui.commands.common import load_request

    _config('n_ctx = "many"\ngpu_layers = "-7"\n')
    req = load_request(build_parser().parse_args(["ask", "hi"]))
    assert (req.n_ctx, req.gpu_layers) == (4096, "auto")
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert "n_ctx" in warnings[0] and "gpu_layers" in warnings[0]


def test_models_list_piped_keeps_each_path_on_one_line(cli, tmp_path):
    from baichuan_tui.convert.registry import record_converted

    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "Baichuan2-7B-Chat.Q4_K_M.gguf"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"GGUF")
    record_converted(deep, source="org/repo", outtype="q4_k_m", sha256="0" * 64, name="mine")
    res = cli("models", "list", env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert " ".join(lines[0].split()) == "model quant state size fits this machine path"
    mine = [line for line in lines if line.startswith("mine ")]
    assert len(mine) == 1 and mine[0].endswith(str(deep))
    assert all("│" not in line and "┃" not in line for line in lines)  # no squeezed table
