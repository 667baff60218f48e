"""Masked-language-model objective: BERT's input corruption and the weighted cross entropy."""

from __future__ import annotations

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
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """BERT masking. Returns (inputs, targets, weights), all (B, L).

    Each maskable position (bool (B, L); False for padding and special tokens) is chosen
    independently with probability `rate`, as HF's DataCollatorForLanguageModeling does: the
    count per sequence varies, but no per-row sort is needed and the rate is exact in expectation.
    Chosen positions become mask_id (80%), a uniformly random token (10%) or stay unchanged (10%);
    the last two make the model keep a representation of every input token, not just of [MASK].
    targets are the original tokens; weights are 1.0 at chosen positions and 0.0 elsewhere.
    """
    choose_key, kind_key, random_key = jax.random.split(key, 3)
    chosen = maskable & jax.random.bernoulli(choose_key, rate, tokens.shape)
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
