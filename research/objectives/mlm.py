"""Masked-language-model objective: BERT's input corruption and the weighted cross entropy."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax


def mask_tokens(
    key: jax.Array,
    tokens: jax.Array,
    maskable: jax.Array,
    *,
    mask_id: int,
    vocab_size: int,
    rate: float = 0.15,
    max_predictions: int | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """BERT masking. Returns (inputs, targets, weights), all (B, L).

    Each maskable position (bool (B, L); False for padding and special tokens) is chosen
    independently with probability `rate`, as HF's DataCollatorForLanguageModeling does: the
    count per sequence varies, but no per-row sort is needed and the rate is exact in expectation.
    Chosen positions become mask_id (80%), a uniformly random token (10%) or stay unchanged (10%);
    the last two make the model keep a representation of every input token, not just of [MASK].
    targets are the original tokens; weights are 1.0 at chosen positions and 0.0 elsewhere.
    With `max_predictions`, at most that many positions per row are chosen (the first ones), so
    that `masked_positions` can gather every one of them.
    """
    choose_key, kind_key, random_key = jax.random.split(key, 3)
    chosen = maskable & jax.random.bernoulli(choose_key, rate, tokens.shape)
    if max_predictions is not None:  # beyond the cap a position would be corrupted unscored
        chosen = chosen & (jnp.cumsum(chosen, axis=-1) <= max_predictions)
    kind = jax.random.uniform(kind_key, tokens.shape)
    random_tokens = jax.random.randint(random_key, tokens.shape, 0, vocab_size, tokens.dtype)
    inputs = jnp.where(chosen & (kind < 0.8), jnp.asarray(mask_id, tokens.dtype), tokens)
    inputs = jnp.where(chosen & (kind >= 0.8) & (kind < 0.9), random_tokens, inputs)
    return inputs, tokens, chosen.astype(jnp.float32)


def mlm_loss(
    logits: jax.Array, targets: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Cross entropy and accuracy averaged over weighted positions, in float32.

    logits (..., V), targets (...) int, weights (...). With zero total weight both are 0, not NaN
    (a batch where nothing was masked must not poison the running averages).
    """
    weights = weights.astype(jnp.float32)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)
    total = weights.sum()
    denominator = jnp.where(total > 0, total, 1.0)
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return (losses * weights).sum() / denominator, (correct * weights).sum() / denominator


def default_max_predictions(seq_len: int, rate: float) -> int:
    """Scored positions per row: the expected count plus ~3.5 standard deviations (a Bernoulli
    count of L·rate exceeds it in about 2 rows in 10,000, whose extra positions stay unmasked)."""
    mean = rate * seq_len
    return min(seq_len, math.ceil(mean + 3.5 * math.sqrt(mean * (1.0 - rate))) + 1)


def masked_positions(weights: jax.Array, max_predictions: int) -> tuple[jax.Array, jax.Array]:
    """(B, M) indices of each row's chosen positions (weights > 0), in order, and their validity.

    BERT scores the vocabulary only at these M positions (its `gather_indexes`): the vocabulary
    product is the largest matmul of a small encoder, and at the other ~85% of positions its
    result has weight 0. Rows with fewer than M chosen positions are padded with invalid slots.
    """
    chosen = weights > 0
    order = jnp.argsort(~chosen, axis=-1, stable=True)[:, :max_predictions]
    return order, jnp.take_along_axis(chosen, order, axis=-1)


def mlm_term(model, config, batch: dict, key: jax.Array, target_encoder=None):
    """The registered `mlm` objective: (loss, metrics) of BERT's MLM on batch["tokens"]."""
    from research.data import tokenizer as tok

    tokens = batch["tokens"]
    padding = tokens != tok.PAD
    mask_key, mlm_key, *_ = jax.random.split(key, 5)
    rate = config.objective.mask_rate
    max_predictions = default_max_predictions(tokens.shape[1], rate)
    inputs, targets, weights = mask_tokens(
        mask_key,
        tokens,
        tokens >= len(tok.SPECIAL_TOKENS),  # special tokens are never masked
        mask_id=tok.MASK,
        vocab_size=model.settings.vocab_size,
        rate=rate,
        max_predictions=max_predictions,
    )
    states = model.encoder(inputs, padding, deterministic=False, rngs=mlm_key)
    positions, scored = masked_positions(weights, max_predictions)
    picked = jnp.take_along_axis(states[-1], positions[..., None], axis=1)
    loss, accuracy = mlm_loss(
        model.lm_logits(picked), jnp.take_along_axis(targets, positions, axis=1), scored
    )
    return loss, {"mlm_accuracy": accuracy}
