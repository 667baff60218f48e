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


def contrastive_term(model, config, batch: dict, key: jax.Array, target_encoder=None):
    """The registered `contrastive` objective: InfoNCE between two views of batch["anchors"]:
    SimCSE's same sentences under other dropout, or cpt-text's next sentence
    (batch["positives"])."""
    from research.data import tokenizer as tok

    view_a, view_b = jax.random.split(key, 5)[3:]
    anchors = batch["anchors"]
    positives = anchors if config.objective.positives == "dropout" else batch["positives"]
    a = model.sentence_embedding(anchors, anchors != tok.PAD, deterministic=False, rngs=view_a)
    b = model.sentence_embedding(positives, positives != tok.PAD, deterministic=False, rngs=view_b)
    loss, accuracy = info_nce(
        model.projection(a), model.projection(b), config.objective.temperature
    )
    return loss, {"contrastive_accuracy": accuracy}
