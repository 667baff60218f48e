"""The non-neural and shallow baselines the research story starts from, as TextEncoders.

- `TfidfEncoder`: bag of words. A text is its TF-IDF vector over the corpus vocabulary (IDF from
  the training documents); a word in context is represented by its *sentence's* TF-IDF vector,
  the classic "bag of context words" — it knows the topic, not the word.
- `AveragedWordVectors`: a text is the mean of its words' word2vec vectors; a word in context is
  its own static vector, the same in every sentence (so it cannot separate senses by design).

Both implement `embed_sentences` and `embed_spans` (research/eval/encoder_api.py), so the same
evaluators score them beside the trained encoders.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from research.data.text import normalise_words
from research.eval.vectors import WordVectors


class TfidfEncoder:
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


class AveragedWordVectors:
    def __init__(self, vectors: WordVectors):
        self.vectors = vectors
        self.unit = vectors.unit()

    def _vector(self, word: str) -> np.ndarray | None:
        index = self.vectors.lookup(word)
        return None if index is None else self.unit[index]

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.dim), np.float32)
        for row, text in enumerate(texts):
            found = [v for v in map(self._vector, normalise_words(text)) if v is not None]
            if found:
                out[row] = np.mean(found, axis=0)
        return out

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.dim), np.float32)
        for row, (text, (start, end)) in enumerate(zip(texts, spans, strict=True)):
            words = normalise_words(text[start:end])
            found = [v for v in map(self._vector, words) if v is not None]
            if found:
                out[row] = np.mean(found, axis=0)
        return out
