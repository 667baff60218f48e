"""Word corpora as memory-mapped token arrays, built once per (source, settings) and cached.

A prepared corpus is a directory with
  tokens.npy       int32 word ids of every in-vocabulary token, documents concatenated
  doc_offsets.npy  int64 start of each non-empty document in `tokens` (plus the end)
  vocab.json       words and counts, most frequent first (id = position)
  meta.json        what produced it
  phrases.json     with data.phrases: each pass's phrases and scores (research/data/phrases.py)
It is written to a temporary directory and renamed into place, so an interrupted preparation
never leaves a cache that looks complete. Words rarer than `min_count` are dropped before
windowing, as word2vec and gensim do. Building streams in two passes (count words, then write
ids a chunk of documents at a time with plain file writes), so memory holds the vocabulary and
one chunk whatever the corpus size. With `data.max_tokens` both passes stop after the first N
words of the source (a prefix, cut inside the document that reaches N), so the vocabulary and the
token ids come from the prefix alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.config import DataConfig
from research.data import npy, phrases, text
from research.errors import UserError

CORPUS_FORMAT_VERSION = 1
CHUNK_DOCUMENTS = 4096  # documents normalised and written per chunk while building a cache
PIECE_CHARS = 1 << 20  # longer documents are normalised a piece of about this size at a time


@dataclass
class WordCorpus:
    path: Path
    words: list[str]
    counts: np.ndarray  # (V,) int64, decreasing
    tokens: np.ndarray  # (N,) int32, memory-mapped
    doc_offsets: np.ndarray  # (D + 1,) int64
    meta: dict
    world_files: dict = dataclasses.field(default_factory=dict)  # the synthetic world's gold files

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.shape[0])


def cache_root(config: DataConfig) -> Path:
    root = config.cache_dir or os.environ.get("STRATA_CACHE") or "~/.cache/strata"
    return Path(root).expanduser()


def resolve_data_source(config: DataConfig) -> tuple[text.TextSource, dict]:
    """The text source behind `data.source`, generating the synthetic world when asked for it.

    Returns the source and, for the synthetic world, the paths of its gold files.
    """
    if config.source != "synthetic":
        return text.resolve_source(config.source), {}
    from research.data import synthetic

    key = f"v{synthetic.GENERATOR_VERSION}-n{config.synthetic_tokens}-s{config.synthetic_seed}"
    world_dir = cache_root(config) / "synthetic" / key
    manifest = world_dir / "manifest.json"
    if not manifest.exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(world_dir.parent)))
        synthetic.generate_world(tmp, n_tokens=config.synthetic_tokens, seed=config.synthetic_seed)
        _replace_dir(tmp, world_dir)
    files = {
        "corpus": world_dir / "corpus.txt",
        "analogy": world_dir / "analogy.tsv",
        "similarity": world_dir / "similarity.tsv",
        "manifest": manifest,
    }
    source = text.TextSource(
        builder="text", data_files=(str(files["corpus"]),), description=f"synthetic world {key}"
    )
    return source, files


def prepare_corpus(
    config: DataConfig, *, progress: bool = True, chunk_documents: int = CHUNK_DOCUMENTS
) -> WordCorpus:
    """Load the cached token arrays for `config`, building them first if needed.

    The build streams: `chunk_documents` documents at a time are normalised and their ids
    appended to disk, so memory holds the vocabulary and one chunk, never the corpus.
    """
    if config.max_tokens < 0:
        raise UserError(
            f"data.max_tokens={config.max_tokens} must be >= 0 (0 reads the whole source)"
        )
    source, world_files = resolve_data_source(config)
    settings = {
        "format": CORPUS_FORMAT_VERSION,
        "normaliser": text.NORMALISER_VERSION,
        "source": source.fingerprint(),
        "text_field": config.text_field,
        "split": config.split,
        "min_count": config.min_count,
        "max_vocab": config.max_vocab,
    }
    if config.max_tokens:  # absent when 0, so caches built before the setting keep their key
        settings["max_tokens"] = config.max_tokens
    if config.phrases:  # absent when off, for the same reason
        settings["phrases"] = dataclasses.asdict(phrases.PhraseSettings.from_data_config(config))
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_root(config) / "words" / key
    if not (directory / "meta.json").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(directory.parent)))
        try:
            _build(source, config, tmp, settings, progress=progress, chunk=chunk_documents)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace_dir(tmp, directory)
    return load_corpus(directory, world_files)


def load_corpus(directory: Path, world_files: dict | None = None) -> WordCorpus:
    vocab = json.loads((directory / "vocab.json").read_text())
    return WordCorpus(
        path=directory,
        words=vocab["words"],
        counts=np.asarray(vocab["counts"], dtype=np.int64),
        tokens=np.load(directory / "tokens.npy", mmap_mode="r"),
        doc_offsets=np.load(directory / "doc_offsets.npy", mmap_mode="r"),
        meta=json.loads((directory / "meta.json").read_text()),
        world_files=world_files or {},
    )


def build_vocab(counter: Counter, min_count: int, max_vocab: int) -> list[tuple[str, int]]:
    """Words with at least `min_count` occurrences, most frequent first (ties alphabetical)."""
    kept = sorted(
        ((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0])
    )
    return kept[:max_vocab] if max_vocab > 0 else kept


def document_pieces(document: str, size: int = 0) -> Iterator[str]:
    """`document` in pieces of at most `size` (default PIECE_CHARS) characters, cut at whitespace.

    Words never span whitespace, so normalising the pieces gives the words of the whole
    document; a single-line corpus such as text8 (100 MB on one line) is then normalised a
    piece at a time instead of as one list of millions of words. A run of `size` characters
    without whitespace is cut where it is.
    """
    size = size or PIECE_CHARS
    start = 0
    while len(document) - start > size:
        cut = max(document.rfind(space, start, start + size) for space in " \n\t")
        cut = cut + 1 if cut >= start else start + size
        yield document[start:cut]
        start = cut
    yield document[start:]


def document_words(document: str) -> Iterator[list[str]]:
    """The normalised words of `document`, a piece at a time (`document_pieces`)."""
    for piece in document_pieces(document):
        words = text.normalise_words(piece)
        if words:
            yield words


class _Budget:
    """The words still to read of a `data.max_tokens` prefix (no limit when it is 0)."""

    def __init__(self, limit: int) -> None:
        self.left = limit if limit > 0 else None

    @property
    def spent(self) -> bool:
        return self.left == 0

    def words(self, document: str) -> Iterator[list[str]]:
        """`document_words(document)`, cut where the budget runs out."""
        for words in document_words(document):
            if self.left is not None:
                words = words[: self.left]
                self.left -= len(words)
            if words:
                yield words
            if self.spent:
                return


def _build(
    source, config: DataConfig, out: Path, settings: dict, *, progress: bool, chunk: int
) -> None:
    started = time.time()
    prepared = text.open_text(source, config.split)

    def batches(desc: str):
        documents = text.iter_documents(prepared, text_field=config.text_field, batch_size=chunk)
        with _progress_bar(progress, prepared.num_rows, desc) as bar:
            for batch in documents:
                yield batch
                bar.update(len(batch))

    if config.phrases:
        _build_with_phrases(batches, source, config, out, settings, started, progress=progress)
        return
    counter: Counter = Counter()
    raw_tokens = rows = with_words = 0
    budget = _Budget(config.max_tokens)
    for batch in batches("counting words"):
        for document in batch:
            if budget.spent:
                break
            rows += 1
            before = raw_tokens
            for words in budget.words(document):
                counter.update(words)
                raw_tokens += len(words)
            with_words += raw_tokens > before
        if budget.spent:
            break
    if raw_tokens == 0:
        raise UserError(
            f"data.source={config.source!r} holds no words (empty files, or no text in column "
            f"{config.text_field!r}); point it at a non-empty corpus"
        )
    vocab = build_vocab(counter, config.min_count, config.max_vocab)
    if len(vocab) < 2:
        raise UserError(
            f"only {len(vocab)} distinct word(s) occur at least data.min_count={config.min_count} "
            f"times in {raw_tokens} tokens; lower data.min_count or use a larger corpus"
        )
    raw_vocab = len(counter)
    del counter
    index = {w: i for i, (w, _) in enumerate(vocab)}
    total = sum(c for _, c in vocab)
    with (
        npy.NpyWriter(out / "tokens.npy", np.int32) as tokens,
        npy.NpyWriter(out / "doc_offsets.npy", np.int64) as offsets,
    ):
        offsets.append(np.zeros(1, np.int64))
        budget = _Budget(config.max_tokens)
        for batch in batches("writing token ids"):
            ids, ends = _encode_batch(batch, index, budget)
            tokens.append(ids)
            offsets.append(tokens.rows - len(ids) + ends)
            if budget.spent:
                break
        written, n_documents = tokens.rows, offsets.rows - 1
    meta = {
        **settings,
        "source_description": source.description,
        "raw_tokens": raw_tokens,
        "raw_vocab": raw_vocab,
        "tokens": total,
        "vocab_size": len(vocab),
        "documents": n_documents,
        # Rows of the source without a single word (empty lines, non-text values).
        "skipped_documents": rows - with_words,
    }
    _write_vocab_and_meta(out, vocab, written, meta, started)


def _write_vocab_and_meta(
    out: Path, vocab: list[tuple[str, int]], written: int, meta: dict, started: float
) -> None:
    """The cache's vocab.json and meta.json, after checking that every counted id was written."""
    if written != meta["tokens"]:
        raise RuntimeError(f"wrote {written} token ids but the vocabulary counts {meta['tokens']}")
    (out / "vocab.json").write_text(
        json.dumps({"words": [w for w, _ in vocab], "counts": [c for _, c in vocab]})
    )
    meta = {**meta, "seconds": round(time.time() - started, 2)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


def _build_with_phrases(
    batches, source, config: DataConfig, out: Path, settings: dict, started: float, *, progress
) -> None:
    """The build of `_build` with phrase passes between reading and the vocabulary.

    Phrases are found on every word of the text, before `data.min_count` drops rare ones (as
    word2phrase and gensim run on the raw text): one pass over the text writes the id of every
    word (a growing word -> id map, the same size as `_build`'s counter) to a scratch token file,
    the passes of research/data/phrases.py rewrite it with phrases joined, and the last pass's
    counts give the vocabulary, from which a final pass writes the cache's ids.
    """
    # A new word gets the next id on first lookup; map() over it keeps the loop in C.
    index: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    raw_tokens = rows = with_words = 0
    budget = _Budget(config.max_tokens)
    scratch = out / "scratch"
    scratch.mkdir()
    with (
        npy.NpyWriter(scratch / "raw.npy", np.int32) as raw,
        npy.NpyWriter(scratch / "raw_offsets.npy", np.int64) as raw_offsets,
    ):
        raw_offsets.append(np.zeros(1, np.int64))
        for batch in batches("reading words"):
            ids: list[int] = []
            ends: list[int] = []
            for document in batch:
                if budget.spent:
                    break
                rows += 1
                before = len(ids)
                for words in budget.words(document):
                    ids.extend(map(index.__getitem__, words))
                if len(ids) > before:
                    ends.append(len(ids))
            with_words += len(ends)
            raw_offsets.append(raw.rows + np.asarray(ends, np.int64))
            raw.append(np.asarray(ids, np.int32))
            raw_tokens += len(ids)
            if budget.spent:
                break
    if raw_tokens == 0:
        raise UserError(
            f"data.source={config.source!r} holds no words (empty files, or no text in column "
            f"{config.text_field!r}); point it at a non-empty corpus"
        )
    found = phrases.detect_phrases(
        np.load(scratch / "raw.npy", mmap_mode="r"),
        np.load(scratch / "raw_offsets.npy"),
        list(index),
        phrases.PhraseSettings.from_data_config(config),
        scratch,
        log=(lambda line: print(line, file=sys.stderr, flush=True)) if progress else None,
    )
    raw_vocab = len(index)
    del index
    # Which phrases each pass found (scored above the threshold), with their scores.
    (out / "phrases.json").write_text(
        json.dumps([{"pass": p + 1, "phrases": found.phrases(p)} for p in range(len(found.passes))])
    )
    counter = Counter({w: int(c) for w, c in zip(found.words, found.counts, strict=True) if c})
    vocab = build_vocab(counter, config.min_count, config.max_vocab)
    if len(vocab) < 2:
        raise UserError(
            f"only {len(vocab)} distinct word(s) occur at least data.min_count={config.min_count} "
            f"times in {raw_tokens} tokens; lower data.min_count or use a larger corpus"
        )
    del counter
    position = {w: i for i, (w, _) in enumerate(vocab)}
    new_id = np.array([position.get(w, -1) for w in found.words], dtype=np.int32)
    total = sum(c for _, c in vocab)
    joined = np.load(found.tokens_path, mmap_mode="r")
    joined_offsets = np.load(found.offsets_path)
    with (
        npy.NpyWriter(out / "tokens.npy", np.int32) as tokens,
        npy.NpyWriter(out / "doc_offsets.npy", np.int64) as offsets,
    ):
        offsets.append(np.zeros(1, np.int64))
        first, n_joined = 0, len(joined_offsets) - 1
        while first < n_joined:  # whole documents, about CHUNK_TOKENS tokens at a time
            end = joined_offsets[first] + phrases.CHUNK_TOKENS
            last = min(max(first + 1, np.searchsorted(joined_offsets, end, "right") - 1), n_joined)
            bounds, first = joined_offsets[first : last + 1], last
            ids = new_id[npy.read_rows(joined, int(bounds[0]), int(bounds[-1]))]
            kept = ids >= 0
            ids = ids[kept]
            # Ends of the documents that keep a word, in the kept ids.
            ends = np.cumsum(kept)[bounds[1:] - bounds[0] - 1]
            nonempty = np.diff(np.concatenate([[0], ends])) > 0
            offsets.append(tokens.rows + ends[nonempty])
            tokens.append(ids)
        written, n_documents = tokens.rows, offsets.rows - 1
    shutil.rmtree(scratch)
    meta = {
        **settings,
        "source_description": source.description,
        "raw_tokens": raw_tokens,
        "raw_vocab": raw_vocab,
        "tokens": total,
        "vocab_size": len(vocab),
        "documents": n_documents,
        "skipped_documents": rows - with_words,
        # What each pass found (research/data/phrases.py: select_phrases, join_pass), and how
        # many of the phrase tokens made the vocabulary.
        "phrase_passes": [p.stats for p in found.passes],
        "phrases_in_vocab": sum(phrases.DELIMITER in w for w, _ in vocab),
    }
    _write_vocab_and_meta(out, vocab, written, meta, started)


def _encode_batch(
    batch: list[str], index: dict[str, int], budget: _Budget
) -> tuple[np.ndarray, np.ndarray]:
    """(in-vocabulary ids of the batch's documents concatenated, end of each non-empty one),
    up to where `budget` runs out."""
    ids: list[int] = []
    ends: list[int] = []
    for document in batch:
        if budget.spent:
            break
        before = len(ids)
        for words in budget.words(document):
            ids.extend(i for i in map(index.get, words) if i is not None)
        if len(ids) > before:
            ends.append(len(ids))
    return np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)


@contextmanager
def _progress_bar(enabled: bool, total: int | None, desc: str):
    """A tqdm bar counting documents (a do-nothing one when progress is off)."""
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=" docs", unit_scale=True, leave=False) as bar:
        yield bar


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished directory into place; if another process won the race, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists():
            raise
