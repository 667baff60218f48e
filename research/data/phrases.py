"""Phrase detection for word2vec: word2phrase (word2vec.c's tool) and gensim's `Phrases`.

A pass counts every word and every pair of adjacent words of the same document, scores each pair

    score(a, b) = (count(ab) - min_count) / (count(a) * count(b)) * N

and joins, left to right, each pair that scores above `threshold` into one token `a_b` (a word
joined to its left neighbour is not joined to its right one: `a b c` with both pairs above the
threshold becomes `a_b c`). The discount `min_count` keeps rare pairs out: a pair needs more than
`min_count` occurrences to score above zero. Running a second pass on the output joins phrases
again (`new_york times` -> `new_york_times`), as running word2phrase twice does.

The two peers differ only in N and in float width (both checked against their source):
  "word2phrase"  N = the tokens of the pass's input (`train_words`), float32 arithmetic,
                 word2phrase.c's `(pab - min_count) / (real)pa / (real)pb * (real)train_words`
                 and its `pa, pb, pab >= min_count` checks;
  "gensim"       N = the distinct unigrams plus distinct bigrams counted (`len(self.vocab)`),
                 float64, gensim's `original_scorer`.
Both accept a pair when score > threshold; word2phrase's defaults are min_count 5, threshold
100 (gensim's: 5, 10).

Memory. A pass streams its input (an int32 token file) a chunk at a time. Unigram counts are exact
(one int64 per vocabulary entry). Bigram counts live in one sorted table of (code, count) pairs,
16 bytes an entry, capped at `max_bigrams` entries: when a chunk's pairs push it past the cap,
the rarest entries are dropped as word2phrase's ReduceVocab and gensim's prune_vocab do (count
<= 1, then <= 2, ..., each round raising the bar), so the table never holds more than
`max_bigrams` entries between chunks and a merge needs about 32 bytes per entry. Dropped counts
are lost, so under pruning a pair near the cut can be undercounted, as with both peers; the
result records the bar reached (`pruned_below`). Below the cap every count is exact. The two
peers differ in what they prune (gensim prunes unigrams too, at sentence ends; word2phrase at
70% of a 500 M-entry hash), so results only match theirs when no pruning happens.

Differences from the peers, on purpose: pairs never span documents (word2phrase's vocabulary
pass counts pairs across line ends; its joining pass does not join them); a phrase found again
in a later pass (a pair `a b` left unjoined in pass 1 because `x_a` took the `a`) reuses the
token `a_b`, so the vocabulary holds every string once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from research.data import npy
from research.errors import UserError

DELIMITER = "_"  # joins the words of a phrase, as gensim and word2phrase
CHUNK_TOKENS = 1 << 22  # tokens read, paired and joined per step of a pass
Scoring = Literal["word2phrase", "gensim"]
SCORINGS: tuple[str, ...] = ("word2phrase", "gensim")


@dataclass(frozen=True)
class PhraseSettings:
    passes: int = 1
    min_count: int = 5  # word2phrase -min-count (the discount delta)
    threshold: float = 100.0  # word2phrase -threshold
    scoring: Scoring = "word2phrase"
    max_bigrams: int = 20_000_000  # cap on the bigram table; 16 bytes an entry

    def __post_init__(self) -> None:
        checks = [
            (self.passes >= 0, f"data.phrases={self.passes} must be >= 0 (0 turns phrases off)"),
            (
                self.min_count >= 1,
                f"data.phrase_min_count={self.min_count} must be at least 1",
            ),
            (
                self.threshold > 0,
                f"data.phrase_threshold={self.threshold} must be positive (word2phrase's "
                "default is 100, gensim's 10)",
            ),
            (
                self.scoring in SCORINGS,
                f"data.phrase_scoring={self.scoring!r}: expected one of {', '.join(SCORINGS)}",
            ),
            (
                self.max_bigrams >= 1,
                f"data.phrase_max_bigrams={self.max_bigrams} must be at least 1",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    @classmethod
    def from_data_config(cls, data) -> PhraseSettings:
        """The phrase fields of a research.config.DataConfig."""
        return cls(
            passes=data.phrases,
            min_count=data.phrase_min_count,
            threshold=data.phrase_threshold,
            scoring=data.phrase_scoring,
            max_bigrams=data.phrase_max_bigrams,
        )


def score(
    pab: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    n: int,
    min_count: int,
    scoring: Scoring,
) -> np.ndarray:
    """Phrase scores of pairs with counts `pab` whose words have counts `pa`, `pb`.

    `n` is N of the module docstring. The arithmetic follows each peer operation by operation, so
    a pair exactly at the threshold falls on the same side as there.
    """
    pab, pa, pb = (np.asarray(x, dtype=np.int64) for x in (pab, pa, pb))
    if scoring == "word2phrase":
        f32 = np.float32
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (pab - min_count).astype(f32) / pa.astype(f32) / pb.astype(f32) * f32(n)
        # word2phrase scores 0 for a pair or word under min_count (pruned from its vocabulary).
        return np.where((pa >= min_count) & (pb >= min_count) & (pab >= min_count), out, f32(0))
    if scoring == "gensim":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (pab - min_count).astype(np.float64) / (pa * pb).astype(np.float64) * float(n)
        return np.where(pa * pb == 0, -np.inf, out)
    raise UserError(f"phrase scoring {scoring!r}: expected one of {', '.join(SCORINGS)}")


def passes_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """score > threshold, compared in the scores' own width (word2phrase compares floats)."""
    return scores > scores.dtype.type(threshold)


