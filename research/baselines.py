"""The non-neural and shallow baselines the research story starts from, as TextEncoders.

- `TfidfEncoder`: bag of words. A text is its TF-IDF vector over the corpus vocabulary (IDF from
  the training documents); a word in context is represented by its *sentence's* TF-IDF vector,
  the classic "bag of context words" — it knows the topic, not the word.
- `AveragedWordVectors`: a text is the mean of its words' word2vec vectors, plain or SIF-weighted
  with the first principal component removed (Arora et al. 2017); a word in context is its own
  static vector, the same in every sentence (so it cannot separate senses by design).

Both implement `embed_sentences` and `embed_spans` (research/eval/encoder_api.py), so the same
evaluators score them beside the trained encoders, and sentence-transformers' `encode`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from research.data.text import normalise_words
from research.errors import UserError
from research.eval.encoder_api import SentenceEncoder
from research.eval.vectors import WordVectors


class TfidfEncoder(SentenceEncoder):
    def __init__(self, documents: Iterable[str], *, min_count: int = 1, max_features: int = 20000):
        doc_freq: Counter = Counter()
        n_docs = 0
        for document in documents:
            doc_freq.update(set(normalise_words(document)))
            n_docs += 1
        kept = [w for w, c in doc_freq.most_common(max_features) if c >= min_count]
        self.index = {w: i for i, w in enumerate(kept)}
        # Smoothed IDF (as scikit-learn's default): log((1 + n) / (1 + df)) + 1.
        self.idf = np.array(
            [math.log((1 + n_docs) / (1 + doc_freq[w])) + 1.0 for w in kept], np.float32
        )

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.index)), np.float32)
        for row, text in enumerate(texts):
            for word, count in Counter(normalise_words(text)).items():
                column = self.index.get(word)
                if column is not None:
                    out[row, column] = count * self.idf[column]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        return self.embed_sentences(texts)


class AveragedWordVectors(SentenceEncoder):
    """A text = the (weighted) mean of its words' word2vec vectors, optionally with the first
    principal component(s) removed.

    `weighting="uniform"` is plain averaging; `weighting="sif"` weighs a word by a / (a + p(w))
    with p(w) its relative frequency in the training corpus (`vectors.counts`), the smooth
    inverse frequency of Arora, Liang & Ma (2017). `remove_components=k` then subtracts each
    vector's projection on the top k singular vectors (uncentred, as the paper's code) of the
    weighted averages of `reference_texts`; without reference texts, call `fit_components` on
    the texts to be embedded (the paper's protocol fits them on the evaluation sentences).
    `unit=True` averages unit-length word vectors (this project's default); False the raw rows.
    """

    def __init__(
        self,
        vectors: WordVectors,
        *,
        weighting: str = "uniform",
        a: float = 1e-3,
        remove_components: int = 0,
        reference_texts: Iterable[str] | None = None,
        unit: bool = True,
    ):
        if weighting not in ("uniform", "sif"):
            raise UserError(f"weighting must be 'uniform' or 'sif', got {weighting!r}")
        self.vectors = vectors
        self.rows = vectors.unit() if unit else np.asarray(vectors.vectors, np.float32)
        self.weights = np.ones(len(vectors), np.float32)
        if weighting == "sif":
            if vectors.counts is None or int(np.sum(vectors.counts)) <= 0:
                raise UserError(
                    "SIF weighting needs the training corpus's word counts; use the vectors of "
                    "a word2vec run (research.train.word2vec.fit), not a bare vectors.txt"
                )
            if not a > 0:
                raise UserError(f"SIF's a must be > 0 (the paper uses 1e-3), got {a!r}")
            frequency = vectors.counts / float(np.sum(vectors.counts))
            self.weights = (a / (a + frequency)).astype(np.float32)
        self.remove_components = int(remove_components)
        self.components = np.zeros((0, vectors.dim), np.float32)
        if self.remove_components and reference_texts is not None:
            self.fit_components(list(reference_texts))

    def fit_components(self, texts: list[str]) -> None:
        """The top `remove_components` right singular vectors of the texts' weighted means."""
        if not self.remove_components:
            return
        averages = self._averages([normalise_words(t) for t in texts])
        averages = averages[np.any(averages != 0, axis=1)]
        if len(averages) < self.remove_components:
            raise UserError(
                f"{len(averages)} texts with known words; at least {self.remove_components} "
                f"needed to fit the principal component(s)"
            )
        _, _, vt = np.linalg.svd(averages.astype(np.float64), full_matrices=False)
        self.components = vt[: self.remove_components].astype(np.float32)

    def _averages(self, texts_words: list[list[str]]) -> np.ndarray:
        out = np.zeros((len(texts_words), self.vectors.dim), np.float32)
        for row, words in enumerate(texts_words):
            found = [i for i in map(self.vectors.lookup, words) if i is not None]
            if found:
                out[row] = self.weights[found] @ self.rows[found] / len(found)
        return out

    def _embed(self, texts_words: list[list[str]]) -> np.ndarray:
        if self.remove_components and not len(self.components):
            raise UserError(
                "principal-component removal is on but no component was fitted; pass "
                "reference_texts or call fit_components first"
            )
        out = self._averages(texts_words)
        if len(self.components):
            out = out - (out @ self.components.T) @ self.components
        return out

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        return self._embed([normalise_words(text) for text in texts])

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        return self._embed(
            [
                normalise_words(text[start:end])
                for text, (start, end) in zip(texts, spans, strict=True)
            ]
        )
