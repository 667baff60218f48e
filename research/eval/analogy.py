"""Word analogies a:b :: c:d, answered by 3CosAdd (as gensim) and 3CosMul (Levy & Goldberg 2014).

Two file formats are read, with words lowercased:

* the original word2vec / gensim ``questions-words.txt``: ``: section`` header lines, then
  ``a b c d`` lines; sections whose name starts with ``gram`` are syntactic, others semantic;
* a TSV with a header naming the columns ``section type a b c d`` (``section`` and ``type`` are
  optional), as in this project's ``questions_words.tsv`` and the synthetic world's gold files.

The protocol is gensim's ``KeyedVectors.evaluate_word_analogies``: only the ``restrict_vocab``
most frequent words take part; a question counts (is *covered*) only when all four words are
among them; the prediction is the best candidate among them other than a, b and c. Matching is
case-insensitive and uses the most frequent case variant, again as gensim does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, benchmark_lines
from research.eval.vectors import WordVectors, lowercase_index

FORMAT = (
    "analogy format: word2vec questions-words.txt (': section' lines, then 'a b c d' lines) or "
    "a TSV with header 'section type a b c d'"
)
EPS_3COSMUL = 1e-3  # Levy & Goldberg's epsilon, keeps the division finite


@dataclass
class AnalogySet:
    """Questions in file order; `kinds[i]` is e.g. "semantic" / "syntactic", or "" if unknown."""

    sections: list[str]
    kinds: list[str]
    words: list[tuple[str, str, str, str]]


def kind_from_section(section: str) -> str:
    """gensim's convention for questions-words.txt: "gram..." sections are syntactic."""
    return "syntactic" if section.lower().startswith("gram") else "semantic"


def read_analogies(path: str | Path) -> AnalogySet:
    """Parse either analogy format (chosen by the first non-blank line)."""
    path = Path(path).expanduser()
    lines = [
        (n, line)
        for n, line in benchmark_lines(path, FORMAT)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise UserError(f"{path}: no analogy questions (empty file?); expected the {FORMAT}")
    word2vec_format = lines[0][1].startswith(":")
    questions = _read_word2vec(path, lines) if word2vec_format else _read_tsv(path, lines)
    if not questions.words:
        raise UserError(f"{path}: no analogy questions found; expected the {FORMAT}")
    return questions


def _read_word2vec(path: Path, lines: list[tuple[int, str]]) -> AnalogySet:
    out = AnalogySet([], [], [])
    section = ""
    for line_no, line in lines:
        if line.startswith(":"):
            section = line[1:].strip()
            if not section:
                raise UserError(f"{path}:{line_no}: section has no name; expected the {FORMAT}")
            continue
        parts = line.split()
        if len(parts) != 4:
            raise UserError(
                f"{path}:{line_no}: expected 4 words 'a b c d', found {len(parts)}; "
                f"expected the {FORMAT}"
            )
        out.sections.append(section)
        out.kinds.append(kind_from_section(section))
        out.words.append(tuple(p.lower() for p in parts))  # type: ignore[arg-type]
    return out


def _read_tsv(path: Path, lines: list[tuple[int, str]]) -> AnalogySet:
    header_no, header_line = lines[0]
    header = [c.strip().lower() for c in header_line.split("\t")]
    if not {"a", "b", "c", "d"} <= set(header):
        raise UserError(
            f"{path}:{header_no}: first line is neither a ': section' line nor a TSV header "
            f"with columns a b c d (got {header_line[:60]!r}); expected the {FORMAT}"
        )
    col = {name: i for i, name in enumerate(header)}
    out = AnalogySet([], [], [])
    for line_no, line in lines[1:]:
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) != len(header):
            raise UserError(
                f"{path}:{line_no}: expected {len(header)} tab-separated columns "
                f"({' '.join(header)}), found {len(cells)}; expected the {FORMAT}"
            )
        words = tuple(cells[col[k]].lower() for k in "abcd")
        if not all(words):
            raise UserError(f"{path}:{line_no}: empty word in columns a-d; expected the {FORMAT}")
        section = cells[col["section"]] if "section" in col else "all"
        if "type" in col:
            kind = cells[col["type"]].lower()
        else:
            kind = kind_from_section(section) if "section" in col else ""
        out.sections.append(section)
        out.kinds.append(kind)
        out.words.append(words)  # type: ignore[arg-type]
    return out


