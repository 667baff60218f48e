"""Encoder data: a trained tokeniser, packed fixed-length sequences and a sentence table.

Built once per (source, settings) and cached beside the word caches as memory-mapped arrays:
  tokenizer.json          WordPiece vocabulary (research/data/tokenizer.py)
  packed_tokens.npy       (N, L) int32: [CLS] s1 [SEP] s2 [SEP] ... [PAD]...
  packed_sentences.npy    (N, L) int32: index of the sentence within its sequence, -1 on specials
  packed_documents.npy    (N, L) int32: index of the document within its sequence, -1 on specials
  sentence_tokens.npy     (S, Ls) int32: every sentence alone, [CLS] s [SEP] padded
  sentence_documents.npy  (S,) int64 global document index of each sentence
  meta.json
Sentences are never split across sequences (so sentence-level targets see whole sentences);
sentences longer than a sequence are truncated and counted in meta.json. Sequences may hold
several documents; the document ids say where each begins (the multi-level objectives use them).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.data import corpus, npy, sentences, text
from research.data import tokenizer as tok
from research.data.corpus import _mkdir, _replace_dir, cache_root, resolve_data_source
from research.errors import UserError

SEQUENCES_FORMAT_VERSION = 3  # 2: deterministic tokeniser ids; 3: deterministic vocabulary
CHUNK_DOCUMENTS = 1024  # documents tokenised and written per chunk while building a cache


@dataclass
class SequenceData:
    path: Path
    tokenizer: object
    packed_tokens: np.ndarray
    packed_sentences: np.ndarray
    packed_documents: np.ndarray
    sentence_tokens: np.ndarray
    sentence_documents: np.ndarray
    meta: dict
    world_files: dict

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def neighbour_anchors(self) -> np.ndarray:
        """Sentences whose next sentence is in the same document (positives for cpt-style)."""
        docs = self.sentence_documents
        return np.flatnonzero(docs[:-1] == docs[1:]).astype(np.int64)


def document_sentences(value: object, split: bool = True) -> list[str]:
    """A document's sentences: a list-valued field as given (strings only), a string split
    (research/data/sentences.py), or with split=False the string as one sentence (a corpus of
    one sentence per row, such as SimCSE's wiki1m)."""
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s.strip()]
    if isinstance(value, str):
        if not split:
            return [value.strip()] if value.strip() else []
        return sentences.split_sentences(value)
    return []


def iter_document_sentences(
    source: text.TextSource | text.PreparedText,
    text_field: str,
    split: str = "train",
    batch_size: int = CHUNK_DOCUMENTS,
    *,
    split_rows: bool = True,
) -> Iterator[list[list[str]]]:
    """Batches of up to `batch_size` documents, each a list of sentences; empty ones skipped.
    split_rows=False: every row is one sentence (data.sentences=rows)."""
    data = source if isinstance(source, text.PreparedText) else text.open_text(source, split)
    text.check_text_column(data, text_field, sentence_lists=True)
    for batch in text.iter_column(data, text_field, batch_size):
        documents = [document_sentences(value, split_rows) for value in batch]
        yield [sentences for sentences in documents if sentences]


def encoder_source(data_config) -> tuple[text.TextSource, str, dict]:
    """The text source for the encoder: the synthetic world's documents.jsonl (which keeps
    sentence boundaries) or the configured source."""
    source, world_files = resolve_data_source(data_config)
    if world_files:
        documents = Path(world_files["corpus"]).with_name("documents.jsonl")
        if documents.exists():
            source = text.TextSource(
                builder="json", data_files=(str(documents),), description=source.description
            )
            return source, "sentences", world_files
    return source, data_config.text_field, world_files


