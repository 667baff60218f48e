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


def next_token_term(model, config, batch: dict, key: jax.Array, target_encoder=None):
    """The registered `next_token` objective: causal LM on batch["tokens"]."""
    from research.data import tokenizer as tok

    tokens = batch["tokens"]
    padding = tokens != tok.PAD
    causal_key = jax.random.split(key, 5)[2]
    states = model.encoder(tokens, padding, causal=True, deterministic=False, rngs=causal_key)
    loss, accuracy = next_token_loss(model.lm_logits(states[-1]), tokens, padding)
    return loss, {"next_token_accuracy": accuracy}
