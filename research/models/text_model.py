"""The encoder with the heads its objectives need, built from an experiment config."""

from __future__ import annotations

import jax
from flax import nnx

from research.config import EncoderRunConfig, objective_weights
from research.models.encoder import Encoder, EncoderConfig
from research.models.heads import MLMHead, ProjectionHead, pool


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
    """Encoder + a tied LM head (mlm, next_token) + a projection head (contrastive).

    Heads exist only for the objectives in the config, so a checkpoint holds exactly what was
    trained. Sentence embeddings for evaluation are the pooled last layer, before the projection
    (as SimCSE evaluates): the projection serves the loss, the encoder serves the user.
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

    def lm_logits(self, states: jax.Array) -> jax.Array:
        return self.lm_head(states, self.encoder.token_embed.embedding[...])

    def sentence_embedding(
        self, tokens: jax.Array, padding_mask: jax.Array, *, deterministic: bool = True, rngs=None
    ) -> jax.Array:
        states = self.encoder(tokens, padding_mask, deterministic=deterministic, rngs=rngs)
        return pool(states[-1], padding_mask, self.pooling)
