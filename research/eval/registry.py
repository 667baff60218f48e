"""The evaluator registry: evaluator kinds by name, built from options and run together.

``make_evaluator("word_similarity", name="wordsim353", path="data/wordsim353.tsv")`` builds one
evaluator; ``evaluators_from_config({"wordsim353": {"kind": "word_similarity", "path": ...}})``
builds one per config entry. Benchmark files are read when the evaluator is made, so a missing or
malformed file fails before training starts, not after it. ``run_evaluators`` flattens every
result into ``{"<name>/<metric>": value}`` for results.json and collects markdown sections for
results.md. ``register_evaluator`` adds a kind.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import numpy as np

from research.errors import UserError
from research.eval.analogy import Analogy
from research.eval.common import Evaluator
from research.eval.context_spaces import ContextSpaces
from research.eval.neighbours import NearestNeighbours
from research.eval.polysemy import SenseSeparation
from research.eval.probes import LevelProbes
from research.eval.retrieval import Retrieval
from research.eval.sense import WordSense
from research.eval.similarity import WordSimilarity
from research.eval.sts import SentenceSimilarity
from research.eval.vectors import WordVectors

Factory = TypeVar("Factory", bound=Callable[..., Evaluator])

EVALUATORS: dict[str, Callable[..., Evaluator]] = {
    "word_similarity": WordSimilarity,
    "analogy": Analogy,
    "nearest_neighbours": NearestNeighbours,
    # Contextual evaluators: their run() takes a TextEncoder (research.eval.encoder_api).
    "word_sense": WordSense,
    "sentence_similarity": SentenceSimilarity,
    "retrieval": Retrieval,
    "sense_separation": SenseSeparation,
    # run() takes an encoder with context spaces (EncoderEmbedder of a multi_abstraction run).
    "context_spaces": ContextSpaces,
    # run() takes a LevelEncoder (research.eval.probes) or a TextEncoder (one level, "sentence").
    "level_probes": LevelProbes,
}


def register_evaluator(
    kind: str, factory: Factory | None = None
) -> Factory | Callable[[Factory], Factory]:
    """Add an evaluator kind: ``register_evaluator("my_kind", MyEvaluator)``, or as a decorator
    ``@register_evaluator("my_kind")`` on the class.

    The factory is called as ``factory(name=..., **options)``; its options are its dataclass
    fields (or keyword parameters) other than ``name``. A kind already registered is a
    ValueError: remove it from `EVALUATORS` first to replace it.
    """
    if not isinstance(kind, str) or not kind or any(c.isspace() for c in kind):
        raise ValueError(f"an evaluator kind must be a non-empty word, got {kind!r}")

    def register(factory: Factory) -> Factory:
        if not callable(factory):
            raise TypeError(f"the factory of evaluator kind {kind!r} must be callable")
        if kind in EVALUATORS:
            raise ValueError(
                f"evaluator kind {kind!r} is already registered "
                f"(to {getattr(EVALUATORS[kind], '__qualname__', EVALUATORS[kind])}); "
                f"choose another kind"
            )
        EVALUATORS[kind] = factory
        return factory

    return register if factory is None else register(factory)


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


def evaluators_from_config(evals: Mapping[str, Mapping[str, object]]) -> list[Evaluator]:
    """One evaluator per entry ``{name: {"kind": KIND, **options}}``, in the mapping's order.

    A missing or unknown kind, an unknown option or a missing required one is a one-line
    UserError naming the evaluator and listing the valid kinds or options.
    """
    if not isinstance(evals, Mapping):
        raise UserError(
            f"evaluators must be a table of {{name: {{kind: ..., options}}}}, "
            f"got {type(evals).__name__}"
        )
    kinds = ", ".join(sorted(EVALUATORS))
    evaluators = []
    for name, spec in evals.items():
        if not isinstance(spec, Mapping):
            raise UserError(
                f"evaluator {name!r} must be a table with a kind and its options, "
                f"e.g. {{kind = 'word_similarity', path = '...'}}; got {spec!r}"
            )
        options = dict(spec)
        kind = options.pop("kind", None)
        if kind is None:
            raise UserError(f"evaluator {name!r} has no kind; valid kinds: {kinds}")
        if not isinstance(kind, str) or kind not in EVALUATORS:
            raise UserError(f"evaluator {name!r} has unknown kind {kind!r}; valid kinds: {kinds}")
        evaluators.append(make_evaluator(kind, name=name, **options))
    return evaluators


def run_evaluators(
    evaluators: Iterable[Evaluator], vectors: WordVectors, suffix: str = ""
) -> tuple[dict[str, float], str]:
    """Run each evaluator; return flat {"<name><suffix>/<metric>": value} and the joined
    markdown (`suffix` labels a second reading of the same evaluators, e.g. "@head_sentence")."""
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
            key = f"{evaluator.name}{suffix}/{metric}"
            results[key] = int(value) if is_int else float(value)
        if result.markdown.strip():
            sections.append(result.markdown.strip())
    return results, "\n\n".join(sections) + ("\n" if sections else "")


__all__ = [
    "EVALUATORS",
    "evaluators_from_config",
    "make_evaluator",
    "register_evaluator",
    "run_evaluators",
]
