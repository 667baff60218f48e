"""The encoder with the heads its objectives need (the objective registry decides which)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import jax
import jax.numpy as jnp
from flax import nnx

from research.data import tokenizer as tok
from research.models.encoder import Encoder, EncoderConfig
from research.models.heads import MLMHead, ProjectionHead, pool
from research.models.multilevel_head import ContextFiLM, MultiLevelHead
from research.models.pooling import segment_means, window_means, window_members


class TextModel(nnx.Module):
    """Encoder + a tied LM head (`lm`: mlm, next_token) + a projection head (`projection`:
    contrastive) + the multi-abstraction head and context table (`levels`).

    Heads exist only when asked for, so a checkpoint holds exactly what was trained. Sentence
    embeddings for evaluation are the pooled last layer, before the projection (as SimCSE
    evaluates): the projection serves the loss, the encoder serves the user. `levels` names the
    strata `level_embedding` serves: the head's levels, or ("sentence",) (the pooled last layer)
    without the head. `projection`: "linear" or "mlp" (dense -> tanh, SimCSE's).
    `matryoshka` {level: n}: that level uses only its first n dims.
    """

    def __init__(
        self,
        settings: EncoderConfig,
        *,
        heads: Iterable[str],
        pooling: str = "mean",
        projection: str = "linear",
        span_length: int = 3,
        levels: tuple[str, ...] = ("sentence",),
        matryoshka: Mapping[str, int] | None = None,
        contexts: tuple[str, ...] = (),
        rngs: nnx.Rngs,
    ):
        heads = set(heads)
        self.settings = settings
        dtype = settings.compute_dtype
        dim = settings.dim
        self.encoder = Encoder(settings, rngs=rngs)
        self.lm_head = (
            MLMHead(dim, settings.vocab_size, dtype=dtype, norm_eps=settings.norm_eps, rngs=rngs)
            if "lm" in heads
            else None
        )
        self.projection = (
            ProjectionHead(
                dim, dim, activation="tanh" if projection == "mlp" else None, dtype=dtype, rngs=rngs
            )
            if "projection" in heads
            else None
        )
        self.pooling = pooling
        self.span_length = span_length
        multi = "levels" in heads
        self.levels: tuple[str, ...] = tuple(levels) if multi else ("sentence",)
        # (level, n) pairs: a tuple, so it is graph-static data
        self.matryoshka = tuple((matryoshka or {}).items()) if multi else ()
        self.contexts = tuple(contexts) if multi else ()
        self.level_head = (
            MultiLevelHead(dim, self.levels, dtype=dtype, rngs=rngs) if multi else None
        )
        self.context_film = ContextFiLM(dim, self.contexts) if self.contexts else None

    def lm_logits(self, states: jax.Array) -> jax.Array:
        return self.lm_head(states, self.encoder.token_embed.embedding[...])

    def sentence_embedding(
        self, tokens: jax.Array, padding_mask: jax.Array, *, deterministic: bool = True, rngs=None
    ) -> jax.Array:
        states = self.encoder(tokens, padding_mask, deterministic=deterministic, rngs=rngs)
        return pool(states[-1], padding_mask, self.pooling)

    def contextualize(self, embeddings: jax.Array, context_ids: jax.Array) -> jax.Array:
        """FiLM of embeddings (..., D) in contexts (...) (indices into `contexts`)."""
        if self.context_film is None:
            raise ValueError("this model has no context table (objective.contexts)")
        return self.context_film(embeddings, context_ids)

    def level_embedding(self, tokens: jax.Array, padding_mask: jax.Array, level: str) -> jax.Array:
        """(B, D_level) float32 embedding of whole texts at one level (deterministic).

        Without the head, the only level is "sentence": the pooled last layer. With it, the head's
        prediction for the level, applied as in training but to the unmasked text: sentence and
        document read the mean of the word tokens' last-layer states; token reads each word
        token and span each window of span_length word tokens, and their predictions are averaged
        over the text. A Matryoshka level keeps its first n dimensions.
        """
        if level not in self.levels:
            raise ValueError(f"level {level!r}; this model has {self.levels}")
        states = self.encoder(tokens, padding_mask)[-1]
        if self.level_head is None:
            return pool(states, padding_mask, self.pooling).astype(jnp.float32)
        words = padding_mask & (tokens >= len(tok.SPECIAL_TOKENS))
        weights = words.astype(jnp.float32)
        if level in ("sentence", "document"):
            pooled, _ = segment_means(states, jnp.where(words, 0, -1), 1)
            out = self.level_head(pooled[:, 0], level)
        else:
            predictions = self._position_predictions(states, words, level)
            out = jnp.einsum("bld,bl->bd", predictions, weights)
            out = out / jnp.maximum(weights.sum(-1, keepdims=True), 1.0)
        size = self.level_dims(level)
        return out[:, :size] if size is not None else out

    def level_token_predictions(
        self, tokens: jax.Array, padding_mask: jax.Array, level: str
    ) -> jax.Array:
        """(B, L, D_level) float32: the head's prediction at every position for a per-position
        level (token: each word token; span: the window of span_length word tokens there), as
        `level_embedding` averages them; 0 at non-word positions (deterministic)."""
        if self.level_head is None or level not in ("token", "span") or level not in self.levels:
            raise ValueError(f"level {level!r} is not a per-position level of {self.levels}")
        states = self.encoder(tokens, padding_mask)[-1]
        words = padding_mask & (tokens >= len(tok.SPECIAL_TOKENS))
        predictions = self._position_predictions(states, words, level) * words[..., None]
        size = self.level_dims(level)
        return predictions[..., :size] if size is not None else predictions

    def _position_predictions(self, states: jax.Array, words: jax.Array, level: str) -> jax.Array:
        if level == "span":
            segments = jnp.where(words, 0, -1)
            members = window_members(words, segments, self.span_length)
            states = window_means(states, members)
        return self.level_head(states, level).astype(jnp.float32)

    def level_dims(self, level: str) -> int | None:
        """The leading dimensions a Matryoshka level uses, None for all of them."""
        return dict(self.matryoshka).get(level)
