"""train.curvature_bound: each row's summed stale step, cut where the loss along it turns up.

With train.parallel_blocks = P > 1, a row hit in many of the P blocks sums many gradients taken
at one stale snapshot. word2vec's sequential updates would have slowed as the row neared its
minimum; the sum does not, and for frequent rows it can carry the row far past it. Along the
row's summed step Δ the loss is, to second order, L + t g·Δ + t²/2 ΔᵀHΔ (g the row's summed
gradient, H its Hessian with the other rows fixed), lowest at t* = −g·Δ / ΔᵀHΔ; step_scales
cuts the step to min(1, bound · t*). For the log-sigmoid terms of skip-gram and CBOW H is
exact and cheap (negative_sampling.skipgram_curvature, cbow_curvature). The rows of a term
(a pair, or a CBOW centre and its context) move together, which one row's bound cannot see,
so the row-hit cap stays on beside it (word2vec_step.scatter_row_updates). The default,
train.curvature_bound=-1, turns it on (with the cap tripled) only where a step of P blocks
crowds both its tokens' and its draws' rows: word2vec_step.resolve_curvature_bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from research.objectives import negative_sampling as ns


def step_scales(
    vocab_size: int, ids: jax.Array, grads: jax.Array, curvature: jax.Array, bound: float
) -> jax.Array:
    """(vocab_size,) scales that bound each row's summed step Δ to `bound` times the step that
    minimises the loss along it: min(1, bound · t*), t* = −g·Δ / ΔᵀHΔ (the module docstring).

    ids (M,) every row occurrence of the step; grads (M,) each occurrence's gradient dotted
    with its row's Δ; curvature (M,) each occurrence's share of ΔᵀHΔ
    (negative_sampling.skipgram_curvature, cbow_curvature). A row keeps scale 1 where its step
    does not descend (g·Δ ≥ 0), where its curvature is zero, and where either sum is not
    finite.
    """
    along = jnp.zeros(vocab_size, jnp.float32).at[ids].add(grads)
    curved = jnp.zeros(vocab_size, jnp.float32).at[ids].add(curvature)
    # Non-finite sums (a step that apply_if_finite skips, or overflow) leave the row unscaled:
    # a NaN scale would poison the row even where its update is zero.
    descending = (curved > 0) & (along < 0) & jnp.isfinite(curved) & jnp.isfinite(along)
    best = -along / jnp.where(descending, curved, 1.0)
    return jnp.where(descending, jnp.minimum(1.0, bound * best), 1.0)


# Occurrences per vocabulary row below which summed_per_occurrence sorts the occurrences
# instead of filling a V x D buffer. On the 14.7 M-token corpus (V = 75 k, 2-core CPU) sorting
# was faster at P = 2 (M/V about 0.05) and P = 8 (0.22) and slower at P = 32 (0.88); the
# crossover between 0.22 and 0.88 is unmeasured (figures: BENCHMARKS.md, "Parallel blocks").
SORT_BELOW = 0.25


def summed_per_occurrence(ids: jax.Array, updates: jax.Array, vocab_size: int) -> jax.Array:
    """(M, D): at each of the M occurrences, the sum of `updates` over every occurrence of its
    id. Where M is small against the vocabulary, by a sort and a segment sum over the M
    occurrences: zero-filling, scattering into and copying a V x D buffer every SGD step
    costs more than the sort when a step touches few rows (small P)."""
    if ids.shape[0] >= SORT_BELOW * vocab_size:
        dense = jnp.zeros((vocab_size, updates.shape[-1]), updates.dtype).at[ids].add(updates)
        return dense[ids]
    order = jnp.argsort(ids)
    sorted_ids = ids[order]
    new_row = sorted_ids[1:] != sorted_ids[:-1]
    segment = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(new_row, dtype=jnp.int32)])
    sums = jax.ops.segment_sum(
        updates[order], segment, num_segments=ids.shape[0], indices_are_sorted=True
    )
    return jnp.zeros_like(updates).at[order].set(sums[segment], unique_indices=True)


# Per kind: the rows of the input table, then of the output table (in the order the step
# scatters them: the positives, then the negatives).
TABLE_ROWS = {
    "skipgram": (("centre",), ("context", "negative")),
    "cbow": (("context",), ("centre", "negative")),
}


def block_curvature(
    kind: str, block: dict[str, Any], negatives: int, *steps: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One block's ΔᵀHΔ for each row occurrence, in TABLE_ROWS order: block is what
    word2vec_step keeps of it under "block" (gathered rows, pair mask, clashes, token ids)."""
    rows = block["rows"]
    if kind == "skipgram":
        return ns.skipgram_curvature(
            rows["centre"],
            rows["context"],
            rows["negative"],
            block["pair_mask"],
            negatives,
            *steps,
            clashes=block["clashes"],
        )
    return ns.cbow_curvature(
        rows["hidden"],
        rows["centre"],
        rows["negative"],
        block["pair_mask"],
        block["ids"],
        negatives,
        *steps,
        clashes=block["clashes"],
    )


