"""The multi-abstraction head and the context table (FiLM) of the multi-abstraction objective.

`MultiLevelHead` is one small predictor shared by every level, told which level it predicts by a
learned level embedding added to its normalised input:

    prediction_l(x) = dense2(gelu(dense1(LayerNorm(x) + level_embedding[l])))

Sharing one predictor (rather than one MLP per level) keeps the head small and lets levels share
what they have in common; the level embedding is what lets one input (a pooled state) be read at
different strata. Adding (not concatenating) keeps the first layer square. The level embeddings
start at the scale of a LayerNorm output (std 0.5) so the level is visible from the first step.

`ContextFiLM` is a table of per-context (gamma, beta): `gamma[c] * e + beta[c]`, initialised to the
identity (gamma 1, beta 0), so an untrained context leaves an embedding unchanged. Parameterised
as gamma = 1 + FILM_SCALE * gamma_offset and beta = FILM_SCALE * beta_offset:
* the offsets start at 0, so the optimizer's weight decay (on every matrix) pulls a context
  towards the identity rather than towards gamma = 0, which would erase the embedding;
* Adam moves every parameter by about the learning rate per step whatever its scale. The encoder's
  weights are ~0.02 in size, so a step changes them by a few percent; gamma and beta act on unit-
  scale embeddings and would change by 0.1% per step, learning ~FILM_SCALE x slower than the
  encoder they modulate. FILM_SCALE = 1 / INIT_STD gives the table the encoder's relative step
  size (with 20 the context effect after a short run was about half as large).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from research.models.encoder import INIT_STD, gelu

LEVELS = ("token", "span", "sentence", "document")
LEVEL_EMBED_STD = 0.5
FILM_SCALE = 1.0 / INIT_STD  # 50: see the module docstring


class MultiLevelHead(nnx.Module):
    def __init__(
        self,
        dim: int,
        levels: tuple[str, ...],
        *,
        out_dim: int | None = None,
        hidden_dim: int | None = None,
        dtype: jax.typing.DTypeLike = jnp.float32,
        rngs: nnx.Rngs,
    ):
        unknown = [lv for lv in levels if lv not in LEVELS]
        if not levels or unknown:
            raise ValueError(f"levels {levels!r}: choose from {LEVELS}")
        self.levels = tuple(levels)
        dtype = jnp.dtype(dtype)
        init = nnx.initializers.truncated_normal(INIT_STD)
        kw = {"dtype": dtype, "kernel_init": init, "rngs": rngs}
        hidden_dim = hidden_dim or dim
        self.norm = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.level_embed = nnx.Param(
            LEVEL_EMBED_STD * jax.random.normal(rngs.params(), (len(levels), dim), jnp.float32)
        )
        self.hidden = nnx.Linear(dim, hidden_dim, **kw)
        self.out = nnx.Linear(hidden_dim, out_dim or dim, **kw)

    def __call__(self, x: jax.Array, level: str) -> jax.Array:
        """x (..., D) student states (or pooled states) -> (..., out_dim) float32 predictions."""
        h = self.norm(x) + self.level_embed[self.levels.index(level)].astype(x.dtype)
        h = gelu(self.hidden(h))
        return self.out(h).astype(jnp.float32)


class ContextFiLM(nnx.Module):
    """gamma(c) * e + beta(c) for named contexts c (indices into `contexts`)."""

    def __init__(self, dim: int, contexts: tuple[str, ...]):
        self.contexts = tuple(contexts)
        self.gamma_offset = nnx.Param(jnp.zeros((len(contexts), dim), jnp.float32))
        self.beta_offset = nnx.Param(jnp.zeros((len(contexts), dim), jnp.float32))

    @property
    def gamma(self) -> jax.Array:
        return 1.0 + FILM_SCALE * self.gamma_offset[...]

    @property
    def beta(self) -> jax.Array:
        return FILM_SCALE * self.beta_offset[...]

    def __call__(self, embeddings: jax.Array, context_ids: jax.Array) -> jax.Array:
        """embeddings (..., D), context_ids (...) int -> (..., D) float32."""
        gamma = jnp.take(self.gamma, context_ids, axis=0)
        beta = jnp.take(self.beta, context_ids, axis=0)
        return gamma * embeddings.astype(jnp.float32) + beta
