"""``bench --compare``: side by side against one after another (its figures are not checked:
speed is measured by the benchmark, never asserted in a test)."""

from __future__ import annotations

import json

MODELS = ("b2-7b-chat", "b1-7b-base")


def test_bench_compare_reports_the_ratio(cli, tiny):
    args = [a for k in MODELS for a in ("--compare", str(tiny(k)))]
    res = cli("bench", *args, "--gen-tokens", "8", "--repeats", "1", "--n-ctx", "512", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["modes"]) == {"side by side", "one after another"}
    assert doc["side_by_side_over_one_after_another"] > 0
    assert all(m["runs"][0]["tokens"] == 16 for m in doc["modes"].values())
