"""The encoder's batches: packed sequences, sentence pairs and the context term's sentences,
drawn by step (batch t comes from default_rng([seed, t])), so the data position of a checkpoint
is its step and a resumed run sees exactly the batches it would have seen."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from research.data import npy
from research.data.sequences import SequenceData
from research.errors import UserError


def world_topics(world_files: dict) -> list[str]:
    """The synthetic world's document topics (its manifest), [] for any other source."""
    if not world_files:
        return []
    return json.loads(Path(world_files["manifest"]).read_text()).get("topics", [])


# Batch entries that hold token ids (counted for tokens_per_sec).
TOKEN_KEYS = ("tokens", "anchors", "positives", "context_anchors", "context_positives")


@dataclasses.dataclass
class SentenceContexts:
    """Per-sentence context ids for the multi-abstraction context term.

    ids (S,) int32: index into `names` of the topic of each sentence's document, -1 when that
    topic is not a context; pools[c]: the sentences whose context is c.
    """

    names: tuple[str, ...]
    ids: np.ndarray
    pools: list[np.ndarray]


def document_topics(data: SequenceData) -> list[str] | None:
    """The topic of each document of `data` (in sentence_documents' numbering), read from the
    synthetic world's documents.jsonl; None when the source has no topics."""
    if not data.world_files:
        return None
    path = Path(data.world_files["corpus"]).with_name("documents.jsonl")
    if not path.exists():
        return None
    topics = []
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            sentences = record.get("sentences") or []
            # The same filter as sequences.iter_document_sentences: empty documents are skipped.
            if any(isinstance(x, str) and x.strip() for x in sentences):
                topics.append(record.get("topic"))
    if len(topics) != data.meta.get("documents"):
        raise UserError(
            f"{path} has {len(topics)} documents but the token cache has "
            f"{data.meta.get('documents')}; delete {data.path} to rebuild it"
        )
    return topics


def sentence_contexts(data: SequenceData, names: tuple[str, ...]) -> SentenceContexts:
    """Each sentence's context (its document's topic, when that topic is one of `names`)."""
    topics = document_topics(data)
    if topics is None:
        raise UserError(
            f"objective.contexts={list(names)} needs a topic per document, which only the "
            "synthetic world provides (documents.jsonl); set objective.context_weight=0"
        )
    missing = sorted(set(names) - set(topics))
    if missing:
        raise UserError(
            f"objective.contexts names {', '.join(missing)}, not a document topic of the data "
            f"(topics: {', '.join(sorted({t for t in topics if t}))})"
        )
    index = {name: i for i, name in enumerate(names)}
    per_document = np.array([index.get(t, -1) for t in topics], np.int32)
    ids = per_document[np.asarray(data.sentence_documents)]
    return SentenceContexts(names, ids, [np.flatnonzero(ids == c) for c in range(len(names))])


def context_batch(
    rng: np.random.Generator, data: SequenceData, contexts: SentenceContexts, size: int
) -> dict[str, np.ndarray]:
    """Anchors, positives and contexts for objectives/multilevel.context_info_nce.

    Each anchor is a sentence whose document's topic t is a context; it is read in context t and
    its positive is another sentence of a topic-t document: its neighbour in its own document
    (the next sentence, else the previous one, else a random sentence of topic t).

    Why the neighbour: topics label documents, not sentences, and in the synthetic world about
    three quarters of a document's sentences are topic-free background. Two random sentences of
    topic-t documents then share nothing but the label in most pairs, while a neighbour shares
    the paragraph: a topical anchor's neighbour is usually topical too, so the context term gets
    a signal to learn from (`tests/test_context_spaces.py` and `benchmarks/context_spaces.py`
    measure what the trained spaces do).
    """
    known = np.flatnonzero(contexts.ids >= 0)
    rows = np.sort(rng.choice(known, size, replace=len(known) < size))
    topics = contexts.ids[rows]
    positives = rows.copy()
    docs = data.sentence_documents
    for i, r in enumerate(rows):
        if r + 1 < len(docs) and docs[r + 1] == docs[r]:
            positives[i] = r + 1
        elif r > 0 and docs[r - 1] == docs[r]:
            positives[i] = r - 1
        elif len(contexts.pools[topics[i]]) > 1:  # a one-sentence document: another of topic t
            pool = contexts.pools[topics[i]]
            k = rng.integers(len(pool) - 1)
            positives[i] = pool[k + (k >= np.searchsorted(pool, r))]
    return {
        "context_anchors": npy.take_rows(data.sentence_tokens, rows),
        "context_positives": npy.take_rows(data.sentence_tokens, positives),
        "context_ids": topics.astype(np.int32),
        "context_positive_topics": contexts.ids[positives].astype(np.int32),
    }


def batch_for_step(
    data: SequenceData,
    config,
    step: int,
    anchors: np.ndarray,
    fields: set[str],
    contexts: SentenceContexts | None = None,
) -> dict[str, np.ndarray]:
    """The host batch of step `step` holding `fields`: a pure function of (data, seed, step).

    Groups are drawn in a fixed order from one generator: packed rows (`tokens`, and their
    per-token `sentence_ids` and `document_ids`; train.batch_size rows), then sentence pairs
    (`anchors`, `positives`; train.sentence_batch_size), then with `contexts` the context term's
    sentences. Objectives that read the same group share its rows (equal data), and adding a
    group that is drawn later leaves the earlier groups unchanged.
    """
    rng = np.random.default_rng([config.train.seed, step])
    batch = {}
    if fields & {"tokens", "sentence_ids", "document_ids"}:
        n = len(data.packed_tokens)
        rows = np.sort(rng.choice(n, config.train.batch_size, replace=n < config.train.batch_size))
        batch["tokens"] = npy.take_rows(data.packed_tokens, rows)
        if "sentence_ids" in fields:
            batch["sentence_ids"] = npy.take_rows(data.packed_sentences, rows)
        if "document_ids" in fields:
            batch["document_ids"] = npy.take_rows(data.packed_documents, rows)
    if "anchors" in fields:
        neighbours = config.objective.positives == "neighbour"
        pool = anchors if neighbours else np.arange(len(data.sentence_tokens))
        size = config.train.sentence_batch_size
        rows = np.sort(rng.choice(pool, size, replace=len(pool) < size))
        batch["anchors"] = npy.take_rows(data.sentence_tokens, rows)
        if neighbours:
            batch["positives"] = npy.take_rows(data.sentence_tokens, rows + 1)
    if "context_ids" in fields and contexts is not None:
        batch.update(context_batch(rng, data, contexts, config.train.sentence_batch_size))
    return batch
