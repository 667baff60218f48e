"""What every evaluator shares: the result type, the Evaluator protocol, benchmark-file readers
and rank statistics.

Evaluator modules import these from here (never from the ``research.eval`` package, whose
``__init__`` imports the evaluators to build the registry). This module imports no evaluator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from research.errors import UserError
from research.eval.vectors import WordVectors
from research.textfile import read_utf8


@dataclass
class EvalResult:
    """Named metrics (counts as int, scores as float) plus an optional results.md section."""

    metrics: dict[str, float]
    markdown: str = ""


@runtime_checkable
class Evaluator(Protocol):
    name: str

    def run(self, vectors: WordVectors) -> EvalResult: ...


def benchmark_lines(path: str | Path, expected: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) of a UTF-8 benchmark file.

    A byte-order mark at the start is dropped; bytes that are not UTF-8 are a UserError naming
    the line.

    `expected` describes the format; it ends every error message so the user knows the fix.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"benchmark file {path} does not exist; pass a file in the {expected}")
    text = read_utf8(path, f"; expected the {expected}")
    # Split on "\n" only, so line numbers match what editors and `sed -n` show.
    for line_no, line in enumerate(text.split("\n"), start=1):
        yield line_no, line.rstrip("\r")


# ----------------------------------------------------------------------------- readers


def read_header_tsv(
    path: str | Path, required: Sequence[str], expected: str
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a tab-separated file with a header line, as (line number, {column: cell}).

    Cells are split on tabs only (no quote handling) and kept as they are, so character offsets
    into a sentence stay valid. Blank lines are skipped. A missing `required` column or a row
    with the wrong number of cells is a UserError naming file:line; `expected` describes the
    format and ends every message.
    """
    path = Path(path).expanduser()
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line_no, line in benchmark_lines(path, expected):
        if not line.strip():
            continue
        cells = line.split("\t")
        if header is None:
            header = [c.strip() for c in cells]
            repeated = sorted({c for c in header if header.count(c) > 1})
            if repeated:
                raise UserError(
                    f"{path}:{line_no}: header names column(s) {', '.join(map(repr, repeated))} "
                    f"more than once; expected the {expected}"
                )
            missing = [c for c in required if c not in header]
            if missing:
                raise UserError(
                    f"{path}:{line_no}: header lacks column(s) {', '.join(missing)} "
                    f"(it has {', '.join(header)}); expected the {expected}"
                )
            continue
        if len(cells) != len(header):
            raise UserError(
                f"{path}:{line_no}: {len(cells)} tab-separated cells, the header has "
                f"{len(header)}; expected the {expected}"
            )
        rows.append((line_no, dict(zip(header, cells, strict=True))))
    if header is None:
        raise UserError(f"{path}: empty file; expected the {expected}")
    if not rows:
        raise UserError(f"{path}: a header but no rows; expected the {expected}")
    return rows


def parse_span(sentence: str, start: str, end: str, where: str, expected: str) -> tuple[int, int]:
    """Character offsets [start, end) checked against `sentence`; `where` is "file:line"."""
    try:
        s, e = int(start), int(end)
    except ValueError:
        raise UserError(
            f"{where}: offsets {start!r}, {end!r} are not integers; expected the {expected}"
        ) from None
    if not 0 <= s < e <= len(sentence):
        raise UserError(
            f"{where}: span [{s}, {e}) lies outside the sentence ({len(sentence)} characters) "
            f"or is empty; expected the {expected}"
        )
    return s, e


# ----------------------------------------------------------------------------- rank statistics


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span (like scipy's rankdata)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # starts[g] is where the g-th run of equal values begins; the last entry is n.
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1], [True])))
    run_lengths = np.diff(starts)
    mean_rank = (starts[:-1] + 1 + starts[1:]) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, run_lengths)
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; NaN when undefined (fewer than two points or a constant input)."""
    if len(x) < 2:
        return float("nan")
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = np.sqrt(np.sum(x * x) * np.sum(y * y))
    if denom == 0:
        return float("nan")
    return float(np.sum(x * y) / denom)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho = Pearson r of the average ranks (the tie-corrected definition)."""
    if len(x) < 2:
        return float("nan")
    return pearson(average_ranks(x), average_ranks(y))


__all__ = [
    "EvalResult",
    "Evaluator",
    "average_ranks",
    "benchmark_lines",
    "parse_span",
    "pearson",
    "read_header_tsv",
    "spearman",
]
