"""Retrieval: find each query's target among all targets, scored by recall@k and MRR.

File format: a TSV with a header line naming at least the query and target columns (by default
``query`` and ``target``; other columns are ignored), one query per line; cells are split on tabs
only. Every query's gold answer is the target on its own row; the candidate pool is every
distinct target of the rows evaluated (duplicates count once), so a target may be the answer to
several queries. With ``split`` set, only rows whose ``split`` column equals it are evaluated
(and only their targets are candidates).

Definition -> word retrieval on this project's WordNet file::

    make_evaluator("retrieval", name="def2word", path="wordnet/wordnet_def2word_core.tsv",
                   query_column="definition", target_column="lemma", split="dev")

Queries and candidates are both embedded with ``embed_sentences`` and ranked by cosine. A
candidate scoring exactly as high as the gold one is ranked ahead of it (the pessimistic
convention), so an encoder that maps everything to one vector scores no better than chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, read_header_tsv
from research.eval.encoder_api import TextEncoder, cosine_matrix, embed_sentences

QUERY_CHUNK = 1024  # queries scored at once: bounds the (queries x candidates) cosine block


def _format(query_column: str, target_column: str) -> str:
    return (
        f"retrieval format: a TSV with a header naming the columns {query_column!r} and "
        f"{target_column!r} (and 'split' when a split is chosen), one query per line"
    )


@dataclass
class RetrievalSet:
    queries: list[str]
    gold: np.ndarray  # index into candidates, per query
    candidates: list[str]


def read_retrieval_set(
    path: str | Path,
    query_column: str = "query",
    target_column: str = "target",
    split: str | None = None,
) -> RetrievalSet:
    """Parse the file; the candidates are the distinct targets in first-seen order."""
    path = Path(path).expanduser()
    expected = _format(query_column, target_column)
    required = [query_column, target_column] + (["split"] if split is not None else [])
    rows = read_header_tsv(path, required, expected)
    queries: list[str] = []
    targets: list[str] = []
    splits_seen: dict[str, None] = {}
    for line_no, row in rows:
        if split is not None:
            splits_seen.setdefault(row["split"].strip(), None)
            if row["split"].strip() != split:
                continue
        query, target = row[query_column].strip(), row[target_column].strip()
        if not query or not target:
            empty = query_column if not query else target_column
            raise UserError(f"{path}:{line_no}: empty {empty!r} cell; expected the {expected}")
        queries.append(query)
        targets.append(target)
    if not queries:
        raise UserError(
            f"{path}: no rows with split {split!r} (splits present: {', '.join(splits_seen)}); "
            f"choose one of those"
        )
    index = {t: i for i, t in enumerate(dict.fromkeys(targets))}
    return RetrievalSet(queries, np.array([index[t] for t in targets]), list(index))


def gold_ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """1-based rank of each row's gold column; equal scores rank ahead of the gold one."""
    gold_scores = scores[np.arange(len(gold)), gold]
    return np.sum(scores >= gold_scores[:, None], axis=1)  # counts the gold column itself


def retrieval_metrics(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """recall@k for each k (share of queries with gold rank <= k) and mean reciprocal rank."""
    ranks = np.asarray(ranks, dtype=np.float64)
    metrics: dict[str, float] = {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}
    metrics["mrr"] = float(np.mean(1.0 / ranks))
    return metrics


def _check_ks(name: str, ks: object) -> tuple[int, ...]:
    values = (ks,) if isinstance(ks, int) else ks
    try:
        out = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        out = ()
    if not out or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in out):
        raise UserError(
            f"retrieval evaluator {name!r}: ks must be positive integers, e.g. [1, 10], got {ks!r}"
        )
    return tuple(dict.fromkeys(out))


@dataclass
class Retrieval:
    """Evaluator: recall@k and MRR of each query's own target among all distinct targets."""

    reads: ClassVar[str] = "sentences"  # what it embeds: one vector per text

    name: str
    path: str | Path
    query_column: str = "query"
    target_column: str = "target"
    ks: Sequence[int] = (1, 10)
    split: str | None = None
    data: RetrievalSet = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.ks = _check_ks(self.name, self.ks)
        self.data = read_retrieval_set(self.path, self.query_column, self.target_column, self.split)

    def ranks(self, model: TextEncoder) -> np.ndarray:
        """The gold target's rank for every query."""
        q = embed_sentences(model, self.data.queries)
        c = embed_sentences(model, self.data.candidates)
        gold = self.data.gold
        parts = [
            gold_ranks(cosine_matrix(q[i : i + QUERY_CHUNK], c), gold[i : i + QUERY_CHUNK])
            for i in range(0, len(q), QUERY_CHUNK)
        ]
        return np.concatenate(parts)

    def run(self, model: TextEncoder) -> EvalResult:
        ranks = self.ranks(model)
        n_q, n_c = len(self.data.queries), len(self.data.candidates)
        metrics = retrieval_metrics(ranks, self.ks)
        metrics["queries"] = n_q
        metrics["candidates"] = n_c
        scope = f", split {self.split}" if self.split is not None else ""
        shown = ", ".join(f"recall@{k} {metrics[f'recall@{k}']:.4f}" for k in self.ks)
        markdown = (
            f"### {self.name}: retrieval ({Path(self.path).name}{scope})\n\n"
            f"{n_q} queries ({self.query_column}) against {n_c} distinct candidates "
            f"({self.target_column}): {shown}, MRR {metrics['mrr']:.4f}; chance recall@1 is "
            f"{1 / n_c:.4f}. Candidates: every distinct {self.target_column} of the evaluated "
            f"rows, each embedded as a text on its own (embed_sentences), as the queries are.\n"
        )
        return EvalResult(metrics=metrics, markdown=markdown)
