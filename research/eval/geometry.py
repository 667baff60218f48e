"""Alignment and uniformity of sentence embeddings (Wang & Isola 2020), as SimCSE reports them.

Both read L2-normalised vectors; lower is better for both.
* alignment = E ||f(x) - f(y)||² over positive pairs: how close paraphrases land;
* uniformity = log E exp(-2 ||f(x) - f(y)||²) over all pairs of distinct sentences: how evenly
  the embeddings spread over the sphere (an anisotropic space, every vector in a narrow cone,
  scores near 0; the uniform sphere in d dimensions tends to about -4 for large d).
SimCSE (Gao et al. 2021, section 5) takes STS-B pairs scored above 4 of 5 as the positives and
every STS-B sentence for uniformity; `positive_pairs` generalises the cut to other score scales.
"""

from __future__ import annotations

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared distance between row i of `a` and row i of `b` (both normalised)."""
    if len(a) == 0:
        return float("nan")
    return float(np.mean(np.sum((_normalise(a) - _normalise(b)) ** 2, axis=-1)))


def uniformity(x: np.ndarray, max_items: int = 4000, seed: int = 0) -> float:
    """log of the mean Gaussian potential exp(-2 ||u - v||²) over pairs of distinct rows
    (at most `max_items` rows, sampled with `seed`, so its cost stays bounded)."""
    x = _normalise(x)
    if len(x) > max_items:
        x = x[np.random.default_rng(seed).choice(len(x), max_items, replace=False)]
    n = len(x)
    if n < 2:
        return float("nan")
    squared = np.maximum(2.0 - 2.0 * (x @ x.T), 0.0)  # ||u - v||² of unit vectors
    upper = np.triu_indices(n, k=1)
    return float(np.log(np.mean(np.exp(-2.0 * squared[upper]))))


def positive_pairs(scores: np.ndarray) -> np.ndarray:
    """Pairs in the top fifth of the score range: STS-B's 0-5 scale gives scores >= 4."""
    low, high = float(np.min(scores)), float(np.max(scores))
    return np.flatnonzero(scores >= high - 0.2 * (high - low))
