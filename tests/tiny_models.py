"""Tiny random-weight Baichuan GGUFs for the tests (a helper module, not a test file).

``tiny_model(kind)`` returns the path of a cached model file, generating it on first use with
``scripts/make_tiny_model.py``.  The cache directory is ``$BAICHUAN_TEST_CACHE`` or
``<repo>/.cache/tiny-models``; file names carry the generator version and a hash of the
generator source and of the kind's arguments, so a changed generator never serves stale files.
Files are written to a temporary name and moved into place with ``os.replace`` (safe with
parallel test workers).

``bad_file(kind, tmp_dir)`` writes an invalid model input into ``tmp_dir``.

WARNING: the "dup-vocab" bad file (and, per the spec, "bad-layers") must never be loaded by
llama.cpp in the test process: llama.cpp aborts the whole process on a duplicated vocabulary
entry.  Load them only in a subprocess, or validate before loading.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
_GENERATOR_PATH = REPO_ROOT / "scripts" / "make_tiny_model.py"

# Output head of the cached models: F16, as in a plain F16 conversion.  (F32 would make the
# Baichuan2 files ~40 MB because of the 125696 x 64 output matrix; F16 keeps them ~24 MB.)
_HEAD = "F16"

# kind -> keyword arguments of make_tiny_model.write_tiny_model
KINDS: dict[str, dict[str, Any]] = {
    "b2-7b-chat": {"family": "baichuan2", "layers": 32, "name": "Baichuan2-7B-Chat", "seed": 1},
    "b2-13b-chat": {
        "family": "baichuan2",
        "layers": 40,
        "name": "Baichuan2-13B-Chat",
        "seed": 2,
    },
    "b1-7b-base": {"family": "baichuan", "layers": 32, "name": "baichuan-7B", "seed": 3},
    "b1-13b-chat": {"family": "baichuan", "layers": 40, "name": "Baichuan-13B-Chat", "seed": 4},
    "b2-7b-base": {"family": "baichuan2", "layers": 32, "name": "Baichuan2-7B-Base", "seed": 5},
    "vicuna": {
        "family": "baichuan",
        "layers": 32,
        "name": "baichuan-vicuna-chinese-7b",
        "seed": 6,
    },
    "b2-vocab": {
        "family": "baichuan2",
        "layers": 32,
        "name": "Baichuan2-7B-Chat",
        "vocab_only": True,
    },
    "b1-vocab": {"family": "baichuan", "layers": 32, "name": "baichuan-7B", "vocab_only": True},
}
for _kw in KINDS.values():
    if not _kw.get("vocab_only"):
        _kw.setdefault("head_type", _HEAD)

# Cached ingredients of bad files (private kinds, not returned by tiny_model()).
_BAD_SOURCES: dict[str, dict[str, Any]] = {
    "_bad-layers": {
        "family": "baichuan",
        "layers": 12,
        "name": "Baichuan-12L",
        "head_type": _HEAD,
        "_allow_any_layers": True,
    },
    "_dup-vocab": {
        "family": "baichuan",
        "layers": 32,
        "name": "baichuan-7B",
        "head_type": _HEAD,
        "duplicate_token": True,
    },
}

BAD_KINDS = (
    "empty",
    "text",
    "truncated",
    "bad-arch",
    "bad-layers",
    "dup-vocab",
    "garbage",
    "directory",
)

_generator: ModuleType | None = None


def generator() -> ModuleType:
    """The scripts/make_tiny_model.py module (imported by path; scripts/ is not a package)."""
    global _generator
    if _generator is None:
        mod = sys.modules.get("make_tiny_model")
        if mod is None or Path(getattr(mod, "__file__", "")).resolve() != _GENERATOR_PATH:
            spec = importlib.util.spec_from_file_location("make_tiny_model", _GENERATOR_PATH)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules["make_tiny_model"] = mod
            spec.loader.exec_module(mod)
        _generator = mod
    return _generator


def cache_dir() -> Path:
    env = os.environ.get("BAICHUAN_TEST_CACHE")
    d = Path(env) if env else REPO_ROOT / ".cache" / "tiny-models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _version(kwargs: dict[str, Any]) -> str:
    h = hashlib.sha256(_GENERATOR_PATH.read_bytes())
    h.update(repr(sorted(kwargs.items())).encode())
    return f"g{generator().GENERATOR_VERSION}-{h.hexdigest()[:10]}"


def _cached(kind: str, kwargs: dict[str, Any]) -> Path:
    target = cache_dir() / f"{kind}-{_version(kwargs)}.gguf"
    if target.is_file():
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".gguf.tmp", dir=target.parent)
    os.close(fd)
    try:
        generator().write_tiny_model(tmp, **kwargs)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def tiny_model(kind: str) -> Path:
    """Path of the cached tiny model ``kind`` (one of ``KINDS``), generated on first use."""
    if kind not in KINDS:
        raise KeyError(f"unknown tiny model kind {kind!r}; expected one of {sorted(KINDS)}")
    return _cached(kind, KINDS[kind])


def bad_file(kind: str, tmp_dir: Path, name: str = "x.gguf") -> Path:
    """Write the bad model input ``kind`` (one of ``BAD_KINDS``) as ``tmp_dir / name``.

    empty      0-byte file
    text       a text file, not GGUF
    truncated  a valid tiny model (b1-7b-base) cut to 60 % of its size
    bad-arch   a valid GGUF whose general.architecture is "notanarch"
    bad-layers a baichuan model with 12 layers (llama.cpp knows only 32 and 40)
    dup-vocab  a baichuan model with a duplicated vocabulary entry: llama.cpp ABORTS the
               process on it -- never load it in-process
    garbage    the GGUF magic followed by random bytes
    directory  a directory (named like a model file)

    Raises FileExistsError if the path exists (pass another ``name`` to put several bad files
    in one directory).
    """
    if kind not in BAD_KINDS:
        raise KeyError(f"unknown bad file kind {kind!r}; expected one of {BAD_KINDS}")
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / name
    if path.exists() or path.is_symlink():
        raise FileExistsError(path)

    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("This is not a GGUF model file.\nJust some text.\n", encoding="utf-8")
    elif kind == "truncated":
        data = tiny_model("b1-7b-base").read_bytes()
        path.write_bytes(data[: int(len(data) * 0.6)])
    elif kind == "bad-arch":
        import gguf

        w = gguf.GGUFWriter(path, "notanarch")
        w.add_name("notanarch-7B")
        w.add_context_length(4096)
        w.add_embedding_length(64)
        w.add_block_count(32)
        w.add_tokenizer_model("llama")
        w.add_token_list(["<unk>", "<s>", "</s>", "a", "b"])
        w.add_token_scores([0.0, 0.0, 0.0, -1.0, -2.0])
        w.add_token_types([2, 3, 3, 1, 1])
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    elif kind in ("bad-layers", "dup-vocab"):
        src = _cached("_" + kind, _BAD_SOURCES["_" + kind])
        shutil.copyfile(src, path)
    elif kind == "garbage":
        import numpy as np

        rng = np.random.default_rng(1234)
        path.write_bytes(b"GGUF" + rng.integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())
    elif kind == "directory":
        path.mkdir()
    return path
