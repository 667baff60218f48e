"""Heads on top of the encoder's states: tied-embedding token prediction, projection, pooling.

The MLM head does not hold a reference to the encoder's embedding module; the table is passed to
each call (`head(states, encoder.token_embed.embedding[...])`). A shared submodule would tie the
weights too, but only in NNX graph mode; tree mode (planned as NNX's default) copies shared
references. An explicit argument ties them in either mode and keeps the gradient flowing to the
one table.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from research.models.encoder import DEFAULT_NORM_EPS, INIT_STD, gelu

POOLING = ("mean", "cls", "last")


class MLMHead(nnx.Module):
    """dense -> gelu -> LayerNorm -> logits against the tied token-embedding table (+ bias).

    BERT's prediction head; also used for next-token prediction (with a causal encoder).
    """

    def __init__(
        self,
        dim: int,
        vocab_size: int,
        *,
        dtype: jax.typing.DTypeLike = jnp.float32,
        norm_eps: float = DEFAULT_NORM_EPS,
        rngs: nnx.Rngs,
    ):
        self.dtype = jnp.dtype(dtype)
        init = nnx.initializers.truncated_normal(INIT_STD)
        self.dense = nnx.Linear(dim, dim, dtype=self.dtype, kernel_init=init, rngs=rngs)
        self.norm = nnx.LayerNorm(dim, epsilon=norm_eps, dtype=self.dtype, rngs=rngs)
        self.bias = nnx.Param(jnp.zeros((vocab_size,), jnp.float32))

    def __call__(self, states: jax.Array, embedding: jax.Array) -> jax.Array:
        """states (..., D), embedding (V, D) -> float32 logits (..., V).

        The vocabulary product runs in the compute dtype but accumulates and returns float32:
        bfloat16 logits would quantise the softmax (8 mantissa bits at logits ~10 is ±0.06).
        """
        h = self.norm(gelu(self.dense(states)))
        logits = jnp.einsum(
            "...d,vd->...v",
            h.astype(self.dtype),
            embedding.astype(self.dtype),
            preferred_element_type=jnp.float32,
        )
        return logits + self.bias[...]


class ProjectionHead(nnx.Module):
    """Maps pooled embeddings into the space a contrastive loss compares.

    A single dense layer, or dense -> gelu -> dense when `hidden_dim` is given (SimCLR's MLP
    projection, which keeps the representation below it more general than the loss's space);
    activation="tanh" puts tanh after the last layer (SimCSE's MLP over [CLS]: dense -> tanh).
    """

    def __init__(
        self,
        dim: int,
        out_dim: int,
        *,
        hidden_dim: int | None = None,
        activation: str | None = None,
        dtype: jax.typing.DTypeLike = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if activation not in (None, "tanh"):
            raise ValueError(f"activation {activation!r}; expected None or 'tanh'")
        self.activation = activation
        init = nnx.initializers.truncated_normal(INIT_STD)
        kw = {"dtype": jnp.dtype(dtype), "kernel_init": init, "rngs": rngs}
        if hidden_dim is None:
            self.hidden = None
            self.out = nnx.Linear(dim, out_dim, **kw)
        else:
            self.hidden = nnx.Linear(dim, hidden_dim, **kw)
            self.out = nnx.Linear(hidden_dim, out_dim, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.hidden is not None:
            x = gelu(self.hidden(x))
        x = self.out(x)
        return jnp.tanh(x) if self.activation == "tanh" else x


def pool(states: jax.Array, padding_mask: jax.Array, how: str) -> jax.Array:
    """(B, L, D) states -> (B, D).

    mean: average over real tokens (summed in float32); cls: position 0; last: the last real token
    (found from the mask, so left- and right-padded batches both work). A row with no real token
    gives zeros for mean and position L-1 for last.
    """
    if how == "mean":
        weights = padding_mask.astype(jnp.float32)
        total = jnp.einsum("bld,bl->bd", states.astype(jnp.float32), weights)
        count = jnp.maximum(weights.sum(-1, keepdims=True), 1.0)
        return (total / count).astype(states.dtype)
    if how == "cls":
        return states[:, 0]
    if how == "last":
        length = padding_mask.shape[1]
        last = length - 1 - jnp.argmax(padding_mask[:, ::-1], axis=-1)
        return jnp.take_along_axis(states, last[:, None, None], axis=1)[:, 0]
    raise ValueError(f"pooling {how!r}; choose one of {POOLING}")
