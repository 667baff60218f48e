"""Skip-gram and CBOW with negative sampling, formulated over contiguous token blocks.

A training block holds `batch_size` centre tokens plus a halo of `window` tokens each side.
Instead of listing (centre, context) pairs, every centre meets its 2·window neighbours at fixed
offsets: each offset is one shifted slice of the block's gathered rows, and word2vec's dynamic
window is a (centre, offset) mask. The block is cut into G chunks of c centres; each chunk shares
n negatives drawn from the unigram^0.75 distribution, scored with one batched matrix product, and
a centre's negative term is weighted by K·pairs/n, so its expected gradient equals word2vec's K
negatives per positive pair.

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
    """Static positions that cut a block into chunks of centres (the chunks share negatives)."""

    centre_positions: np.ndarray  # (G, c) block positions of the centres

    @classmethod
    def build(cls, batch_size: int, chunk_size: int, window: int) -> BlockLayout:
        if batch_size % chunk_size:
            raise ValueError(
                f"batch_size {batch_size} is not a multiple of chunk_size {chunk_size}"
            )
        centre = window + np.arange(batch_size).reshape(batch_size // chunk_size, chunk_size)
        return cls(centre.astype(np.int32))


def sample_negatives(key: jax.Array, noise_cdf: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Word ids drawn from the noise distribution by inverting its cumulative sum."""
    uniform = jax.random.uniform(key, shape, dtype=noise_cdf.dtype)
    ids = jnp.searchsorted(noise_cdf, uniform, side="right")
    return jnp.minimum(ids, noise_cdf.shape[0] - 1).astype(jnp.int32)


