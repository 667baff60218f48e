"""The model side of the contextual evaluators: a text encoder and cosine helpers.

Evaluators of sentences and words in context (sense, STS, retrieval, polysemy, search) need only
two methods of a trained model, so they are written against this Protocol and tested with tiny
fake encoders. ``research.embed.load_encoder(run_dir)`` turns a trained run into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from research.eval.vectors import unit_rows

Span = tuple[int, int]


@runtime_checkable
class TextEncoder(Protocol):
    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32: one vector per text."""
        ...

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        """(N, D) float32: the contextual vector of the word at characters [start, end)."""
        ...


def check_embeddings(matrix: object, n: int, what: str) -> np.ndarray:
    """The encoder's output as a float32 (n, D) array; a clear error if it has another shape."""
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(
            f"the encoder returned an array of shape {array.shape} for {n} {what}; "
            f"expected ({n}, D)"
        )
    return array


def embed_sentences(model: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """(len(texts), D) vectors; each distinct text is embedded once."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = check_embeddings(model.embed_sentences(distinct), len(distinct), "texts")
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[t] for t in texts]]


def embed_spans(model: TextEncoder, texts: Sequence[str], spans: Sequence[Span]) -> np.ndarray:
    """(len(texts), D) contextual word vectors; each distinct (text, span) is embedded once."""
    if len(texts) != len(spans):
        raise ValueError(f"{len(texts)} texts but {len(spans)} spans")
    keys = [(t, (int(s), int(e))) for t, (s, e) in zip(texts, spans, strict=True)]
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = check_embeddings(
        model.embed_spans([t for t, _ in distinct], [s for _, s in distinct]),
        len(distinct),
        "spans",
    )
    row = {key: i for i, key in enumerate(distinct)}
    return vectors[[row[k] for k in keys]]


def paired_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of row i of `a` with row i of `b`; a zero vector has cosine 0 with everything."""
    return np.sum(unit_rows(np.asarray(a, np.float32)) * unit_rows(np.asarray(b, np.float32)), 1)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) cosines between every row of `a` and every row of `b`."""
    return unit_rows(np.asarray(a, np.float32)) @ unit_rows(np.asarray(b, np.float32)).T


__all__ = [
    "Span",
    "TextEncoder",
    "check_embeddings",
    "cosine_matrix",
    "embed_sentences",
    "embed_spans",
    "paired_cosine",
]
