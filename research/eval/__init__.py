"""Evaluator registry: each evaluator reads a documented local file format and returns metrics.

A config names evaluators by kind, e.g. ``make_evaluator("word_similarity", name="wordsim353",
path="data/wordsim353.tsv")``. Benchmark files are read when the evaluator is made, so a missing
or malformed file fails before training starts, not after it. ``run_evaluators`` flattens every
result into ``{"<name>/<metric>": value}`` for results.json and collects markdown sections for
results.md.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Iterator
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


# The evaluator modules import EvalResult and benchmark_lines from this package, so they are
# imported only once those are defined.
from research.eval.analogy import Analogy  # noqa: E402
from research.eval.neighbours import NearestNeighbours  # noqa: E402
from research.eval.polysemy import SenseSeparation  # noqa: E402
from research.eval.probes import LevelProbes  # noqa: E402
from research.eval.retrieval import Retrieval  # noqa: E402
from research.eval.sense import WordSense  # noqa: E402
from research.eval.similarity import WordSimilarity  # noqa: E402
from research.eval.sts import SentenceSimilarity  # noqa: E402

EVALUATORS: dict[str, Callable[..., Evaluator]] = {
    "word_similarity": WordSimilarity,
    "analogy": Analogy,
    "nearest_neighbours": NearestNeighbours,
    # Contextual evaluators: their run() takes a TextEncoder (research.eval.encoder_api).
    "word_sense": WordSense,
    "sentence_similarity": SentenceSimilarity,
    "retrieval": Retrieval,
    "sense_separation": SenseSeparation,
    # run() takes a LevelEncoder (research.eval.probes) or a TextEncoder (one level, "sentence").
    "level_probes": LevelProbes,
}


def _option_names(factory: Callable[..., Evaluator]) -> list[str]:
    if dataclasses.is_dataclass(factory):
        return [f.name for f in dataclasses.fields(factory) if f.init and f.name != "name"]
    return [p for p in inspect.signature(factory).parameters if p != "name"]


def make_evaluator(kind: str, *, name: str, **options: object) -> Evaluator:
    """Build a registered evaluator; unknown kinds and options are UserErrors listing valid ones."""
    if kind not in EVALUATORS:
        raise UserError(
            f"unknown evaluator kind {kind!r}; valid kinds: {', '.join(sorted(EVALUATORS))}"
        )
    if not isinstance(name, str) or not name or "/" in name or any(c.isspace() for c in name):
        raise UserError(
            f"evaluator name {name!r} must be a non-empty word without '/' or spaces "
            f"(it prefixes metric names), e.g. 'wordsim353'"
        )
    factory = EVALUATORS[kind]
    valid = _option_names(factory)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"evaluator {name!r} ({kind}) got unknown option(s) {', '.join(unknown)}; "
            f"valid options: {', '.join(valid)}"
        )
    try:
        return factory(name=name, **options)
    except TypeError as err:  # a missing required option
        raise UserError(
            f"evaluator {name!r} ({kind}): {err}; valid options: {', '.join(valid)}"
        ) from None


def run_evaluators(
    evaluators: Iterable[Evaluator], vectors: WordVectors
) -> tuple[dict[str, float], str]:
    """Run each evaluator; return flat {"<name>/<metric>": value} and the joined markdown."""
    results: dict[str, float] = {}
    sections: list[str] = []
    seen: set[str] = set()
    for evaluator in evaluators:
        if evaluator.name in seen:
            raise UserError(
                f"two evaluators are named {evaluator.name!r}; give each a distinct name"
            )
        seen.add(evaluator.name)
        result = evaluator.run(vectors)
        for metric, value in result.metrics.items():
            # Counts stay int so that results tables print them as integers.
            is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            results[f"{evaluator.name}/{metric}"] = int(value) if is_int else float(value)
        if result.markdown.strip():
            sections.append(result.markdown.strip())
    return results, "\n\n".join(sections) + ("\n" if sections else "")


__all__ = [
    "EVALUATORS",
    "Analogy",
    "EvalResult",
    "Evaluator",
    "NearestNeighbours",
    "WordSimilarity",
    "WordVectors",
    "benchmark_lines",
    "make_evaluator",
    "run_evaluators",
]