def skipgram_loss(
    centre_rows: jax.Array,
    block_rows: jax.Array,
    negative_rows: jax.Array,
    pair_mask: jax.Array,
    negatives_per_pair: int,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Skip-gram negative-sampling loss summed over the block's pairs.

    centre_rows (G, c, D) input-table rows; block_rows (B + 2w, D) the output-table rows of the
    block's tokens (centre b sits at w + b) and negative_rows (G, n, D) the chunk's shared
    negatives' output rows; pair_mask (B, 2w) from `offset_mask`. `clashes` (G, c, n), when
    given, counts the pairs of centre i whose context word is negative j (`negative_clashes`):
    those pairs skip that negative, as word2vec.c and gensim skip a negative equal to the
    positive word. Returns (loss sum, number of pairs).
    """
    mask = pair_mask.astype(centre_rows.dtype)
    positive_logits = neighbour_dots(centre_rows.reshape(mask.shape[0], -1), block_rows)
    positive = -jnp.sum(mask * jax.nn.log_sigmoid(positive_logits))
    weight = negative_weights(
        mask, centre_rows.shape[:2], negative_rows.shape[1], negatives_per_pair, clashes
    )
    negative_logits = jnp.einsum("gid,gnd->gin", centre_rows, negative_rows)
    negative = -jnp.sum(weight * jax.nn.log_sigmoid(-negative_logits))
    return positive + negative, mask.sum()


def negative_weights(
    mask: jax.Array,
    chunks: tuple[int, ...],
    shared: int,
    negatives_per_pair: int,
    clashes: jax.Array | None = None,
) -> jax.Array:
    """(G, c, n) or (G, c, 1): the weight of centre i's term for each of its chunk's `shared`
    negatives, K · (i's pairs) / n, less the pairs whose positive word the negative is when
    `clashes` is given. mask (B, 2w) float; chunks (G, c)."""
    pairs_per_negative = mask.sum(-1).reshape(chunks)[..., None]
    if clashes is not None:
        pairs_per_negative = pairs_per_negative - clashes
    return pairs_per_negative * (negatives_per_pair / shared)


def skipgram_curvature(
    centre_rows: jax.Array,
    block_rows: jax.Array,
    negative_rows: jax.Array,
    pair_mask: jax.Array,
    negatives_per_pair: int,
    centre_steps: jax.Array,
    block_steps: jax.Array,
    negative_steps: jax.Array,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Δᵀ H Δ of `skipgram_loss` for every row occurrence: (G, c) centres, (B + 2w) block
    tokens, (G, n) negatives.

    H is the loss's Hessian in that one row with every other row held fixed, and Δ that row's
    step (centre_steps (G, c, D), block_steps (B + 2w, D), negative_steps (G, n, D), one per
    occurrence, as gathered from the rows' summed steps). Every term of the loss is a
    log-sigmoid of a dot product that is linear in each of its two rows, so this Hessian is
    exactly Σ over the row's terms of weight · σ(s)σ(−s) · x xᵀ, x the term's other row, and
    Δᵀ H Δ = Σ weight · σ(s)σ(−s) · (x · Δ)². Summed over a row's occurrences it is the loss's
    curvature along the row's step (word2vec_curvature.step_scales).
    """
    chunks, dim = centre_rows.shape[:2], centre_rows.shape[-1]
    mask = pair_mask.astype(centre_rows.dtype)
    flat_centres = centre_rows.reshape(-1, dim)
    positive = neighbour_dots(flat_centres, block_rows)
    negative = jnp.einsum("gid,gnd->gin", centre_rows, negative_rows)
    positive_curvature = mask * jax.nn.sigmoid(positive) * jax.nn.sigmoid(-positive)
    negative_curvature = (
        negative_weights(mask, chunks, negative_rows.shape[1], negatives_per_pair, clashes)
        * jax.nn.sigmoid(negative)
        * jax.nn.sigmoid(-negative)
    )
    # The block tokens' output rows meet the centres' input rows, and so do the negatives'.
    along = neighbour_dots(flat_centres, block_steps)
    block = spread_to_neighbours(
        jnp.ones((flat_centres.shape[0], 1), mask.dtype), positive_curvature * along * along
    )[:, 0]
    along = jnp.einsum("gid,gnd->gin", centre_rows, negative_steps)
    negatives = jnp.sum(negative_curvature * along * along, axis=1)
    # The centres' input rows meet their neighbours' and their chunk's negatives' output rows.
    along = neighbour_dots(centre_steps.reshape(-1, dim), block_rows)
    centres = jnp.sum(positive_curvature * along * along, axis=-1).reshape(chunks)
    along = jnp.einsum("gid,gnd->gin", centre_steps, negative_rows)
    centres = centres + jnp.sum(negative_curvature * along * along, axis=-1)
    return centres, block, negatives


def negative_clashes(pair_mask: jax.Array, ids: jax.Array, negative_ids: jax.Array) -> jax.Array:
    """(G, c, n): how many of centre i's pairs have negative j as their positive word.

    pair_mask (B, 2w) from `offset_mask`, ids (B + 2w) the block's token ids, negative_ids (G, n)
    the chunk's negatives.
    """
    batch, window = pair_mask.shape[0], pair_mask.shape[1] // 2
    chunks, shared = negative_ids.shape
    neighbours = jnp.stack(
        [ids[window + o : window + o + batch] for o in neighbour_offsets(window)], axis=1
    )
    per_centre = jnp.repeat(negative_ids, batch // chunks, axis=0)  # (B, n)
    same = neighbours[:, :, None] == per_centre[:, None, :]
    counts = jnp.sum(pair_mask[:, :, None] & same, axis=1, dtype=jnp.float32)
    return counts.reshape(chunks, batch // chunks, shared)


def neighbour_offsets(window: int) -> np.ndarray:
    """-w..-1, 1..w: a centre's neighbours' positions relative to it."""
    return np.array([o for o in range(-window, window + 1) if o != 0], np.int32)


def offset_mask(
    key: jax.Array, ids: jax.Array, docs: jax.Array, chunks: tuple[int, int], window: int
) -> jax.Array:
    """(B, 2w) bool: which of its 2w neighbours (offsets -w..-1, 1..w) are pairs of each centre.

    word2vec's dynamic window: each centre draws its reach b uniformly from 1..window (with the
    key and the (G, c) shape of the block's chunks), so nearer words are paired more often.
    Padding and words of another document are never paired.
    """
    batch = chunks[0] * chunks[1]
    reach = jax.random.randint(key, chunks, 1, window + 1).reshape(batch)
    offsets = jnp.asarray(neighbour_offsets(window))
    centre = window + jnp.arange(batch)
    context = centre[:, None] + offsets[None, :]
    in_window = jnp.abs(offsets)[None, :] <= reach[:, None]
    same_doc = docs[context] == docs[centre][:, None]
    return in_window & same_doc & (ids[context] >= 0)


# Every centre meets its 2w neighbours at fixed offsets, so each offset is one shifted slice of
# the block's rows and the work is 2w multiply-adds per element. The alternative, a batched
# product of each chunk's centres against the chunk's whole window of c + 2w rows, mostly
# masked, did (c + 2w) / 2w times the arithmetic and was slower on CPU for both CBOW and
# skip-gram (figures: BENCHMARKS.md, "Variants tried for speed").


def neighbour_sum(block_rows: jax.Array, weights: jax.Array) -> jax.Array:
    """(B, D): sum over each centre's neighbours o of weights[b, o] · block_rows[w + b + o].

    block_rows (B + 2w, D) the rows of the block's tokens (centre b sits at w + b), weights
    (B, 2w) per neighbour offset (-w..-1, 1..w).
    """
    batch, window = weights.shape[0], weights.shape[1] // 2
    return sum(
        weights[:, k, None] * block_rows[window + o : window + o + batch]
        for k, o in enumerate(neighbour_offsets(window))
    )


def spread_to_neighbours(vectors: jax.Array, weights: jax.Array) -> jax.Array:
    """(B + 2w, D): token p receives weights[b, o] · vectors[b] from every centre b = p - w - o.

    The transpose of `neighbour_sum` in its block rows: vectors (B, D) per centre, weights
    (B, 2w).
    """
    batch, window = weights.shape[0], weights.shape[1] // 2
    # Padded by 2w, every offset is a shifted slice again (one padding and 2w multiply-adds;
    # padding each term instead cost about 4x more).
    margin = ((2 * window, 2 * window), (0, 0))
    weights = jnp.pad(weights.astype(vectors.dtype), margin)
    vectors = jnp.pad(vectors, margin)
    size = batch + 2 * window
    return sum(
        weights[window - o : window - o + size, k, None] * vectors[window - o : window - o + size]
        for k, o in enumerate(neighbour_offsets(window))
    )


@jax.custom_vjp
def neighbour_dots(centre_rows: jax.Array, block_rows: jax.Array) -> jax.Array:
    """(B, 2w): ⟨centre_rows[b], block_rows[w + b + o]⟩ for each neighbour offset o.

    centre_rows (B, D), block_rows (B + 2w, D). The gradients are written as `neighbour_sum` and
    `spread_to_neighbours`: autodiff of the slices would pad every term (several times slower).
    """
    batch = centre_rows.shape[0]
    window = (block_rows.shape[0] - batch) // 2
    return jnp.stack(
        [
            jnp.sum(centre_rows * block_rows[window + o : window + o + batch], axis=-1)
            for o in neighbour_offsets(window)
        ],
        axis=1,
    )


def _neighbour_dots_forward(centre_rows, block_rows):
    return neighbour_dots(centre_rows, block_rows), (centre_rows, block_rows)


def _neighbour_dots_backward(residuals, grads):
    centre_rows, block_rows = residuals
    return neighbour_sum(block_rows, grads), spread_to_neighbours(centre_rows, grads)


neighbour_dots.defvjp(_neighbour_dots_forward, _neighbour_dots_backward)


def cbow_hidden(block_rows: jax.Array, pair_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean of each centre's context input rows (gensim's cbow_mean=1) and the context counts.

    block_rows (B + 2w, D) the input rows of the block's tokens (centre b sits at w + b),
    pair_mask (B, 2w) from `offset_mask`.
    """
    mask = pair_mask.astype(block_rows.dtype)
    counts = mask.sum(-1)
    return neighbour_sum(block_rows, mask) / jnp.maximum(counts, 1.0)[:, None], counts


def cbow_loss(
    hidden: jax.Array,
    centre_rows: jax.Array,
    negative_rows: jax.Array,
    context_counts: jax.Array,
    negatives_per_pair: int,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """CBOW negative-sampling loss summed over centres that have at least one context word.

    hidden (G, c, D) context means (`cbow_hidden`, reshaped to chunks); centre_rows (G, c, D)
    and negative_rows (G, n, D) output rows.
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


def cbow_curvature(
    hidden: jax.Array,
    centre_rows: jax.Array,
    negative_rows: jax.Array,
    pair_mask: jax.Array,
    ids: jax.Array,
    negatives_per_pair: int,
    block_steps: jax.Array,
    centre_steps: jax.Array,
    negative_steps: jax.Array,
    clashes: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Δᵀ H Δ of `cbow_loss` for every row occurrence: (B + 2w) block tokens' input rows, (G, c)
    centres' and (G, n) negatives' output rows; skipgram_curvature's counterpart.

    hidden (G, c, D) the context means (`cbow_hidden`), centre_rows (G, c, D) and negative_rows
    (G, n, D) output rows, pair_mask (B, 2w), ids (B + 2w) the block's token ids (any value
    where pair_mask leaves a slot out: padding); block_steps (B + 2w, D), centre_steps
    (G, c, D) and negative_steps (G, n, D) each occurrence's row step. Each term is a
    log-sigmoid of h · u, so an output row's curvature is weight · σ(s)σ(−s) · (h · Δ)². An
    input row moves h_b by (k/n_b) Δ where it fills k of the n_b context slots of centre b, so
    its curvature in b's terms is (k/n_b)² Σ weight · σσ · (u · Δ)²: each of its k slots takes
    (1/n_b)·(k/n_b) of that, which sums to it exactly.
    """
    chunks, chunk = hidden.shape[:2]
    shared, dim = negative_rows.shape[1], hidden.shape[-1]
    batch, window = pair_mask.shape[0], pair_mask.shape[1] // 2
    mask = pair_mask.astype(hidden.dtype)
    counts = mask.sum(-1)
    has_context = (counts > 0).astype(hidden.dtype).reshape(chunks, chunk)
    positive = jnp.sum(hidden * centre_rows, -1)
    positive_curvature = has_context * jax.nn.sigmoid(positive) * jax.nn.sigmoid(-positive)
    weight = has_context[..., None] * (negatives_per_pair / shared)
    if clashes is not None:
        weight = weight * (1.0 - clashes)
    negative = jnp.einsum("gid,gnd->gin", hidden, negative_rows)
    negative_curvature = weight * jax.nn.sigmoid(negative) * jax.nn.sigmoid(-negative)
    # Output rows meet the context means.
    centres = positive_curvature * jnp.sum(hidden * centre_steps, -1) ** 2
    along = jnp.einsum("gid,gnd->gin", hidden, negative_steps)
    negatives = jnp.sum(negative_curvature * along * along, axis=1)
    # Input rows meet their centre's output row and its chunk's negatives. A slot's step against
    # the negatives: each chunk's window of c + 2w block rows scored against its negatives, then
    # per (centre, slot) the weighted sum over negatives, read off the band of the chunk's
    # (c, c + 2w) matrix where the slot is the centre's neighbour.
    offsets = neighbour_offsets(window)
    along = neighbour_dots(centre_rows.reshape(batch, dim), block_steps)  # (B, 2w)
    slots = positive_curvature.reshape(batch, 1) * along * along
    windows = np.arange(chunks)[:, None] * chunk + np.arange(chunk + 2 * window)[None, :]
    scores = jnp.einsum("gjd,gnd->gjn", block_steps[windows], negative_rows)
    weighted = jnp.einsum("gin,gjn->gij", negative_curvature, scores * scores)
    band = window + np.arange(chunk)[:, None] + offsets[None, :]  # (c, 2w) slot of each offset
    slots = slots + jnp.take_along_axis(weighted, jnp.asarray(band)[None], axis=2).reshape(
        batch, 2 * window
    )
    # k/n_b: the share of b's context held by the slot's word (the slot itself included).
    neighbours = jnp.stack(
        [ids[window + o : window + o + batch] for o in offsets], axis=1
    )  # (B, 2w)
    same = neighbours[:, :, None] == neighbours[:, None, :]
    share = jnp.sum(same * mask[:, None, :], axis=-1) / jnp.maximum(counts, 1.0)[:, None]
    per_slot = mask * share / jnp.maximum(counts, 1.0)[:, None] * slots
    block = spread_to_neighbours(jnp.ones((batch, 1), mask.dtype), per_slot)[:, 0]
    return block, centres, negatives
