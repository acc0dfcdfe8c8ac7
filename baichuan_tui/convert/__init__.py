"""HF Baichuan checkpoints → GGUF (issue 6), and the GGUF-writing pieces issue 7 reuses.

Headless (no Textual). Modules, lightest first:

- ``registry``: converted files recorded in ``<data_dir>/converted.json`` (stdlib only).
- ``outfile``: atomic output (temp file next to the target, renamed when complete), free-disk
  check, disk-full errors.
- ``writer``: stream tensors into a GGUF one row-chunk at a time (:class:`writer.TensorPlan`),
  encode float rows into any ggml type (numpy or ggml's own quantizer).
- ``heads``: NormHead — L2-normalise the rows of an output head.
- ``quantize``: llama.cpp's ``llama_model_quantize`` in a child process, atomically.
- ``checkpoint`` / ``safetensors_io`` / ``vocab`` / ``baichuan``: read an HF checkpoint and plan
  the Baichuan tensors; ``pipeline.convert`` ties it together; ``source`` resolves SRC.
"""
