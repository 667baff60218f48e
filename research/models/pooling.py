"""Fixed-shape pooling of token states into spans and segments (sentences, documents).

Every function keeps shapes static (one-hot sums with a static segment bound, n shifted copies
for windows), so a step that pools compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def shift(x: jax.Array, k: int) -> jax.Array:
    """Along axis 1: out[:, i] = x[:, i + k] (k > 0 looks ahead, k < 0 back), zero-filled."""
    if k == 0:
        return x
    pad = [(0, 0)] * x.ndim
    if k > 0:
        pad[1] = (0, k)
        return jnp.pad(x[:, k:], pad)
    pad[1] = (-k, 0)
    return jnp.pad(x[:, :k], pad)


def window_members(maskable: jax.Array, segment_ids: jax.Array, n: int) -> jax.Array:
    """(B, L, n) bool: member [b, i, k] says token i + k belongs to the span starting at i.

    A span is the next n maskable tokens of the start's own segment (sentence): it never crosses
    a sentence boundary or a special token, so it can be shorter than n at a sentence's end.
    """
    members = [shift(maskable, k) & (shift(segment_ids, k) == segment_ids) for k in range(n)]
    return jnp.stack(members, axis=-1) & maskable[..., None]


def window_means(x: jax.Array, members: jax.Array) -> jax.Array:
    """(B, L, D) -> (B, L, D) float32: at each i, the mean of x over the span starting at i."""
    x = x.astype(jnp.float32)
    n = members.shape[-1]
    m = members.astype(jnp.float32)
    total = sum(shift(x, k) * m[..., k, None] for k in range(n))
    return total / jnp.maximum(m.sum(-1), 1.0)[..., None]


def segment_means(
    x: jax.Array, segment_ids: jax.Array, num_segments: int
) -> tuple[jax.Array, jax.Array]:
    """Per-sequence segment means: x (B, L, D), ids (B, L) in [0, S) or -1 (ignored).

    Returns (means (B, S, D) float32, counts (B, S)); a segment with no tokens has mean 0 and
    count 0. One-hot sums keep the shapes static (S is a static bound; ids >= S are ignored).
    """
    onehot = jax.nn.one_hot(segment_ids, num_segments, dtype=jnp.float32)  # -1 -> all zeros
    total = jnp.einsum("bls,bld->bsd", onehot, x.astype(jnp.float32))
    counts = onehot.sum(1)
    return total / jnp.maximum(counts, 1.0)[..., None], counts


def segment_counts(segment_ids: jax.Array, num_segments: int) -> jax.Array:
    """(B, S) float32: tokens per segment id (ids -1 or >= S are not counted)."""
    return jax.nn.one_hot(segment_ids, num_segments, dtype=jnp.float32).sum(1)


def max_segments(length: int) -> int:
    """Static bound on sentences (and documents) per packed sequence: [CLS] then each sentence
    takes at least one token and its [SEP], so there are at most (L - 1) // 2 of them."""
    return max((length - 1) // 2, 1)
