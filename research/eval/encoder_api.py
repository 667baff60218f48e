"""The model side of the contextual evaluators: a text encoder and cosine helpers.

Evaluators of sentences and words in context (sense, STS, retrieval, polysemy, search) need only
two methods of a trained model, so they are written against this Protocol and tested with tiny
fake encoders. ``research.embed.load_model(run_dir)`` turns a trained run into one.

`SentenceEncoder` gives any such encoder sentence-transformers' ``encode`` (the argument names
and return conventions researchers already use, and what MTEB's adapter calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from research.errors import UserError
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


class SentenceEncoder:
    """Mixin: sentence-transformers' `encode` on top of the class's `embed_sentences`.

    A class whose forward pass has a batch shape of its own (the trained encoder compiles one
    program per shape) overrides `_embed_batch`; the default embeds each batch as it comes.
    """

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _embed_batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.embed_sentences(texts)

    def encode(
        self,
        sentences: str | Sequence[str],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: str | None = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> Any:
        """Sentence embeddings as sentence-transformers' `SentenceTransformer.encode` returns them.

        A list of texts gives a float32 (N, D) array, a single string a (D,) vector;
        `convert_to_numpy=False` gives a list of (D,) arrays and `convert_to_tensor=True` a JAX
        array (there is no torch here). `prompt` is prepended to every text;
        `normalize_embeddings` scales each vector to length 1 (a zero vector stays zero);
        `truncate_dim` keeps the first dimensions. Texts go through the model `batch_size` at
        a time; `show_progress_bar` shows a bar over the batches (None = off).
        """
        if prompt_name is not None:
            raise UserError(
                f"prompt_name={prompt_name!r}: this model stores no named prompts; pass the "
                "text itself as prompt=..."
            )
        if output_value != "sentence_embedding":
            raise UserError(
                f"output_value={output_value!r}: encode returns sentence embeddings only; use "
                "embed_tokens(texts) for per-token vectors"
            )
        if precision != "float32":
            raise UserError(f"precision={precision!r}: only float32 embeddings are supported")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if not all(isinstance(t, str) for t in texts):
            raise UserError("encode takes a string or a list of strings")
        if prompt:
            texts = [prompt + t for t in texts]
        batches = range(0, len(texts), batch_size)
        if show_progress_bar:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        parts = [
            check_embeddings(
                self._embed_batch(texts[i : i + batch_size], batch_size),
                len(texts[i : i + batch_size]),
                "texts",
            )
            for i in batches
        ]
        vectors = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        if truncate_dim is not None:
            vectors = vectors[:, :truncate_dim]
        if normalize_embeddings:
            vectors = unit_rows(vectors)
        if convert_to_tensor:
            import jax.numpy as jnp

            return jnp.asarray(vectors[0] if single else vectors)
        if single:
            return vectors[0]
        return vectors if convert_to_numpy else list(vectors)


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
    "SentenceEncoder",
    "Span",
    "TextEncoder",
    "check_embeddings",
    "cosine_matrix",
    "embed_sentences",
    "embed_spans",
    "paired_cosine",
]