def negative_sampling_step_scales(
    kind: str,
    vocab_size: int,
    rows_of: dict[str, Any],
    grads: dict[str, jax.Array],
    in_updates: jax.Array,
    out_updates: jax.Array,
    negatives: int,
    bound: float,
    gathered: Callable[[jax.Array], jax.Array],
) -> tuple[jax.Array, jax.Array]:
    """(input, output) (vocab_size,) row scales of step_scales for one SGD step of P blocks of
    skip-gram or CBOW (`kind`) with negative sampling.

    rows_of and grads are word2vec_step's per-block row ids, gradients and (under "block") what
    block_curvature needs, each with the P axis first; in_updates are the input table's
    updates, out_updates the output table's, positives then negatives (TABLE_ROWS, the order the
    step scatters them in); `gathered` makes an array whole on every device (identity on one).
    """
    dim = in_updates.shape[-1]
    (in_name,), (positive, negative) = TABLE_ROWS[kind]
    in_ids = gathered(rows_of[in_name].ravel())
    out_ids = gathered(jnp.concatenate([rows_of[positive].ravel(), rows_of[negative].ravel()]))
    # Each row's summed step, before any cap (the direction the curvature is taken along), at
    # every one of the row's occurrences, in the order the step scatters them.
    in_steps = summed_per_occurrence(in_ids, gathered(in_updates.reshape(-1, dim)), vocab_size)
    out_steps = summed_per_occurrence(out_ids, gathered(out_updates.reshape(-1, dim)), vocab_size)
    positives_size = rows_of[positive].size
    steps = {
        in_name: in_steps.reshape(*rows_of[in_name].shape, dim),
        positive: out_steps[:positives_size].reshape(*rows_of[positive].shape, dim),
        negative: out_steps[positives_size:].reshape(*rows_of[negative].shape, dim),
    }
    names = (in_name, positive, negative)

    def along_block(block, grads, steps):
        ordered = [steps[name] for name in names]
        curvature = block_curvature(kind, block, negatives, *ordered)
        # The loss's own gradient where the step's update is not it (CBOW's context rows).
        grads = {**grads, **block.get("gradients", {})}
        dots = tuple(
            jnp.sum(grads[name] * step, axis=-1) for name, step in zip(names, ordered, strict=True)
        )
        return curvature, dots

    (c_in, c_pos, c_neg), (g_in, g_pos, g_neg) = jax.vmap(along_block)(
        rows_of["block"], {name: grads[name] for name in names}, steps
    )
    in_scale = step_scales(
        vocab_size, in_ids, gathered(g_in.ravel()), gathered(c_in.ravel()), bound
    )
    out_scale = step_scales(
        vocab_size,
        out_ids,
        gathered(jnp.concatenate([g_pos.ravel(), g_neg.ravel()])),
        gathered(jnp.concatenate([c_pos.ravel(), c_neg.ravel()])),
        bound,
    )
    return in_scale, out_scale
