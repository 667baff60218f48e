"""Word vectors: the table a word model learned, with lookup, cosine search and the word2vec file.

The vocabulary is sorted by decreasing corpus count (index 0 = most frequent word), as gensim
and the original word2vec do, so "the N most frequent words" is simply the first N rows. That
ordering is what `restrict_vocab` in the analogy evaluation relies on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from research.errors import UserError
from research.textfile import read_utf8


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; all-zero rows stay zero instead of becoming NaN."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


def lowercase_index(words: Sequence[str]) -> dict[str, int]:
    """Map each lowercased word to the index of its first (most frequent) case variant.

    This is gensim's `case_insensitive=True` rule: "Paris" and "paris" both resolve to whichever
    of them is more frequent.
    """
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word.lower(), i)
    return index


@functools.cache
def _text_pieces() -> dict[str, np.ndarray]:
    """Lookup tables of 4 ASCII bytes each (as uint32) for `_scientific_rows`."""

    def table(pieces: list[str]) -> np.ndarray:
        return np.frombuffer("".join(pieces).encode(), np.uint32)

    return {
        "head": table([f"{s}{d // 10}.{d % 10}" for s in "-+" for d in range(100)]),
        "four": table([f"{i:04d}" for i in range(10_000)]),
        "three_e": table([f"{i:03d}e" for i in range(1000)]),
        "exponent": table([f"{e:+03d}{end}" for end in " \n" for e in range(-50, 50)]),
        "pow10": 10.0 ** np.arange(-60, 61),  # [k + 60] = 10**k
    }


def _scientific_rows(values: np.ndarray) -> list[bytes]:
    """Each row of a finite matrix as b"v1 v2 ... vD\n", every value with 9 significant digits
    ("-1.23456789e-03"), built with array operations: Python's per-value "%.9g" took 2.3 s
    for a 75,214 x 100 table, this 0.7 s.

    Nine significant digits round-trip float32: the 9-digit grid is at least 6x finer than
    float32's spacing, so even a last digit one off from correct rounding (float64 arithmetic
    here) reads back as the same float32 (tests/test_eval.py checks 200 k random bit patterns).
    """
    pieces = _text_pieces()
    x = values.astype(np.float64)
    magnitude = np.abs(x)
    nonzero = magnitude > 0
    exponent = np.floor(np.log10(np.where(nonzero, magnitude, 1.0))).astype(np.int64)
    for _ in range(2):  # log10 and rounding can land one decade off; each pass moves it back
        mantissa = np.rint(magnitude * pieces["pow10"][68 - exponent])
        exponent += mantissa >= 1e9
        exponent -= (mantissa < 1e8) & nonzero
    mantissa = np.rint(magnitude * pieces["pow10"][68 - exponent]).astype(np.int64)
    top, last_three = np.divmod(mantissa, 1000)
    first_two, middle_four = np.divmod(top, 10_000)
    # 16 bytes a value: sign, d, '.', d | dddd | ddd, 'e' | exponent sign, 2 digits, ' ' or '\n'
    fields = np.empty(x.shape + (4,), np.uint32)
    fields[..., 0] = pieces["head"][first_two + 100 * ~np.signbit(x)]
    fields[..., 1] = pieces["four"][middle_four]
    fields[..., 2] = pieces["three_e"][last_three]
    row_end = np.zeros(x.shape[1], np.int64)
    row_end[-1] = 100
    fields[..., 3] = pieces["exponent"][exponent + 50 + row_end]
    text = fields.view(np.uint8).reshape(x.shape + (16,))
    keep = np.ones(text.shape, bool)
    keep[..., 0] = np.signbit(x)  # the sign byte only for negative values
    joined = text[keep].tobytes()
    ends = np.cumsum(keep.sum(axis=(1, 2)))
    return [joined[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)]


@dataclass
class WordVectors:
    """A vocabulary and its raw input-embedding rows; cosine search works on unit rows."""

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray | None = None
    _unit: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lower: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.words = list(self.words)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise UserError(
                f"word vectors must be a (V, D) matrix with one row per word; got shape "
                f"{self.vectors.shape} for {len(self.words)} words"
            )
        if self.counts is not None:
            self.counts = np.asarray(self.counts, dtype=np.int64)
            if self.counts.shape != (len(self.words),):
                raise UserError(
                    f"word counts must have one entry per word ({len(self.words)}); got shape "
                    f"{self.counts.shape}"
                )
        for i, word in enumerate(self.words):
            if self._index.setdefault(word, i) != i:
                raise UserError(
                    f"word {word!r} appears twice in the vocabulary (rows {self._index[word]} and "
                    f"{i}); each word needs exactly one vector"
                )

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int:
        """Row of `word`; a UserError says it is out of vocabulary (exact, case-sensitive match)."""
        try:
            return self._index[word]
        except KeyError:
            raise UserError(
                f"{word!r} is not in the vocabulary ({len(self)} words): it is out of vocabulary; "
                f"check the spelling, or lower min_count so that rarer words get vectors"
            ) from None

    def lookup(self, word: str) -> int | None:
        """Row of `word`, else of its lowercased form's most frequent case variant, else None."""
        if word in self._index:
            return self._index[word]
        return self.lower_index().get(word.lower())

    def lower_index(self) -> dict[str, int]:
        """Cached `lowercase_index` of the whole vocabulary."""
        if self._lower is None:
            self._lower = lowercase_index(self.words)
        return self._lower

    def unit(self) -> np.ndarray:
        """Cached L2-normalised copy of `vectors` (zero rows stay zero)."""
        if self._unit is None:
            self._unit = unit_rows(self.vectors)
        return self._unit

    def most_similar(
        self,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest words to mean(unit(positive)) - mean(unit(negative)), as gensim computes it.

        This is 3CosAdd for an analogy a:b :: c:? with positive=[b, c], negative=[a]. The query
        words are never returned; only the first `restrict_vocab` (most frequent) words are
        candidates. Scores are cosines with the normalised query vector.
        """
        if isinstance(positive, str) or isinstance(negative, str):
            raise UserError("most_similar takes lists of words, e.g. positive=['king', 'woman']")
        if not positive and not negative:
            raise UserError("most_similar needs at least one word in positive or negative")
        unit = self.unit()
        query_rows = [self.index(w) for w in positive] + [self.index(w) for w in negative]
        weights = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        # gensim averages the unit vectors then normalises; the ranking only needs the direction.
        query = unit_rows((weights @ unit[query_rows])[None, :])[0]
        limit = len(self) if restrict_vocab is None else max(0, min(restrict_vocab, len(self)))
        scores = unit[:limit] @ query
        excluded = [r for r in set(query_rows) if r < limit]
        scores[excluded] = -np.inf
        take = max(0, min(topn, limit - len(excluded)))
        if take == 0:
            return []
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def save_word2vec_text(self, path: str | Path) -> Path:
        """Write gensim's word2vec text format: "V D", then "word v1 ... vD" per line.

        Nine significant digits round-trip float32 exactly, so gensim loads identical vectors.
        """
        path = Path(path)
        for word in self.words:
            if not word or any(ch.isspace() for ch in word):
                raise UserError(
                    f"cannot write {word!r} to word2vec text format: words must be non-empty and "
                    f"contain no whitespace; fix the tokenizer so tokens have no spaces"
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = " ".join(["%.9g"] * self.dim) + "\n"
        with path.open("wb") as f:
            f.write(f"{len(self)} {self.dim}\n".encode())
            for start in range(0, len(self), 4096):  # bounds the formatter's arrays
                block, words = self.vectors[start : start + 4096], self.words[start : start + 4096]
                if not self.dim:
                    f.write(b"".join(word.encode() + b"\n" for word in words))
                    continue
                finite = np.isfinite(block).all(axis=1)
                lines = _scientific_rows(np.where(finite[:, None], block, 0))
                for word, line, ok, row in zip(words, lines, finite, block, strict=True):
                    # nan and inf as Python writes them, which gensim reads back
                    f.write(word.encode() + b" " + (line if ok else (fmt % tuple(row)).encode()))
        return path

    def save_vocab_counts(self, path: str | Path) -> Path:
        """Write the corpus count of every word, "word count" per line in the vectors' order:
        gensim's `fvocab` file (`KeyedVectors.load_word2vec_format(vectors, fvocab=path)`), and
        what SIF weighting needs beside the vectors."""
        if self.counts is None:
            raise UserError("these word vectors have no corpus counts to write")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (f"{w} {c}\n" for w, c in zip(self.words, self.counts.tolist(), strict=True))
        path.write_text("".join(lines), encoding="utf-8", newline="\n")
        return path

    def with_vocab_counts(self, path: str | Path) -> WordVectors:
        """These vectors with the counts of a `save_vocab_counts` file (every word, same order)."""
        path = Path(path)
        rows = [line.split(" ") for line in read_utf8(path).split("\n") if line]
        if [r[0] for r in rows] != self.words or not all(
            len(r) == 2 and r[1].isdigit() for r in rows
        ):
            raise UserError(
                f"{path} does not list the {len(self)} words of the vectors, one 'word count' per "
                "line in the same order; rerun the run's command to rewrite it"
            )
        return type(self)(self.words, self.vectors, np.array([int(r[1]) for r in rows]))

    @classmethod
    def load_word2vec_text(cls, path: str | Path) -> WordVectors:
        """Read a word2vec text file (as written by `save_word2vec_text` or gensim)."""
        path = Path(path)
        expected = 'expected word2vec text format: a "V D" header line, then "word v1 ... vD"'
        if not path.is_file():
            raise UserError(f"word vectors file {path} does not exist; {expected}")
        lines = read_utf8(
            path,
            f" (a binary word2vec file?); {expected}, e.g. gensim's "
            f"save_word2vec_format(path, binary=False)",
        ).split("\n")
        header = lines[0].split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise UserError(f"{path}:1: header {lines[0][:60]!r} is not 'V D'; {expected}")
        size, dim = int(header[0]), int(header[1])
        body = lines[1 : size + 1]
        if len(body) < size or (body and body[-1] == "" and dim > 0):
            found = sum(1 for line in body if line)
            raise UserError(
                f"{path}: header promises {size} words but the file has {found}; "
                f"the file is truncated or the header is wrong"
            )
        extra = sum(1 for line in lines[size + 1 :] if line.strip())
        if extra:
            raise UserError(
                f"{path}: header promises {size} words but {extra} more non-empty line(s) follow "
                f"them; fix the header's V or remove the extra lines"
            )
        words: list[str] = []
        rows: dict[str, int] = {}
        vectors = np.empty((size, dim), dtype=np.float32)
        for i, line in enumerate(body):
            # Same tokenisation as gensim: strip the line end, split on single spaces.
            parts = line.rstrip().split(" ")
            if len(parts) != dim + 1:
                raise UserError(
                    f"{path}:{i + 2}: expected a word and {dim} numbers, got {len(parts) - 1} "
                    f"values; {expected}"
                )
            try:
                vectors[i] = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                raise UserError(f"{path}:{i + 2}: non-numeric vector value; {expected}") from None
            if not np.all(np.isfinite(vectors[i])):
                raise UserError(
                    f"{path}:{i + 2}: vector of {parts[0]!r} holds nan or inf; the model that "
                    f"wrote it diverged, or the file is corrupt"
                )
            if rows.setdefault(parts[0], i) != i:
                raise UserError(
                    f"{path}:{i + 2}: word {parts[0]!r} appears again (first on line "
                    f"{rows[parts[0]] + 2}); each word needs exactly one vector"
                )
            words.append(parts[0])
        return cls(words=words, vectors=vectors)
