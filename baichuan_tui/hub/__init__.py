"""Models: the catalog, Hub downloads with sha256 verification, offline resolution, machine fit.

- :mod:`.catalog`  — ``load_catalog()``, ``parse_spec("baichuan2-7b-chat:Q8_0")``
- :mod:`.download` — ``download``, ``resolve_model``, ``verify``, ``remove``, ``list_models``
- :mod:`.fit`      — ``machine_facts``, ``estimate``, ``gpu_layers_that_fit``, ``recommend_quant``
- :mod:`.progress` — rich progress bars for the CLI

Nothing here imports Textual or (at import time) llama_cpp.
"""