def _exclusion_table(words: list[str], ok: dict[str, int]) -> np.ndarray:
    """(R, K) table: row r lists every restricted row with r's lowercased form (padded with r).

    gensim skips a predicted word whose uppercased form equals a, b or c, so every case variant
    of the question words must be excluded, not only the variant whose vector was used.
    """
    groups: dict[int, list[int]] = {}
    for r, word in enumerate(words):
        groups.setdefault(ok[word.lower()], []).append(r)
    width = max(len(g) for g in groups.values())
    table = np.repeat(np.arange(len(words))[:, None], width, axis=1)
    for canonical, rows in groups.items():
        table[canonical, : len(rows)] = rows
        table[canonical, len(rows) :] = rows[0]
    return table


def _windows(abc: np.ndarray, max_words: int) -> list[tuple[int, int]]:
    """Split questions, in order, into [start, stop) windows using at most `max_words` words.

    Benchmarks reuse few words (the Google set: ~900 words in 19,544 questions), so usually one
    window covers everything and every word's cosines are computed exactly once.
    """
    windows: list[tuple[int, int]] = []
    start, seen = 0, set()
    for i, triple in enumerate(abc.tolist()):
        fresh = [w for w in triple if w not in seen]
        if len(seen) + len(set(fresh)) > max_words and i > start:
            windows.append((start, i))
            start, seen = i, set()
        seen.update(triple)
    windows.append((start, len(abc)))
    return windows


