"""SRC of ``convert``: a local checkpoint folder, or a Hub repo id fetched into the HF cache."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from baichuan_tui import locations
from baichuan_tui.errors import UsageError, UserError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SMALL_FILES = [
    "config.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "generation_config.json",
    "modeling_baichuan.py",
    "*.index.json",
    "adapter_config.json",
]


def looks_like_repo_id(src: str) -> bool:
    return bool(_REPO_ID.match(src)) and not src.startswith((".", "/", "~"))


def _weight_patterns(files: Sequence[str]) -> list[str]:
    if any(f.endswith(".safetensors") for f in files):
        return ["*.safetensors"]
    return ["*.bin"]


def _hub_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors

    return (errors.HfHubHTTPError, errors.LocalEntryNotFoundError, OSError, ValueError)


def _cached(repo: str, revision: str | None, cache: Path) -> str:
    """The cached snapshot, complete for what convert downloads (safetensors, else .bin)."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(
            repo,
            revision=revision,
            cache_dir=cache,
            local_files_only=True,
            allow_patterns=_SMALL_FILES + ["*.safetensors"],
        )
    except _hub_errors():
        return snapshot_download(
            repo,
            revision=revision,
            cache_dir=cache,
            local_files_only=True,
            allow_patterns=_SMALL_FILES + ["*.bin"],
        )


def fetch(repo: str, *, offline: bool, revision: str | None = None) -> Path:
    """The snapshot folder of ``repo`` in the HF cache, downloading what convert reads."""
    from huggingface_hub import HfApi, snapshot_download

    from baichuan_tui.hub.remote import OFFLINE, OFFLINE_HINT, check_reachable, is_name_failure
    from baichuan_tui.hub.remote import endpoint as hub_endpoint

    endpoint = hub_endpoint()
    cache = locations.hf_hub_cache()
    try:
        if offline:
            folder = _cached(repo, revision, cache)
        else:
            check_reachable()
            files = HfApi(endpoint=endpoint).list_repo_files(repo, revision=revision)
            folder = snapshot_download(
                repo,
                revision=revision,
                cache_dir=cache,
                endpoint=endpoint,
                allow_patterns=_SMALL_FILES + _weight_patterns(files),
            )
    except _hub_errors() as exc:
        if offline:
            raise UserError(
                f"{repo} is not in the Hugging Face cache and the network is off",
                "run without --offline (and HF_HUB_OFFLINE unset) to download it",
            ) from None
        if is_name_failure(exc):
            raise UserError(f"{OFFLINE} (cannot download {repo})", OFFLINE_HINT) from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"could not download {repo} from the Hub ({reason})",
            "check the repo id and the network, or pass a local folder",
        ) from None
    return Path(folder)


def resolve_source(
    src: str, *, offline: bool, revision: str | None = None
) -> tuple[Path, str, str | None]:
    """``(folder, label, repo)``: the checkpoint folder, a label for records, the repo id."""
    path = Path(src).expanduser()
    if path.is_dir():
        if revision:
            raise UsageError("--revision applies to a Hub repo id, not a local folder")
        return path, str(path.absolute()), None
    if path.exists():
        raise UserError(f"{src} is a file", "give the checkpoint's folder or a Hub repo id")
    if looks_like_repo_id(src):
        return fetch(src, offline=offline, revision=revision), src, src
    raise UserError(
        f"{src} is neither a folder nor a Hub repo id",
        "give a checkpoint folder or an id like baichuan-inc/Baichuan2-7B-Base",
    )


def default_name(folder: Path, repo: str | None) -> str:
    """A model name for ``general.name``: the repo's name, else the folder's."""
    if repo:
        return repo.rsplit("/", 1)[-1]
    parts = folder.absolute().parts
    # <cache>/models--org--name/snapshots/<commit>
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].split("--")[-1]
    return folder.absolute().name
