"""Skip-gram and CBOW with negative sampling, formulated over contiguous token blocks.

A training block holds `batch_size` centre tokens plus a halo of `window` tokens each side. It is
cut into G chunks of c centres; chunk g sees the c + 2·window tokens around it. Instead of listing
(centre, context) pairs, every centre is scored against every token of its chunk's window with one
batched matrix product and the dynamic window is applied as a mask. Each chunk shares n negatives
drawn from the unigram^0.75 distribution; a centre's negative term is weighted by K·pairs/n, so its
expected gradient equals word2vec's K negatives per positive pair. All work becomes matrix
products, which is what XLA does fast.

The loss functions below take gathered rows and return (sum of losses, number of pairs). Summed,
not averaged: word2vec's SGD applies the gradient of every pair at the full learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class BlockLayout:
    """Static gather indices that cut a block into chunks with their context windows."""

    centre_positions: np.ndarray  # (G, c) block positions of the centres
    context_positions: np.ndarray  # (G, c + 2w) block positions each chunk's centres can see
    offsets: np.ndarray  # (c, c + 2w) signed distance from centre i to context slot k

    @classmethod
    def build(cls, batch_size: int, chunk_size: int, window: int) -> BlockLayout:
        if batch_size % chunk_size:
            raise ValueError(
                f"batch_size {batch_size} is not a multiple of chunk_size {chunk_size}"
            )
        chunks = batch_size // chunk_size
        starts = np.arange(chunks)[:, None] * chunk_size
        centre = starts + window + np.arange(chunk_size)[None, :]
        context = starts + np.arange(chunk_size + 2 * window)[None, :]
        offsets = np.arange(chunk_size + 2 * window)[None, :] - (
            np.arange(chunk_size)[:, None] + window
        )
        return cls(centre.astype(np.int32), context.astype(np.int32), offsets.astype(np.int32))


def window_mask(
    key: jax.Array, ids: jax.Array, docs: jax.Array, layout: BlockLayout, window: int
) -> jax.Array:
    """(G, c, c + 2w) bool: which context slots are pairs of each centre.

    word2vec's dynamic window: each centre draws its reach b uniformly from 1..window, so nearer
    words are paired more often. Padding and words of another document are never paired.
    """
    centre_docs = docs[layout.centre_positions]
    context_docs = docs[layout.context_positions]
    reach = jax.random.randint(key, layout.centre_positions.shape, 1, window + 1)
    distance = jnp.abs(jnp.asarray(layout.offsets))
    in_window = (distance >= 1)[None] & (distance[None] <= reach[..., None])
    same_doc = context_docs[:, None, :] == centre_docs[..., None]
    valid = (ids[layout.context_positions] >= 0)[:, None, :]
    return in_window & same_doc & valid


def sample_negatives(key: jax.Array, noise_cdf: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Word ids drawn from the noise distribution by inverting its cumulative sum."""
    uniform = jax.random.uniform(key, shape, dtype=noise_cdf.dtype)
    ids = jnp.searchsorted(noise_cdf, uniform, side="right")
    return jnp.minimum(ids, noise_cdf.shape[0] - 1).astype(jnp.int32)


def skipgram_loss(
    centre_rows: jax.Array,
    context_rows: jax.Array,
    negative_rows: jax.Array,
    pair_mask: jax.Array,
    negatives_per_pair: int,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Skip-gram negative-sampling loss summed over the block's pairs.

    centre_rows (G, c, D) input-table rows; context_rows (G, c+2w, D) and negative_rows (G, n, D)
    output-table rows; pair_mask (G, c, c+2w). `clashes` (G, c, n), when given, counts the pairs
    of centre i whose context word is negative j (`negative_clashes`): those pairs skip that
    negative, as word2vec.c and gensim skip a negative equal to the positive word. Returns
    (loss sum, number of pairs).
    """
    mask = pair_mask.astype(centre_rows.dtype)
    positive_logits = jnp.einsum("gid,gkd->gik", centre_rows, context_rows)
    positive = -jnp.sum(mask * jax.nn.log_sigmoid(positive_logits))
    pairs_per_centre = mask.sum(-1)
    shared = negative_rows.shape[1]
    pairs_per_negative = pairs_per_centre[..., None]
    if clashes is not None:
        pairs_per_negative = pairs_per_negative - clashes
    weight = pairs_per_negative * (negatives_per_pair / shared)
    negative_logits = jnp.einsum("gid,gnd->gin", centre_rows, negative_rows)
    negative = -jnp.sum(weight * jax.nn.log_sigmoid(-negative_logits))
    return positive + negative, pairs_per_centre.sum()


def negative_clashes(
    pair_mask: jax.Array, positive_ids: jax.Array, negative_ids: jax.Array
) -> jax.Array:
    """(G, c, n): how many of centre i's pairs have negative j as their positive word.

    pair_mask (G, c, k) marks centre i's pairs among the k positive slots, positive_ids (G, k)
    the words in those slots (skip-gram: the chunk's window, k = c + 2w; CBOW: the centres
    themselves with an identity mask), negative_ids (G, n) the chunk's negatives.
    """
    same = (positive_ids[:, :, None] == negative_ids[:, None, :]).astype(jnp.float32)
    return jnp.einsum("gik,gkn->gin", pair_mask.astype(jnp.float32), same)


def cbow_hidden(context_rows: jax.Array, pair_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean of each centre's context input rows (gensim's cbow_mean=1) and the context counts."""
    mask = pair_mask.astype(context_rows.dtype)
    counts = mask.sum(-1)
    hidden = jnp.einsum("gik,gkd->gid", mask, context_rows) / jnp.maximum(counts, 1.0)[..., None]
    return hidden, counts


def cbow_loss(
    hidden: jax.Array,
    centre_rows: jax.Array,
    negative_rows: jax.Array,
    context_counts: jax.Array,
    negatives_per_pair: int,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """CBOW negative-sampling loss summed over centres that have at least one context word.

    hidden (G, c, D) context means; centre_rows (G, c, D) and negative_rows (G, n, D) output rows.
    `clashes` (G, c, n), when given, is 1 where negative j is centre i's own word (skipped, as in
    word2vec.c). Returns (loss sum, number of predicted centres).
    """
    has_context = (context_counts > 0).astype(hidden.dtype)
    positive = -jnp.sum(has_context * jax.nn.log_sigmoid(jnp.sum(hidden * centre_rows, -1)))
    weight = has_context[..., None] * (negatives_per_pair / negative_rows.shape[1])
    if clashes is not None:
        weight = weight * (1.0 - clashes)
    negative_logits = jnp.einsum("gid,gnd->gin", hidden, negative_rows)
    negative = -jnp.sum(weight * jax.nn.log_sigmoid(-negative_logits))
    return positive + negative, has_context.sum()
