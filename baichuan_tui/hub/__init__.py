"""Models on the Hub and in its cache: the catalog, downloads, verification, machine fit.

- :mod:`.catalog`  — ``load_catalog()``, ``parse_spec("baichuan2-7b-chat:Q8_0")``, ``default_spec``
- :mod:`.download` — ``download`` (resumed, retried, sha256-checked)
- :mod:`.resolve`  — ``looks_like_path``, ``cached_model`` (a catalog name → its verified file)
- :mod:`.verify`   — ``verify`` a cached model or a file against the Hub's sha256
- :mod:`.remove`   — ``remove`` a catalog model from the cache
- :mod:`.states`   — ``list_models`` (each catalog quant's local state), ``cached_specs``
- :mod:`.machine`  — ``machine_facts`` (GPUs, VRAM, RAM, cores, llama-cpp-python build)
- :mod:`.fit`      — ``estimate``, ``placement``, ``gpu_layers_that_fit``, ``choose_gpu_layers``
- :mod:`.context`  — ``plan_load``: n_ctx clamped to the trained context, checked against memory
- :mod:`.cache`, :mod:`.remote` — the HF cache and its records; talking to the Hub
- :mod:`.progress` — rich progress bars for the CLI

Nothing here imports Textual or (at import time) llama_cpp.
"""
