"""The model catalog (``baichuan_tui/models/catalog.json``): names, Hub files, family numbers."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from baichuan_tui.errors import ModelNotFound, UserError

DEFAULT_QUANT = "Q4_K_M"
# llama.cpp quantize aliases (``Q4_K`` is ``Q4_K_M``) and common spellings.
QUANT_ALIASES = {"Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "Q3_K": "Q3_K_M", "FP16": "F16"}


@dataclass(frozen=True)
class FamilyNumbers:
    """Architecture numbers of a family, enough for memory estimates."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    positions: str = "rope"


@dataclass(frozen=True)
class QuantFile:
    """One GGUF file on the Hub. ``sha256`` None: taken from the Hub's LFS record."""

    quant: str
    repo: str
    filename: str
    size_bytes: int
    sha256: str | None = None
    size_approx: bool = False


@dataclass(frozen=True)
class CatalogModel:
    name: str
    title: str
    family: str
    template: str
    hf_repo: str
    context_length: int
    licence: str
    needs_conversion: bool
    numbers: FamilyNumbers
    quants: dict[str, QuantFile] = field(default_factory=dict)
    notes: str | None = None
    see_also: tuple[str, ...] = ()

    @property
    def default_quant(self) -> str | None:
        """``Q4_K_M`` when the model has it, else its first (smallest) quant."""
        if DEFAULT_QUANT in self.quants:
            return DEFAULT_QUANT
        return next(iter(self.quants), None)

    def quant(self, quant: str | None) -> QuantFile:
        """The file for ``quant`` (default quant when None); UserError when there is none."""
        if not self.quants:
            raise UserError(
                f"{self.name} has no GGUF on the Hub (needs conversion)",
                f"convert it from the HF checkpoint {self.hf_repo}",
            )
        key = normalise_quant(quant) if quant else self.default_quant
        for name, qf in self.quants.items():
            if name.upper() == key:
                return qf
        raise UserError(
            f"{self.name} has no quant '{quant}'", f"choose one of {', '.join(self.quants)}"
        )


@dataclass(frozen=True)
class Catalog:
    models: dict[str, CatalogModel]
    default: str
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[CatalogModel]:
        return iter(self.models.values())

    def names(self) -> list[str]:
        return list(self.models)

    def find(self, name: str) -> CatalogModel | None:
        """Match a short name, title, original HF repo or GGUF repo (case-insensitive)."""
        key = name.strip().lower()
        for model in self.models.values():
            keys = {model.name, model.title.lower(), model.hf_repo.lower()}
            keys |= {qf.repo.lower() for qf in model.quants.values()}
            if key in keys:
                return model
        return None

    def get(self, name: str) -> CatalogModel:
        model = self.find(name)
        if model is None:
            close = difflib.get_close_matches(name.lower(), self.names(), n=4, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ModelNotFound(
                f"unknown model '{name}'", f"{hint}'baichuan-chat models list' shows the catalog"
            )
        return model

    def by_filename(self, filename: str) -> tuple[CatalogModel, QuantFile] | None:
        """The catalog entry whose Hub file has this base name, if any."""
        for model in self.models.values():
            for qf in model.quants.values():
                if qf.filename == filename:
                    return model, qf
        return None


def normalise_quant(quant: str) -> str:
    key = quant.strip().upper()
    return QUANT_ALIASES.get(key, key)


def _model(raw: dict[str, Any], families: dict[str, FamilyNumbers]) -> CatalogModel:
    quants = {q["quant"]: QuantFile(**q) for q in raw.get("quants", [])}
    return CatalogModel(
        name=raw["name"],
        title=raw["title"],
        family=raw["family"],
        template=raw["template"],
        hf_repo=raw["hf_repo"],
        context_length=int(raw["context_length"]),
        licence=raw["licence"],
        needs_conversion=bool(raw["needs_conversion"]),
        numbers=families[raw["family"]],
        quants=quants,
        notes=raw.get("notes"),
        see_also=tuple(raw.get("see_also", ())),
    )


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Read the catalog shipped with the package."""
    text = resources.files("baichuan_tui").joinpath("models/catalog.json").read_text("utf-8")
    raw = json.loads(text)
    families = {k: FamilyNumbers(**v) for k, v in raw["families"].items()}
    models = {m["name"]: _model(m, families) for m in raw["models"]}
    return Catalog(models=models, default=raw["default"], notes=tuple(raw.get("notes", ())))


def parse_spec(spec: str, catalog: Catalog | None = None) -> tuple[CatalogModel, str | None]:
    """``"baichuan2-7b-chat:Q8_0"`` → (model, "Q8_0"); no quant → the model's default quant.

    The quant is None only for models without any GGUF (``needs_conversion``).
    """
    catalog = catalog or load_catalog()
    name, _, quant = spec.strip().partition(":")
    model = catalog.get(name)
    if not model.quants:
        if quant:
            model.quant(quant)  # raises: needs conversion
        return model, None
    return model, model.quant(quant or None).quant


def catalog_file(spec: str) -> tuple[str, QuantFile]:
    """``NAME[:QUANT]`` → (``name:QUANT`` as the catalog spells it, its Hub file)."""
    model, quant = parse_spec(spec)
    qf = model.quant(quant)
    return f"{model.name}:{qf.quant}", qf


def default_spec() -> str:
    """The model opened when none is named (``default`` in ``catalog.json``)."""
    return load_catalog().default
