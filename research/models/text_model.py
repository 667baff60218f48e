"""The encoder with the heads its objectives need, built from an experiment config."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from research.config import EncoderRunConfig, objective_weights
from research.data import tokenizer as tok
from research.models.encoder import Encoder, EncoderConfig
from research.models.heads import MLMHead, ProjectionHead, pool
from research.models.multilevel_head import ContextFiLM, MultiLevelHead
from research.objectives import multilevel


def encoder_config(config: EncoderRunConfig, vocab_size: int) -> EncoderConfig:
    return EncoderConfig.from_size(
        config.model.size,
        vocab_size,
        max_len=max(config.data.max_len, config.data.sentence_len),
        dropout=config.model.dropout,
        positions=config.model.positions,
        dtype=config.model.dtype,
    )


class TextModel(nnx.Module):
    """Encoder + a tied LM head (mlm, next_token) + a projection head (contrastive) + the
    multi-abstraction head and context table (multi_abstraction).

    Heads exist only for the objectives in the config, so a checkpoint holds exactly what was
    trained. Sentence embeddings for evaluation are the pooled last layer, before the projection
    (as SimCSE evaluates): the projection serves the loss, the encoder serves the user.
    `levels` names the strata `level_embedding` serves: the head's levels, or ("sentence",)
    (the pooled last layer) without the head.
    """

    def __init__(self, config: EncoderRunConfig, vocab_size: int, *, rngs: nnx.Rngs):
        self.settings = encoder_config(config, vocab_size)
        terms = objective_weights(config.objective)
        dtype = self.settings.compute_dtype
        dim = self.settings.dim
        self.encoder = Encoder(self.settings, rngs=rngs)
        self.lm_head = (
            MLMHead(dim, vocab_size, dtype=dtype, rngs=rngs)
            if {"mlm", "next_token"} & set(terms)
            else None
        )
        self.projection = (
            ProjectionHead(dim, dim, dtype=dtype, rngs=rngs) if "contrastive" in terms else None
        )
        self.pooling = config.model.pooling
        self.span_length = config.objective.span_length
        multi = "multi_abstraction" in terms
        objective = config.objective
        self.levels: tuple[str, ...] = (
            multilevel.parse_levels(objective) if multi else ("sentence",)
        )
        # (level, n) pairs: a level that uses only its first n dims (a tuple: graph-static data)
        self.matryoshka = (
            tuple(multilevel.parse_matryoshka(objective, dim).items()) if multi else ()
        )
        self.contexts = multilevel.parse_contexts(objective) if multi else ()
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
            pooled, _ = multilevel.segment_means(states, jnp.where(words, 0, -1), 1)
            out = self.level_head(pooled[:, 0], level)
        else:
            if level == "span":
                segments = jnp.where(words, 0, -1)
                members = multilevel.window_members(words, segments, self.span_length)
                states = multilevel.window_means(states, members)
            predictions = self.level_head(states, level)
            out = jnp.einsum("bld,bl->bd", predictions, weights)
            out = out / jnp.maximum(weights.sum(-1, keepdims=True), 1.0)
        size = self.level_dims(level)
        return out[:, :size] if size is not None else out

    def level_dims(self, level: str) -> int | None:
        """The leading dimensions a Matryoshka level uses, None for all of them."""
        return dict(self.matryoshka).get(level)
