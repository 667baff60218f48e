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
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.data import text
from research.data import tokenizer as tok
from research.data.corpus import _mkdir, _replace_dir, cache_root, resolve_data_source
from research.errors import UserError

SEQUENCES_FORMAT_VERSION = 2  # 2: deterministic tokeniser ids
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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


def split_sentences(document: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(document) if s.strip()]


def iter_document_sentences(
    source: text.TextSource, text_field: str, split: str
) -> Iterator[list[str]]:
    """Each document as a list of sentences; a list-valued field is taken as given."""
    import datasets

    dataset = text._load(source, split)
    if text_field not in dataset.column_names:
        raise UserError(
            f"{source.description}: no column {text_field!r} (columns: "
            f"{', '.join(dataset.column_names)}); set data.text_field to the text column"
        )
    del datasets
    for batch in dataset.select_columns([text_field]).iter(batch_size=2048):
        for value in batch[text_field]:
            if isinstance(value, list):
                sentences = [s for s in value if isinstance(s, str) and s.strip()]
            elif isinstance(value, str):
                sentences = split_sentences(value)
            else:
                sentences = []
            if sentences:
                yield sentences


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
    data_config, *, max_len: int, sentence_len: int, vocab_size: int, progress: bool = True
) -> SequenceData:
    source, field, world_files = encoder_source(data_config)
    settings = {
        "format": SEQUENCES_FORMAT_VERSION,
        "source": source.fingerprint(),
        "text_field": field,
        "split": data_config.split,
        "max_len": max_len,
        "sentence_len": sentence_len,
        "vocab_size": vocab_size,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_root(data_config) / "sequences" / key
    if not (directory / "meta.json").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(directory.parent)))
        try:
            _build(source, field, data_config.split, tmp, settings, progress=progress)
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


def _build(source, field: str, split: str, out: Path, settings: dict, *, progress: bool) -> None:
    started = time.time()
    max_len, sentence_len = settings["max_len"], settings["sentence_len"]

    def all_sentences():
        for sentences in iter_document_sentences(source, field, split):
            yield from sentences

    tokenizer = tok.train_tokenizer(all_sentences(), settings["vocab_size"], out / "tokenizer.json")
    ids_per_doc: list[list[np.ndarray]] = []
    for sentences in _progress(iter_document_sentences(source, field, split), progress):
        encoded = tokenizer.encode_batch(sentences, add_special_tokens=False)
        ids_per_doc.append([np.asarray(e.ids, np.int32) for e in encoded if e.ids])
    ids_per_doc = [doc for doc in ids_per_doc if doc]
    n_sentences = sum(len(doc) for doc in ids_per_doc)
    if n_sentences == 0:
        raise UserError(f"{source.description} holds no text to train an encoder on")

    # Sentence table: every sentence alone.
    sentence_tokens = np.lib.format.open_memmap(
        out / "sentence_tokens.npy", mode="w+", dtype=np.int32, shape=(n_sentences, sentence_len)
    )
    sentence_documents = np.empty(n_sentences, np.int64)
    truncated_sentences = 0
    row = 0
    for doc_index, doc in enumerate(ids_per_doc):
        for ids in doc:
            body = ids[: sentence_len - 2]
            truncated_sentences += len(ids) > sentence_len - 2
            sentence_tokens[row] = tok.PAD
            sentence_tokens[row, : len(body) + 2] = np.concatenate([[tok.CLS], body, [tok.SEP]])
            sentence_documents[row] = doc_index
            row += 1
    sentence_tokens.flush()
    np.save(out / "sentence_documents.npy", sentence_documents)

    # Packed sequences: greedy, whole sentences, [CLS] first and [SEP] after each sentence.
    rows_tokens, rows_sentences, rows_documents = [], [], []
    current = _Packer(max_len)
    truncated_packed = 0
    for doc in ids_per_doc:
        current.new_document()
        for ids in doc:
            body = ids[: max_len - 2]
            truncated_packed += len(ids) > max_len - 2
            if not current.fits(len(body)):
                rows_tokens.append(current.tokens)
                rows_sentences.append(current.sentences)
                rows_documents.append(current.documents)
                current = _Packer(max_len)
                current.new_document()
            current.add(body)
    if current.length > 1:
        rows_tokens.append(current.tokens)
        rows_sentences.append(current.sentences)
        rows_documents.append(current.documents)
    np.save(out / "packed_tokens.npy", np.stack(rows_tokens))
    np.save(out / "packed_sentences.npy", np.stack(rows_sentences))
    np.save(out / "packed_documents.npy", np.stack(rows_documents))
    filled = float(np.mean(np.stack(rows_tokens) != tok.PAD))
    meta = {
        **settings,
        "source_description": source.description,
        "documents": len(ids_per_doc),
        "sentences": n_sentences,
        "sequences": len(rows_tokens),
        "tokens": int(sum(len(ids) for doc in ids_per_doc for ids in doc)),
        "packed_fill": round(filled, 4),
        "truncated_sentences_in_table": int(truncated_sentences),
        "truncated_sentences_in_packing": int(truncated_packed),
        "seconds": round(time.time() - started, 2),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


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


def _progress(iterable, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc="tokenising", unit=" docs", leave=False)