class BigramTable:
    """Counts of adjacent pairs as a sorted array of codes a * vocab_size + b, at most
    `max_entries` long between merges (module docstring: memory)."""

    def __init__(self, vocab_size: int, max_entries: int) -> None:
        if vocab_size and vocab_size > int(np.sqrt(np.iinfo(np.int64).max)):
            raise UserError(f"{vocab_size} word types are too many to code pairs in 64 bits")
        self.vocab_size = vocab_size
        self.max_entries = max_entries
        self.codes = np.zeros(0, np.int64)
        self.counts = np.zeros(0, np.int64)
        self.min_reduce = 1  # the next pruning round drops counts <= this
        self.prunings = 0

    def add(self, codes: np.ndarray) -> None:
        if codes.size == 0:
            return
        new, counts = np.unique(codes, return_counts=True)
        at = np.searchsorted(self.codes, new)
        found = at < len(self.codes)
        found[found] = self.codes[at[found]] == new[found]
        self.counts[at[found]] += counts[found]  # `at` is unique among the found codes
        missing = ~found
        self.codes = np.insert(self.codes, at[missing], new[missing])
        self.counts = np.insert(self.counts, at[missing], counts[missing])
        while len(self.codes) > self.max_entries:
            keep = self.counts > self.min_reduce
            self.codes, self.counts = self.codes[keep], self.counts[keep]
            self.min_reduce += 1
            self.prunings += 1

    @property
    def pruned_below(self) -> int:
        """Counts up to this value may have been dropped (0: every count is exact)."""
        return self.min_reduce - 1 if self.prunings else 0

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return self.codes // self.vocab_size, self.codes % self.vocab_size


@dataclass
class PassResult:
    """What one pass found: the phrases (as id pairs and new ids) and its statistics."""

    first: np.ndarray  # (P,) id of each phrase's first token
    second: np.ndarray  # (P,) id of its second token
    ids: np.ndarray  # (P,) id of the joined token
    scores: np.ndarray  # (P,)
    stats: dict


@dataclass
class PhraseResult:
    """The phrase-joined token stream (files in `directory`) and what each pass found."""

    tokens_path: Path
    offsets_path: Path
    words: list[str]  # every token string, raw words first, then phrases in order of creation
    counts: np.ndarray  # (len(words),) int64 occurrences in the joined stream
    passes: list[PassResult]

    def phrases(self, pass_index: int | None = None) -> dict[str, float]:
        """{phrase: score} found by one pass (0-based) or, by default, by all of them."""
        chosen = self.passes if pass_index is None else [self.passes[pass_index]]
        return {
            self.words[i]: float(s) for p in chosen for i, s in zip(p.ids, p.scores, strict=True)
        }


