"""Word similarity: Spearman rho between human scores and cosine similarity.

File format (WordSim-353, SimLex-999, RG-65, MC-30, MTurk as distributed with this project or
with gensim): one pair per line, ``word1<TAB>word2<TAB>score``, an optional header line (its score
column named e.g. ``score`` or ``SimLex999``; extra columns are allowed when a header names
them) and ``#`` comment lines. Words are lowercased and matched case-insensitively (the most
frequent case variant's vector is used, as gensim does). Pairs with an out-of-vocabulary word are
counted in ``pairs_oov`` and excluded from the correlation, never silently dropped from the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, benchmark_lines, pearson, spearman
from research.eval.vectors import WordVectors

FORMAT = (
    "word-similarity format: one 'word1<TAB>word2<TAB>score' line per pair, an optional header "
    "line such as 'word1 word2 score', '#' comments allowed"
)
# Header names that mark the gold-score column, lowercased (SimLex-999 calls it "SimLex999").
SCORE_COLUMNS = ("score", "simlex999", "similarity", "sim", "relatedness", "human (mean)", "mean")


def _split(line: str) -> list[str]:
    return [c.strip() for c in line.split("\t")] if "\t" in line else line.split()


def _is_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def _is_header(cols: list[str]) -> bool:
    names = {c.lower() for c in cols}
    return any(name in names for name in SCORE_COLUMNS) or not any(c.isdigit() for c in cols[2])


def _score_column(header: list[str], path: Path, line_no: int) -> int:
    names = [c.lower() for c in header]
    for candidate in SCORE_COLUMNS:
        if candidate in names:
            return names.index(candidate)
    if len(header) == 3:
        return 2
    raise UserError(
        f"{path}:{line_no}: header {' '.join(header)!r} names no score column "
        f"(one of {', '.join(SCORE_COLUMNS)}); expected the {FORMAT}"
    )


def read_word_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """Parse a word-similarity file into lowercased (word1, word2, score) triples."""
    path = Path(path).expanduser()
    pairs: list[tuple[str, str, float]] = []
    n_columns, score_col, seen_content = 3, 2, False
    for line_no, line in benchmark_lines(path, FORMAT):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = _split(line)
        if not seen_content:
            seen_content = True
            # A first line whose score field is not a number is a header naming the columns,
            # unless that field has digits ("7,35", "8.5*"): that is a pair with a malformed
            # score, reported below rather than silently skipped as a header.
            if len(cols) >= 3 and not _is_number(cols[2]) and _is_header(cols):
                n_columns, score_col = len(cols), _score_column(cols, path, line_no)
                continue
        if len(cols) != n_columns:
            raise UserError(
                f"{path}:{line_no}: expected {n_columns} columns, found {len(cols)}; "
                f"expected the {FORMAT}"
            )
        if not _is_number(cols[score_col]):
            raise UserError(
                f"{path}:{line_no}: score {cols[score_col]!r} is not a number; "
                f"expected the {FORMAT}"
            )
        if not cols[0] or not cols[1]:
            raise UserError(f"{path}:{line_no}: empty word; expected the {FORMAT}")
        pairs.append((cols[0].lower(), cols[1].lower(), float(cols[score_col])))
    if not pairs:
        raise UserError(f"{path}: no word pairs found (empty file?); expected the {FORMAT}")
    return pairs


@dataclass
class WordSimilarity:
    """Evaluator: Spearman rho of cosine similarity against gold scores in `path`."""

    name: str
    path: str | Path
    pairs: list[tuple[str, str, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pairs = read_word_pairs(self.path)

    def pair_cosines(self, vectors: WordVectors) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Each pair's cosine in file order (0 where a word has no vector), which pairs have
        both words' vectors, and the missing words (one entry per missing word of a pair)."""
        index, unit = vectors.lower_index(), vectors.unit()
        cosines, scored, oov_words = [], [], []
        for w1, w2, _ in self.pairs:
            i, j = index.get(w1), index.get(w2)
            scored.append(i is not None and j is not None)
            if scored[-1]:
                cosines.append(float(unit[i] @ unit[j]))
            else:
                oov_words += [w for w, k in ((w1, i), (w2, j)) if k is None]
                cosines.append(0.0)
        return np.array(cosines), np.array(scored, bool), oov_words

    def run(self, vectors: WordVectors) -> EvalResult:
        all_cosines, scored, oov_words = self.pair_cosines(vectors)
        gold = [score for (_, _, score), ok in zip(self.pairs, scored, strict=True) if ok]
        cosines = all_cosines[scored]
        total, used = len(self.pairs), len(gold)
        metrics: dict[str, float] = {
            "spearman": spearman(np.array(gold), np.array(cosines)),
            "pearson": pearson(np.array(gold), np.array(cosines)),
            "pairs_total": total,
            "pairs_used": used,
            "pairs_oov": total - used,
            "oov_fraction": (total - used) / total,
        }
        return EvalResult(metrics=metrics, markdown=self._oov_markdown(oov_words, total - used))

    def _oov_markdown(self, oov_words: list[str], oov_pairs: int) -> str:
        if not oov_pairs:
            return ""
        distinct = list(dict.fromkeys(oov_words))
        shown = ", ".join(distinct[:30])
        if len(distinct) > 30:
            shown += f", ... ({len(distinct)} words in all)"
        return (
            f"### {self.name}: out-of-vocabulary pairs\n\n"
            f"{oov_pairs} of {len(self.pairs)} pairs were not scored because a word has no "
            f"vector ({Path(self.path).name}): {shown}\n"
        )
