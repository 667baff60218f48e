"""Evaluators: each reads a documented local file format and returns metrics.

The registry (`EVALUATORS`, `make_evaluator`, `evaluators_from_config`, `register_evaluator`,
`run_evaluators`) is in research.eval.registry; what every evaluator shares (`EvalResult`, the
`Evaluator` protocol, `benchmark_lines`) is in research.eval.common. Both are re-exported here.
Evaluator modules import from research.eval.common, never from this package.
"""

from __future__ import annotations

from research.eval.analogy import Analogy
from research.eval.common import EvalResult, Evaluator, benchmark_lines
from research.eval.neighbours import NearestNeighbours
from research.eval.polysemy import SenseSeparation
from research.eval.probes import LevelProbes
from research.eval.registry import (
    EVALUATORS,
    evaluators_from_config,
    make_evaluator,
    register_evaluator,
    run_evaluators,
)
from research.eval.retrieval import Retrieval
from research.eval.sense import WordSense
from research.eval.similarity import WordSimilarity
from research.eval.sts import SentenceSimilarity
from research.eval.vectors import WordVectors

__all__ = [
    "EVALUATORS",
    "Analogy",
    "EvalResult",
    "Evaluator",
    "LevelProbes",
    "NearestNeighbours",
    "Retrieval",
    "SenseSeparation",
    "SentenceSimilarity",
    "WordSense",
    "WordSimilarity",
    "WordVectors",
    "benchmark_lines",
    "evaluators_from_config",
    "make_evaluator",
    "register_evaluator",
    "run_evaluators",
]
