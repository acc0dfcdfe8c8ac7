"""LlamaEngine, EngineProcess and ServerEngine implement the Engine protocol: every member,
same signatures.

mypy checks the types (``_implements`` in each module); this checks what a caller sees at run
time: the same parameter names, kinds and defaults, with extra parameters optional.
"""

from __future__ import annotations

import inspect

import pytest

from baichuan_tui.engine.interface import Engine
from baichuan_tui.engine.llama import LlamaEngine
from baichuan_tui.engine.process import EngineProcess
from baichuan_tui.server.engine import ServerEngine

IMPLEMENTATIONS = [LlamaEngine, EngineProcess, ServerEngine]
METHODS = [
    "prompt",
    "generate",
    "encode",
    "detokenize",
    "next_token_logits",
    "reset_cache",
    "set_loras",
    "set_template",
    "close",
]
PROPERTIES = ["n_ctx", "n_gpu_layers", "loras"]
ATTRIBUTES = ["path", "info", "family", "template"]


def test_the_protocol_lists_what_callers_use():
    members = {
        name
        for name, value in vars(Engine).items()
        if callable(value) or isinstance(value, property)
    }
    assert set(METHODS + PROPERTIES) <= members
    assert set(ATTRIBUTES) == set(Engine.__annotations__)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_methods_match_the_protocol(cls, name):
    want = inspect.signature(getattr(Engine, name)).parameters
    got = inspect.signature(getattr(cls, name)).parameters
    for param in want.values():
        assert param.name in got, f"{cls.__name__}.{name} lacks {param.name}"
        mine = got[param.name]
        assert (mine.kind, mine.default) == (param.kind, param.default), (cls, name, param)
    assert list(got)[: len(want)] == list(want)  # same order for positional use
    for extra in list(got)[len(want) :]:
        assert got[extra].default is not inspect.Parameter.empty, (cls, name, extra)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_properties_and_attributes(cls):
    for name in PROPERTIES:
        assert isinstance(inspect.getattr_static(cls, name), property), (cls, name)
    init = inspect.getsource(cls.__init__)
    for name in ATTRIBUTES:
        assert f"self.{name}" in init, f"{cls.__name__} does not set {name}"