def _chunks(tokens: np.ndarray, offsets: np.ndarray, chunk: int):
    """(start, stop, tokens[start:stop + 1], pair_valid) for each chunk of the stream.

    One token of lookahead lets the pair that straddles a chunk end be counted in its chunk;
    pair_valid[i] says whether pair (start + i, start + i + 1) lies inside one document.
    """
    total = len(tokens)
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        window = npy.read_rows(tokens, start, stop + 1)
        valid = np.ones(len(window) - 1, dtype=bool)
        last = start + len(valid)  # pairs cover positions start .. last - 1
        lo = np.searchsorted(offsets, start, side="right")
        hi = np.searchsorted(offsets, last, side="right")
        valid[np.asarray(offsets[lo:hi], dtype=np.int64) - 1 - start] = False
        yield start, stop, window, valid


def count_pass(
    tokens: np.ndarray,
    offsets: np.ndarray,
    vocab_size: int,
    max_bigrams: int,
    chunk: int = CHUNK_TOKENS,
) -> tuple[np.ndarray, BigramTable]:
    """Unigram counts (exact) and the bounded bigram table of one token stream."""
    unigrams = np.zeros(vocab_size, np.int64)
    table = BigramTable(vocab_size, max_bigrams)
    for start, stop, window, valid in _chunks(tokens, offsets, chunk):
        unigrams += np.bincount(window[: stop - start], minlength=vocab_size)
        first = window[:-1][valid].astype(np.int64)
        table.add(first * vocab_size + window[1:][valid])
    return unigrams, table


