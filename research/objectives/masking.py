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
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Span masking. Returns (inputs, masked (B, L) bool, starts (B, L) bool, members (B, L, n)).

    Each maskable token starts a span independently with probability p = 1 - (1 - rate)^(1/n),
    so a token away from sentence ends is covered by at least one of the n spans that could
    reach it with probability `rate` (spans may overlap and merge; data2vec and SpanBERT-style
    geometric spans are alternatives). Covered tokens are replaced as mask_tokens does: [MASK]
    80%, a random token 10%, unchanged 10%, drawn per token.
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
    inputs = jnp.where(masked & (kind < 0.8), jnp.asarray(mask_id, tokens.dtype), tokens)
    inputs = jnp.where(masked & (kind >= 0.8) & (kind < 0.9), random_tokens, inputs)
    return inputs, masked, starts, members
