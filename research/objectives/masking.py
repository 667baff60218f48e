"""Span masking for the multi-abstraction objective (token masking for MLM is in mlm.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from research.models.pooling import shift, window_members


def mask_spans(
    key: jax.Array,
    tokens: jax.Array,
    maskable: jax.Array,
    segment_ids: jax.Array,
    *,
    mask_id: int,
    vocab_size: int,
    rate: float,
    span_length: int,
    random_rate: float = 0.1,
    keep_rate: float = 0.1,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Span masking. Returns (inputs, masked (B, L) bool, starts (B, L) bool, members (B, L, n)).

    Each maskable token starts a span independently with probability p = 1 - (1 - rate)^(1/n),
    so a token away from sentence ends is covered by at least one of the n spans that could
    reach it with probability `rate` (spans may overlap and merge; data2vec and SpanBERT-style
    geometric spans are alternatives). Covered tokens become a random token with probability
    `random_rate`, stay unchanged with `keep_rate`, else [MASK], drawn per token (BERT's
    80/10/10 by default; the multi-abstraction objective masks all of them, data2vec-style, so
    no prediction can read the token it predicts).
    """
    n = span_length
    start_key, kind_key, random_key = jax.random.split(key, 3)
    p = 1.0 - (1.0 - rate) ** (1.0 / n)
    starts = maskable & jax.random.bernoulli(start_key, p, tokens.shape)
    members = window_members(maskable, segment_ids, n)
    covered = members & starts[..., None]
    masked = jnp.zeros_like(maskable)
    for k in range(n):
        masked = masked | shift(covered[..., k], -k)
    kind = jax.random.uniform(kind_key, tokens.shape)
    random_tokens = jax.random.randint(random_key, tokens.shape, 0, vocab_size, tokens.dtype)
    to_mask = 1.0 - random_rate - keep_rate
    inputs = jnp.where(masked & (kind < to_mask), jnp.asarray(mask_id, tokens.dtype), tokens)
    is_random = masked & (kind >= to_mask) & (kind < to_mask + random_rate)
    inputs = jnp.where(is_random, random_tokens, inputs)
    return inputs, masked, starts, members


def mask_sentences(
    key: jax.Array, sentence_ids: jax.Array, rate: float, num_segments: int
) -> jax.Array:
    """(B, L) bool: the tokens of whole sentences withheld from the student, each sentence of
    each sequence chosen independently with probability `rate` (ids -1: never)."""
    chosen = jax.random.bernoulli(key, rate, (sentence_ids.shape[0], num_segments))
    index = jnp.clip(sentence_ids, 0, num_segments - 1)
    return jnp.take_along_axis(chosen, index, axis=1) & (sentence_ids >= 0)