def select_phrases(
    unigrams: np.ndarray, table: BigramTable, settings: PhraseSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The pairs scoring above the threshold: (first ids, second ids, scores, statistics)."""
    tokens_in = int(unigrams.sum())
    unigram_types = int(np.count_nonzero(unigrams))
    n = tokens_in if settings.scoring == "word2phrase" else unigram_types + len(table.codes)
    a, b = table.pairs()
    scores = score(table.counts, unigrams[a], unigrams[b], n, settings.min_count, settings.scoring)
    keep = passes_threshold(scores, settings.threshold)
    stats = {
        "tokens_in": tokens_in,
        "unigram_types": unigram_types,
        "bigram_types": len(table.codes),
        "pruned_below": table.pruned_below,
        "n": n,
        "phrases": int(keep.sum()),
    }
    return a[keep], b[keep], scores[keep], stats


def join_pass(
    tokens: np.ndarray,
    offsets: np.ndarray,
    vocab_size: int,
    phrase_codes: np.ndarray,
    phrase_ids: np.ndarray,
    out_dir: Path,
    name: str,
    out_vocab_size: int,
    chunk: int = CHUNK_TOKENS,
) -> tuple[Path, Path, np.ndarray, int]:
    """Join the phrases (sorted `phrase_codes` a * vocab_size + b -> `phrase_ids`) greedily left
    to right, as word2phrase and gensim do; write the stream to out_dir/{name}.npy and its
    document offsets to out_dir/{name}_offsets.npy.

    Returns the two paths, the token counts of the output and the number of joins.
    """
    counts = np.zeros(out_vocab_size, np.int64)
    joins = 0
    carry = False  # the previous chunk joined its last token with this chunk's first
    tokens_path, offsets_path = out_dir / f"{name}.npy", out_dir / f"{name}_offsets.npy"
    with (
        npy.NpyWriter(tokens_path, np.int32) as out,
        npy.NpyWriter(offsets_path, np.int64) as out_offsets,
    ):
        for start, stop, window, valid in _chunks(tokens, offsets, chunk):
            size = stop - start
            codes = window[:-1].astype(np.int64) * vocab_size + window[1:]
            at = np.searchsorted(phrase_codes, codes)
            hit = valid & (at < len(phrase_codes))
            hit[hit] = phrase_codes[at[hit]] == codes[hit]
            if carry and len(hit):
                hit[0] = False  # this token already ended a phrase
            chosen = _greedy(hit)
            consumed = np.zeros(size, dtype=bool)
            consumed[0] = carry
            consumed[1:] = chosen[: size - 1]
            joined = window[:size].copy()
            where = np.flatnonzero(chosen[:size])
            joined[where] = phrase_ids[at[where]]
            kept = ~consumed
            before = np.cumsum(kept) - kept  # kept tokens of the chunk before each position
            lo = np.searchsorted(offsets, start, side="left")
            hi = np.searchsorted(offsets, stop, side="left")
            starts = np.asarray(offsets[lo:hi], dtype=np.int64) - start
            out_offsets.append(out.rows + before[starts])
            joined = joined[kept]
            out.append(joined)
            counts += np.bincount(joined, minlength=out_vocab_size)
            joins += len(where)
            carry = len(chosen) == size and bool(chosen[size - 1])
        out_offsets.append(np.array([out.rows], np.int64))
    return tokens_path, offsets_path, counts, joins


def _greedy(hit: np.ndarray) -> np.ndarray:
    """Left-to-right choice among overlapping pairs: in each run of consecutive candidate pairs
    the 1st, 3rd, 5th, ... are joined (pair i takes tokens i and i + 1, so i + 1 cannot start
    one), which is what a sequential scan that skips a joined word's right neighbour picks."""
    if not hit.any():
        return hit
    index = np.arange(len(hit))
    run_start = hit & ~np.concatenate([[False], hit[:-1]])
    first_of_run = np.maximum.accumulate(np.where(run_start, index, 0))
    return hit & ((index - first_of_run) % 2 == 0)


def detect_phrases(
    tokens: np.ndarray,
    offsets: np.ndarray,
    words: list[str],
    settings: PhraseSettings,
    out_dir: str | Path,
    *,
    chunk: int = CHUNK_TOKENS,
    log: Callable[[str], None] | None = None,
) -> PhraseResult:
    """Run `settings.passes` passes over a token stream (int32 ids into `words`, documents at
    `offsets`, the last entry being the end) and write the joined stream into `out_dir`.

    Each pass's output is the next one's input; intermediate files are removed.
    """
    out_dir = Path(out_dir)
    words = list(words)
    index = {w: i for i, w in enumerate(words)}
    results: list[PassResult] = []
    tokens_path = offsets_path = None
    for number in range(1, settings.passes + 1):
        vocab_size = len(words)
        unigrams, table = count_pass(tokens, offsets, vocab_size, settings.max_bigrams, chunk)
        first, second, scores, stats = select_phrases(unigrams, table, settings)
        del table
        ids = np.empty(len(first), np.int64)
        for k, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
            phrase = f"{words[a]}{DELIMITER}{words[b]}"
            ids[k] = index.setdefault(phrase, len(words))
            if ids[k] == len(words):
                words.append(phrase)
        codes = first * vocab_size + second  # already sorted: the table is
        previous = (tokens_path, offsets_path)
        tokens_path, offsets_path, counts, joins = join_pass(
            tokens, offsets, vocab_size, codes, ids, out_dir, f"phrases_pass{number}",
            len(words), chunk,
        )  # fmt: skip
        for path in previous:
            if path is not None:
                os.remove(path)
        tokens = np.load(tokens_path, mmap_mode="r")
        offsets = np.load(offsets_path)
        stats.update(joins=joins, tokens_out=int(counts.sum()))
        results.append(PassResult(first, second, ids, scores, {"pass": number, **stats}))
        if log is not None:
            log(
                f"phrases pass {number}: {stats['phrases']:,} phrases above threshold "
                f"{settings.threshold:g} ({settings.scoring} scoring), {joins:,} joins, "
                f"{stats['tokens_in']:,} -> {stats['tokens_out']:,} tokens"
            )
    if tokens_path is None or offsets_path is None:
        raise ValueError("detect_phrases needs settings.passes >= 1")
    return PhraseResult(Path(tokens_path), Path(offsets_path), words, counts, results)


def phrase_sentences(
    sentences: Iterable[list[str]], settings: PhraseSettings, *, chunk: int = CHUNK_TOKENS
) -> tuple[list[list[str]], PhraseResult]:
    """In-memory convenience: the sentences with phrases joined, and the result (whose files
    are already removed). For tests and small corpora; corpora go through the token cache."""
    index: dict[str, int] = {}
    ids: list[int] = []
    offsets = [0]
    for sentence in sentences:
        if sentence:
            ids.extend(index.setdefault(w, len(index)) for w in sentence)
            offsets.append(len(ids))
    words = list(index)
    with tempfile.TemporaryDirectory() as tmp:
        result = detect_phrases(
            np.asarray(ids, np.int32),
            np.asarray(offsets, np.int64),
            words,
            settings,
            tmp,
            chunk=chunk,
        )
        joined = np.load(result.tokens_path)
        ends = np.load(result.offsets_path)
    out = [[result.words[i] for i in joined[s:e]] for s, e in zip(ends[:-1], ends[1:], strict=True)]
    return out, result