def solve_analogies(
    unit: np.ndarray,
    abc: np.ndarray,
    exclude: np.ndarray,
    block: int = 64,
    max_bytes: int = 384 * 2**20,
) -> tuple[np.ndarray, np.ndarray]:
    """Best 3CosAdd and 3CosMul candidate rows for each (a, b, c) row-index triple.

    `unit` holds the unit vectors of the candidates; `exclude[r]` the rows never returned for a
    question that uses row r. One matmul per window of questions (memory capped by
    `max_bytes`) gives the cosines of the window's distinct words with every candidate; each
    question's scores then combine three of those rows:
    3CosAdd = cos(x, b) - cos(x, a) + cos(x, c) and
    3CosMul = s(x, b) * s(x, c) / (s(x, a) + eps) with s = (cos + 1) / 2.
    Combining rows in place is much cheaper than gathering (question, candidate) matrices, and
    the masking and argmax run over blocks of questions.
    """
    n, candidates = len(abc), unit.shape[0]
    best_add = np.empty(n, dtype=np.int64)
    best_mul = np.empty(n, dtype=np.int64)
    max_words = max(1, max_bytes // (3 * 4 * max(candidates, 1)))
    add = np.empty((block, candidates), dtype=np.float32)
    mul = np.empty((block, candidates), dtype=np.float32)
    for w_start, w_stop in _windows(abc, max_words):
        window = abc[w_start:w_stop]
        distinct, local = np.unique(window, return_inverse=True)
        local = local.reshape(window.shape)
        cos = unit[distinct] @ unit.T  # (distinct words, candidates)
        shifted = (cos + 1.0) * 0.5
        inv_den = 1.0 / (shifted + EPS_3COSMUL)
        for start in range(0, len(window), block):
            triples = local[start : start + block]
            size = len(triples)
            for i, (a, b, c) in enumerate(triples.tolist()):
                np.add(cos[b], cos[c], out=add[i])
                add[i] -= cos[a]
                np.multiply(shifted[b], shifted[c], out=mul[i])
                mul[i] *= inv_den[a]
            rows = np.arange(size)[:, None]
            banned = np.concatenate(
                [exclude[window[start : start + size, k]] for k in range(3)], axis=1
            )
            out = slice(w_start + start, w_start + start + size)
            for score, best in ((add[:size], best_add), (mul[:size], best_mul)):
                score[rows, banned] = -np.inf
                best[out] = np.argmax(score, axis=1)
    return best_add, best_mul


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


@dataclass
class Analogy:
    """Evaluator: analogy accuracy (3CosAdd, 3CosMul) and coverage on the file at `path`."""

    name: str
    path: str | Path
    restrict_vocab: int | None = 30000
    questions: AnalogySet = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.restrict_vocab is not None and (
            not isinstance(self.restrict_vocab, int) or self.restrict_vocab <= 0
        ):
            raise UserError(
                f"analogy evaluator {self.name!r}: restrict_vocab must be a positive integer "
                f"(or None for the whole vocabulary), got {self.restrict_vocab!r}"
            )
        self.questions = read_analogies(self.path)

    def solve(self, vectors: WordVectors) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Per question: (covered, correct by 3CosAdd, correct by 3CosMul) and the candidate
        count; `run` aggregates these, benchmarks read them per section."""
        limit = min(self.restrict_vocab or len(vectors), len(vectors))
        words = vectors.words[:limit]
        ok = lowercase_index(words)
        idx = np.array(
            [[ok.get(w, -1) for w in q] for q in self.questions.words], dtype=np.int64
        ).reshape(-1, 4)
        covered = np.all(idx >= 0, axis=1)
        correct_add = np.zeros(len(idx), dtype=bool)
        correct_mul = np.zeros(len(idx), dtype=bool)
        if covered.any():
            canonical = np.array([ok[w.lower()] for w in words], dtype=np.int64)
            q = idx[covered]
            best_add, best_mul = solve_analogies(
                vectors.unit()[:limit], q[:, :3], _exclusion_table(words, ok)
            )
            # A case variant of d counts as correct, as in gensim (it compares uppercased words).
            correct_add[covered] = canonical[best_add] == q[:, 3]
            correct_mul[covered] = canonical[best_mul] == q[:, 3]
        return covered, correct_add, correct_mul, limit

    def run(self, vectors: WordVectors) -> EvalResult:
        covered, correct_add, correct_mul, limit = self.solve(vectors)
        total, n_covered = len(covered), int(covered.sum())
        metrics: dict[str, float] = {
            "accuracy": _ratio(int(correct_add.sum()), n_covered),
            "accuracy_3cosmul": _ratio(int(correct_mul.sum()), n_covered),
            "accuracy_all": _ratio(int(correct_add.sum()), total),
            "questions_total": total,
            "questions_covered": n_covered,
            "coverage": _ratio(n_covered, total),
        }
        kinds = np.array(self.questions.kinds, dtype=object)
        for kind in dict.fromkeys(self.questions.kinds):
            if kind:
                mask = covered & (kinds == kind)
                metrics[f"{_slug(kind)}_accuracy"] = _ratio(
                    int(correct_add[mask].sum()), int(mask.sum())
                )
        markdown = self._section_table(covered, correct_add, correct_mul, limit)
        return EvalResult(metrics=metrics, markdown=markdown)

    def _section_table(
        self, covered: np.ndarray, add: np.ndarray, mul: np.ndarray, limit: int
    ) -> str:
        sections = np.array(self.questions.sections, dtype=object)
        lines = [
            f"### {self.name}: analogy accuracy by section",
            "",
            f"{Path(self.path).name}; candidates: the {limit} most frequent words; accuracy over "
            f"covered questions (all four words among them).",
            "",
            "| section | type | covered / total | 3CosAdd | 3CosMul |",
            "|---|---|---|---|---|",
        ]
        for section in dict.fromkeys(self.questions.sections):
            mask = sections == section
            kind = self.questions.kinds[int(np.argmax(mask))] or "-"
            n_cov = int((covered & mask).sum())
            acc_add = _ratio(int(add[mask].sum()), n_cov)
            acc_mul = _ratio(int(mul[mask].sum()), n_cov)
            lines.append(
                f"| {_cell(section)} | {_cell(kind)} | {n_cov} / {int(mask.sum())} | "
                f"{_fmt(acc_add)} | {_fmt(acc_mul)} |"
            )
        return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fmt(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.4f}"
