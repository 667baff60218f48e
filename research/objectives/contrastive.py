"""In-batch contrastive loss (InfoNCE): row i of queries and row i of keys are a positive pair."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def info_nce(
    queries: jax.Array,
    keys: jax.Array,
    temperature: float | jax.Array,
    *,
    symmetric: bool = True,
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) for queries and keys (B, D); the other B-1 keys are the negatives.

    Both sides are L2-normalised, so logits are cosine similarities / temperature (a float, or a
    learned scalar array). symmetric=True averages the query->key and key->query directions
    (CLIP); accuracy is how often the positive scores highest, averaged the same way. Float32.
    """
    q = queries.astype(jnp.float32)
    k = keys.astype(jnp.float32)
    # Normalise with an epsilon so an all-zero row (e.g. a padded example) gives 0, not NaN.
    q = q / jnp.maximum(jnp.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    k = k / jnp.maximum(jnp.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
    logits = q @ k.T / temperature
    labels = jnp.arange(q.shape[0])

    def direction(lg: jax.Array) -> tuple[jax.Array, jax.Array]:
        loss = optax.softmax_cross_entropy_with_integer_labels(lg, labels).mean()
        return loss, (jnp.argmax(lg, axis=-1) == labels).mean()

    loss, accuracy = direction(logits)
    if symmetric:
        loss_t, accuracy_t = direction(logits.T)
        loss, accuracy = (loss + loss_t) / 2, (accuracy + accuracy_t) / 2
    return loss, accuracy
