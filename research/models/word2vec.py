"""The word2vec model: an input table (the embeddings) and an output table (the context side)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class Word2Vec(nnx.Module):
    """Input and output embedding tables, initialised as word2vec does.

    Input rows are uniform in [-0.5/dim, 0.5/dim) and output rows are zero, as in the word2vec C
    code and gensim; with zero output rows the first updates move only the output table.
    """

    def __init__(self, vocab_size: int, dim: int, *, rngs: nnx.Rngs):
        bound = 0.5 / dim
        self.input_embeddings = nnx.Param(
            jax.random.uniform(rngs.params(), (vocab_size, dim), jnp.float32, -bound, bound)
        )
        self.output_embeddings = nnx.Param(jnp.zeros((vocab_size, dim), jnp.float32))

    def __call__(self, ids: jax.Array) -> jax.Array:
        """The embeddings of `ids` (rows of the input table)."""
        return self.input_embeddings[...][ids]
