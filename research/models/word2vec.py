"""The word2vec model: an input table (the embeddings) and an output table (the context side)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike


# Jitted: run eagerly, `lax.map` compiles its loop on every call (1.1 s against 0.9 s once).
@functools.partial(jax.jit, static_argnames=("rows", "dim", "low", "high", "block_rows"))
def uniform_rows(
    key: jax.Array, rows: int, dim: int, low: float, high: float, *, block_rows: int = 32_768
) -> jax.Array:
    """(rows, dim) float32 uniform in [low, high); row r is drawn from fold_in(key, r).

    One `jax.random.uniform` over the whole table makes XLA hold threefry's counters and bits
    for all of it, several times the final table for a large vocabulary (BENCHMARKS.md has the
    peak memory of both ways). Keying each row by its index also makes the
    first N rows the same whatever the vocabulary size.
    """

    def row(r: jax.Array) -> jax.Array:
        return jax.random.uniform(jax.random.fold_in(key, r), (dim,), jnp.float32, low, high)

    return jax.lax.map(row, jnp.arange(rows), batch_size=min(block_rows, max(rows, 1)))


class Word2Vec(nnx.Module):
    """Input and output embedding tables, initialised as word2vec does.

    Input rows are uniform in [-0.5/dim, 0.5/dim) and output rows are zero, as in the word2vec C
    code and gensim; with zero output rows the first updates move only the output table. The
    rows are drawn in float32 and stored as `dtype`, so a bfloat16 table starts from the
    float32 one, rounded. `output_rows` sizes the output table when it is not one row per word
    (hierarchical softmax: one per inner node of the Huffman tree, V - 1).
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        *,
        output_rows: int | None = None,
        dtype: DTypeLike = jnp.float32,
        rngs: nnx.Rngs,
    ):
        bound = 0.5 / dim
        self.input_embeddings = nnx.Param(
            uniform_rows(rngs.params(), vocab_size, dim, -bound, bound).astype(dtype)
        )
        self.output_embeddings = nnx.Param(
            jnp.zeros((vocab_size if output_rows is None else output_rows, dim), dtype)
        )

    def __call__(self, ids: jax.Array) -> jax.Array:
        """The embeddings of `ids` (rows of the input table)."""
        return self.input_embeddings[...][ids]
