"""Default evaluator suites, one per data source, as `evals` mappings ({name: {kind, **options}}).

A run evaluates its data source's default suite (unless eval.default_suite=false) plus the
config's own `evals` entries (an entry of the same name replaces the suite's). The synthetic
world's suite reads the gold files it generated beside its corpus; other sources have no default
files yet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

Evals = dict[str, dict[str, Any]]

DATA_PREFIX = "data:"  # a path relative to the evaluation data directory (eval.data_dir)
DATA_DIR_ENV = "STRATA_EVAL_DATA"
REPO = Path(__file__).resolve().parents[2]


def eval_data_dir(setting: str = "") -> Path | None:
    """The evaluation data directory: `setting` (eval.data_dir) if given, else $STRATA_EVAL_DATA,
    else ../shared/data beside the repository when it exists, else None."""
    if setting:
        return Path(setting).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else None


def word_vectors_suite(world_files: dict) -> Evals:
    """word2vec on the synthetic world: its analogy and word-similarity gold files."""
    if not world_files:
        return {}
    return {
        "synthetic_analogy": {"kind": "analogy", "path": str(world_files["analogy"])},
        "synthetic_similarity": {"kind": "word_similarity", "path": str(world_files["similarity"])},
    }


def encoder_suite(
    world_files: dict, eval_config: Any, plot_dir: Path | None = None
) -> tuple[Evals, Path | None]:
    """The encoder on the synthetic world: sense pairs, STS, retrieval, polysemy separation and
    the level probes (heatmap into `plot_dir`). Returns (suite, the polysemy file or None), the
    latter for the polysemy picture."""
    if not world_files:
        return {}, None
    corpus_dir = Path(world_files["corpus"]).parent
    suite: Evals = {}
    for kind, name, file in [
        ("word_sense", "synthetic_sense", "wic.tsv"),
        ("sentence_similarity", "synthetic_sts", "sts-test.csv"),
        ("retrieval", "synthetic_retrieval", "retrieval.tsv"),
    ]:
        if (corpus_dir / file).exists():
            suite[name] = {"kind": kind, "path": str(corpus_dir / file)}
    polysemy_file = None
    if (corpus_dir / "polysemy.tsv").exists():
        polysemy_file = corpus_dir / "polysemy.tsv"
        suite["synthetic_polysemy"] = {"kind": "sense_separation", "path": str(polysemy_file)}
    ladder, documents = corpus_dir / "hierarchy.tsv", corpus_dir / "documents.jsonl"
    if ladder.exists() and documents.exists():
        suite["level_probes"] = {
            "kind": "level_probes",
            "ladder": str(ladder),
            "documents": str(documents),
            "plot": str(plot_dir / "level_probe_matrix.png") if plot_dir is not None else "",
            "folds": eval_config.probe_folds,
        }
    return suite, polysemy_file
