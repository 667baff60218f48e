"""results.md: a provenance block (what produced the numbers) and one table of every metric."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def format_value(value: object) -> str:
    """Integers as integers, floats with 4 decimals, NaN as "n/a", anything else as text.

    Floats that are whole numbers above 1 in size (e.g. a step count that went through a float)
    print as integers too; whole numbers in [-1, 1] stay floats, since 1.0 is usually a score.
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) > 1:
            return str(int(value))
        return f"{value:.4f}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def results_markdown(
    results: Mapping[str, float],
    provenance: Mapping[str, object],
    extra_markdown: str = "",
) -> str:
    """Markdown for results.md.

    `results` is the flat {"<evaluation>/<metric>": value} dict from `run_evaluators` (a key
    without "/" is shown under evaluation "-"); rows are grouped by evaluation in the order
    they first appear. `provenance` (data source, tokens, steps, seed, ...) is printed first, in
    the order given, because a number is only meaningful with what produced it.
    """
    lines = ["# Results", ""]
    if provenance:
        lines += ["## Provenance", "", "| item | value |", "|---|---|"]
        lines += [f"| {_cell(str(k))} | {_cell(format_value(v))} |" for k, v in provenance.items()]
        lines.append("")
    groups: dict[str, list[tuple[str, object]]] = {}
    for key, value in results.items():
        evaluation, sep, metric = key.partition("/")
        if not sep:
            evaluation, metric = "-", key
        groups.setdefault(evaluation, []).append((metric, value))
    lines += ["## Metrics", ""]
    if groups:
        lines += ["| evaluation | metric | value |", "|---|---|---|"]
        for evaluation, rows in groups.items():
            for metric, value in rows:
                lines.append(f"| {_cell(evaluation)} | {_cell(metric)} | {format_value(value)} |")
    else:
        lines.append("No evaluation results.")
    lines.append("")
    if extra_markdown.strip():
        lines += [extra_markdown.strip(), ""]
    return "\n".join(lines)


def write_results(
    workdir: Path,
    results: dict[str, float],
    provenance: dict[str, object],
    extra_markdown: str = "",
) -> str:
    """Write results.json (undefined metrics, NaN in memory, become null: JSON has no NaN) and
    results.md (provenance + table); returns the markdown."""
    finite = {k: (v if math.isfinite(v) else None) for k, v in results.items()}
    (workdir / "results.json").write_text(json.dumps(finite, indent=2, sort_keys=True) + "\n")
    table = results_markdown(results, provenance, extra_markdown)
    (workdir / "results.md").write_text(table)
    return table