def prepare_sequences(
    data_config,
    *,
    max_len: int,
    sentence_len: int,
    vocab_size: int,
    progress: bool = True,
    chunk_documents: int = CHUNK_DOCUMENTS,
) -> SequenceData:
    """Load the cached sequences for these settings, building them first if needed.

    The build streams: `chunk_documents` documents at a time are tokenised, and their sentence
    rows and packed sequences appended to disk, so memory holds one chunk, never the corpus.
    """
    source, field, world_files = encoder_source(data_config)
    given = getattr(data_config, "tokenizer", "")  # a checkpoint's tokeniser, not trained here
    if given:
        given = Path(given).expanduser()
        tok.load_tokenizer(given)  # refuse a file that is not a strata tokeniser before building
        vocab_size = 0  # not used: the given tokeniser's vocabulary is the vocabulary
    settings = {
        "format": SEQUENCES_FORMAT_VERSION,
        "source": source.fingerprint(),
        "text_field": field,
        "split": data_config.split,
        "sentence_mode": data_config.sentences,
        "splitter": sentences.SPLITTER_VERSION,
        "max_len": max_len,
        "sentence_len": sentence_len,
        "vocab_size": vocab_size,
        **({"tokenizer": hashlib.sha256(given.read_bytes()).hexdigest()} if given else {}),
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_root(data_config) / "sequences" / key
    if not (directory / "meta.json").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(directory.parent)))
        try:
            _build(
                source,
                field,
                data_config.split,
                tmp,
                settings,
                progress=progress,
                chunk=chunk_documents,
                tokenizer_file=given or None,
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace_dir(tmp, directory)
    return load_sequences(directory, world_files)


def load_sequences(directory: Path, world_files: dict | None = None) -> SequenceData:
    def load(name):
        return np.load(directory / name, mmap_mode="r")

    return SequenceData(
        path=directory,
        tokenizer=tok.load_tokenizer(directory / "tokenizer.json"),
        packed_tokens=load("packed_tokens.npy"),
        packed_sentences=load("packed_sentences.npy"),
        packed_documents=load("packed_documents.npy"),
        sentence_tokens=load("sentence_tokens.npy"),
        sentence_documents=load("sentence_documents.npy"),
        meta=json.loads((directory / "meta.json").read_text()),
        world_files=world_files or {},
    )


def _build(
    source,
    field: str,
    split: str,
    out: Path,
    settings: dict,
    *,
    progress: bool,
    chunk: int,
    tokenizer_file: Path | None = None,
) -> None:
    started = time.time()
    max_len, sentence_len = settings["max_len"], settings["sentence_len"]
    split_rows = settings["sentence_mode"] == "split"
    prepared = text.open_text(source, split)

    def all_sentences():
        batches = iter_document_sentences(prepared, field, batch_size=chunk, split_rows=split_rows)
        for batch in batches:
            for document in batch:
                yield from document

    if tokenizer_file is None:
        tokenizer = tok.train_tokenizer(
            all_sentences(), settings["vocab_size"], out / "tokenizer.json"
        )
    else:
        shutil.copy(tokenizer_file, out / "tokenizer.json")
        # The checkpoint's own vocabulary order travels with its tokeniser, for export.
        for extra in tok.TOKENIZER_COMPANIONS:
            if (tokenizer_file.parent / extra).is_file():
                shutil.copy(tokenizer_file.parent / extra, out / extra)
        tokenizer = tok.load_tokenizer(out / "tokenizer.json")
    counts = dict.fromkeys(
        ["rows", "documents", "sentences", "tokens", "truncated_table", "truncated_packed"], 0
    )
    with (
        npy.NpyWriter(out / "sentence_tokens.npy", np.int32, (sentence_len,)) as table,
        npy.NpyWriter(out / "sentence_documents.npy", np.int64) as table_documents,
        _PackedWriter(out, max_len) as packed,
        corpus._progress_bar(progress, prepared.num_rows, "tokenising") as bar,
    ):
        text.check_text_column(prepared, field, sentence_lists=True)
        for batch in text.iter_column(prepared, field, chunk):
            bar.update(len(batch))
            counts["rows"] += len(batch)
            documents = _encode_documents(
                tokenizer, [document_sentences(v, split_rows) for v in batch]
            )
            rows, truncated = sentence_table(documents, sentence_len)
            table.append(rows)
            first = counts["documents"]
            table_documents.append(
                np.repeat(np.arange(first, first + len(documents)), [len(d) for d in documents])
            )
            counts["truncated_table"] += truncated
            counts["documents"] += len(documents)
            counts["sentences"] += len(rows)
            counts["tokens"] += sum(len(ids) for doc in documents for ids in doc)
            for doc in documents:
                counts["truncated_packed"] += packed.add_document(doc)
            packed.flush(final=False)
        packed.flush(final=True)
        if counts["sentences"] == 0:
            raise UserError(f"{source.description} holds no text to train an encoder on")
    meta = {
        **settings,
        "source_description": source.description,
        "documents": counts["documents"],
        # Rows of the source without a sentence that tokenises to anything (empty, not text).
        "skipped_documents": counts["rows"] - counts["documents"],
        "sentences": counts["sentences"],
        "sequences": packed.rows,
        "tokens": counts["tokens"],
        "packed_fill": round(packed.filled / (packed.rows * max_len), 4),
        "truncated_sentences_in_table": counts["truncated_table"],
        "truncated_sentences_in_packing": counts["truncated_packed"],
        "seconds": round(time.time() - started, 2),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


def _encode_documents(tokenizer, documents: list[list[str]]) -> list[list[np.ndarray]]:
    """Each document's sentences as id arrays; sentences and documents left empty dropped."""
    documents = [doc for doc in documents if doc]
    sentences = [s for doc in documents for s in doc]
    encoded = tokenizer.encode_batch(sentences, add_special_tokens=False) if sentences else []
    out, position = [], 0
    for doc in documents:
        ids = [np.asarray(e.ids, np.int32) for e in encoded[position : position + len(doc)]]
        position += len(doc)
        ids = [x for x in ids if len(x)]
        if ids:
            out.append(ids)
    return out


def sentence_table(documents: list[list[np.ndarray]], sentence_len: int) -> tuple[np.ndarray, int]:
    """Rows [CLS] s [SEP] [PAD]... of every sentence (truncated to fit), and how many were cut."""
    sentences = [ids for doc in documents for ids in doc]
    rows = np.full((len(sentences), sentence_len), tok.PAD, np.int32)
    truncated = 0
    for row, ids in enumerate(sentences):
        body = ids[: sentence_len - 2]
        truncated += len(ids) > sentence_len - 2
        rows[row, 0] = tok.CLS
        rows[row, 1 : len(body) + 1] = body
        rows[row, len(body) + 1] = tok.SEP
    return rows, truncated


class _PackedWriter:
    """Greedy packing of whole sentences into rows, appended to the three packed_*.npy files.

    [CLS] first and [SEP] after each sentence; a sentence that does not fit starts a new row.
    The row being filled carries over from one chunk of documents to the next.
    """

    BUFFER_ROWS = 1024

    def __init__(self, out: Path, max_len: int):
        self.max_len = max_len
        self.writers = [
            npy.NpyWriter(out / f"packed_{name}.npy", np.int32, (max_len,))
            for name in ("tokens", "sentences", "documents")
        ]
        self.current = _Packer(max_len)
        self.done: list[_Packer] = []
        self.filled = 0  # non-padding positions written

    @property
    def rows(self) -> int:
        return self.writers[0].rows

    def add_document(self, doc: list[np.ndarray]) -> int:
        """Pack one document's sentences; returns how many were truncated to fit a row."""
        truncated = 0
        self.current.new_document()
        for ids in doc:
            body = ids[: self.max_len - 2]
            truncated += len(ids) > self.max_len - 2
            if not self.current.fits(len(body)):
                self.done.append(self.current)
                self.current = _Packer(self.max_len)
                self.current.new_document()
            self.current.add(body)
        return truncated

    def flush(self, *, final: bool) -> None:
        """Write the finished rows once enough are buffered; `final`: all, the last one too."""
        if final and self.current.length > 1:
            self.done.append(self.current)
            self.current = _Packer(self.max_len)
        if not self.done or (not final and len(self.done) < self.BUFFER_ROWS):
            return
        for writer, name in zip(self.writers, ("tokens", "sentences", "documents"), strict=True):
            rows = np.stack([getattr(p, name) for p in self.done])
            writer.append(rows)
            if name == "tokens":
                self.filled += int(np.count_nonzero(rows != tok.PAD))
        self.done = []

    def __enter__(self) -> _PackedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers:
            writer.close()


class _Packer:
    """One sequence being filled: tokens plus per-token sentence and document indices."""

    def __init__(self, max_len: int):
        self.tokens = np.full(max_len, tok.PAD, np.int32)
        self.sentences = np.full(max_len, -1, np.int32)
        self.documents = np.full(max_len, -1, np.int32)
        self.tokens[0] = tok.CLS
        self.length = 1
        self.sentence = -1
        self.document = -1

    def new_document(self) -> None:
        self.document += 1

    def fits(self, n: int) -> bool:
        return self.length + n + 1 <= len(self.tokens) or self.length == 1

    def add(self, ids: np.ndarray) -> None:
        self.sentence += 1
        self.document = max(self.document, 0)
        end = self.length + len(ids)
        self.tokens[self.length : end] = ids
        self.sentences[self.length : end] = self.sentence
        self.documents[self.length : end] = self.document
        self.tokens[end] = tok.SEP
        self.length = end + 1
