"""``baichuan-chat`` without a command: flags → the new chat's settings, model choice, config
file and environment (settings.py)."""

from __future__ import annotations

import pytest

from baichuan_tui import locations
from baichuan_tui import settings as settings_mod
from baichuan_tui.cli import build_parser
from baichuan_tui.commands.app import choose_model, launch_options


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_flags_become_the_new_chats_settings(b2):
    args = parse(
        "--model",
        str(b2),
        "--temperature",
        "0",
        "--max-tokens",
        "2000",
        "--top-k",
        "7",
        "--n-ctx",
        "2048",
        "--gpu-layers",
        "0",
        "--threads",
        "1",
        "--system",
        "be brief",
        "--stop",
        "END",
        "--template",
        "baichuan2-chat",
    )
    opts = launch_options(args, settings_mod.load())
    assert opts.model == str(b2) and opts.model_error is None
    assert opts.sampling == {"temperature": 0.0, "max_tokens": 2000, "top_k": 7}
    assert (opts.n_ctx, opts.gpu_layers, opts.threads) == (2048, "0", 1)
    assert (opts.system, opts.stop, opts.template) == ("be brief", ("END",), "baichuan2-chat")


def test_bad_sampling_flag_is_a_usage_error(b2, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse("--model", str(b2), "--top-p", "3")
    assert exit_.value.code == 2
    assert "argument --top-p: must be in (0, 1], not 3" in capsys.readouterr().err


def test_model_choice_last_then_default(b2, tiny):
    spec, problem = choose_model(parse(), settings_mod.load())
    assert spec is None and "not downloaded" in (problem or "")
    settings_mod.remember_last_model(str(b2))
    assert choose_model(parse(), settings_mod.load()) == (str(b2), None)
    other = str(tiny("b2-7b-base"))
    assert choose_model(parse("--model", other), settings_mod.load()) == (other, None)
    settings_mod.remember_last_model("/gone/model.gguf")  # deleted since: fall back, then say
    spec, problem = choose_model(parse(), settings_mod.load())
    assert spec is None and "/gone/model.gguf" in (problem or "")


def test_config_file_and_environment(monkeypatch):
    cfg = locations.config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('n_ctx = 8192\ntheme = "nord"\ngpu_layers = -1\n[keymap]\nregenerate = "f5"\n')
    s = settings_mod.load()
    assert (s.n_ctx, s.theme, s.gpu_layers, s.keymap, s.warnings) == (
        8192,
        "nord",
        "-1",
        {"regenerate": "f5"},
        (),
    )
    monkeypatch.setenv("BAICHUAN_CHAT_N_CTX", "1024")
    monkeypatch.setenv("BAICHUAN_CHAT_DEFAULT_MODEL", "baichuan2-13b-chat")
    s = settings_mod.load()
    assert (s.n_ctx, s.default_model) == (1024, "baichuan2-13b-chat")


@pytest.mark.parametrize(
    "text, expect",
    [
        ("n_ctx = [", "config.toml"),
        ("n_ctx = 'big'", "n_ctx"),
        ("colour = 'red'", "unknown setting 'colour'"),
        ("[keymap]\nregenerate = 5", "[keymap]"),
    ],
)
def test_broken_config_gives_one_warning_and_defaults(text, expect):
    cfg = locations.config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text)
    s = settings_mod.load()
    assert len(s.warnings) == 1 and expect in s.warnings[0] and "\n" not in s.warnings[0]
    assert s.n_ctx == 4096 and s.keymap == {}


def test_undecodable_config_warns():
    cfg = locations.config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_bytes(b"\xff\xfe not toml")
    s = settings_mod.load()
    assert len(s.warnings) == 1


def test_ui_is_the_only_textual_importer():
    import subprocess
    import sys

    code = (
        "import sys, baichuan_tui.store.conversations, baichuan_tui.settings, "
        "baichuan_tui.commands.history, baichuan_tui.commands.app, baichuan_tui.ui.session;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_lora_applies_to_the_launch_model_only(b2, tiny, tmp_path):
    from baichuan_tui.engine.lora import Lora

    args = parse("--model", str(b2), "--lora", f"{tmp_path / 'a.gguf'}:0.5", "--lora", "b.gguf")
    opts = launch_options(args, settings_mod.load())
    want = (Lora(str(tmp_path / "a.gguf"), 0.5), Lora("b.gguf", 1.0))
    assert opts.loras == want
    assert opts.load_request(str(b2)).loras == want
    assert opts.load_request(str(tiny("b2-7b-base"))).loras == ()  # another model: none
