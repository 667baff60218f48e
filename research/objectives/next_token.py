"""Next-token prediction (causal language modelling) over padded batches."""

from __future__ import annotations

import jax

from research.objectives.mlm import mlm_loss


def next_token_loss(
    logits: jax.Array, tokens: jax.Array, padding_mask: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Mean cross entropy and accuracy of predicting token t+1 from position t, in float32.

    logits (B, L, V) from a causal encoder, tokens (B, L), padding_mask (B, L) bool. A pair
    counts only when both positions are real tokens, so the last real token (whose successor is
    padding) and padding itself are never scored.
    """
    weights = padding_mask[:, :-1] & padding_mask[:, 1:]
    return mlm_loss(logits[:, :-1], tokens[:, 1:], weights)
