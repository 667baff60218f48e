"""Nearest neighbours of chosen words: the qualitative check that a word model learned meaning.

Query words are matched exactly, else case-insensitively (most frequent variant). The result
is a markdown table for results.md; the metrics only count queries and out-of-vocabulary ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from research.errors import UserError
from research.eval.common import EvalResult
from research.eval.vectors import WordVectors


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


@dataclass
class NearestNeighbours:
    """Evaluator: the `topn` cosine neighbours of each word in `words`."""

    name: str
    words: list[str]
    topn: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.words, str) or not all(isinstance(w, str) for w in self.words):
            raise UserError(
                f"nearest_neighbours evaluator {self.name!r}: words must be a list of strings, "
                f"e.g. ['king', 'bank'], got {self.words!r}"
            )
        if not isinstance(self.topn, int) or self.topn <= 0:
            raise UserError(
                f"nearest_neighbours evaluator {self.name!r}: topn must be a positive integer, "
                f"got {self.topn!r}"
            )
        self.words = list(self.words)

    def neighbours(
        self, vectors: WordVectors
    ) -> tuple[dict[str, list[tuple[str, float]]], list[str]]:
        """({query: [(neighbour, cosine), ...]} for in-vocabulary queries, [OOV queries])."""
        found: dict[str, list[tuple[str, float]]] = {}
        oov: list[str] = []
        for query in self.words:
            row = vectors.lookup(query)
            if row is None:
                oov.append(query)
            else:
                found[query] = vectors.most_similar([vectors.words[row]], topn=self.topn)
        return found, oov

    def run(self, vectors: WordVectors) -> EvalResult:
        found, oov = self.neighbours(vectors)
        lines = [f"### {self.name}: nearest neighbours (cosine)", ""]
        if found:
            lines += ["| word | neighbours |", "|---|---|"]
            for query, neigh in found.items():
                listed = ", ".join(f"{_cell(w)} {cos:.3f}" for w, cos in neigh)
                lines.append(f"| {_cell(query)} | {listed} |")
            lines.append("")
        if oov:
            lines.append(f"Out of vocabulary ({len(oov)}): {', '.join(oov)}")
            lines.append("")
        metrics: dict[str, float] = {"queries": len(self.words), "queries_oov": len(oov)}
        return EvalResult(metrics=metrics, markdown="\n".join(lines))
