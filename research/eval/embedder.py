"""A trained TextModel behind the `TextEncoder` protocol of research/eval/encoder_api.py:
sentence, token, span, level and in-context embeddings of texts.

Batches have one fixed shape (batch_size x max_len), so the jitted forward pass compiles once.
Texts longer than max_len are truncated; the count is kept in `truncated` and reported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from research.data import tokenizer as tok
from research.errors import UserError
from research.eval.encoder_api import SentenceEncoder
from research.models.heads import pool
from research.models.text_model import TextModel


@dataclass
class TokenEmbeddings:
    vectors: np.ndarray  # (n_tokens, D), [CLS] and [SEP] excluded
    offsets: list[tuple[int, int]]  # character span of each token in the text
    tokens: list[str]


class EncoderEmbedder(SentenceEncoder):
    """A trained TextModel behind the `TextEncoder` protocol of research/eval/encoder_api.py,
    with sentence-transformers' `encode`."""

    def __init__(
        self,
        model: TextModel,
        tokenizer,
        *,
        max_len: int,
        pooling: str = "mean",
        top_layers: int = 1,
        batch_size: int = 64,
    ):
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.pooling = pooling
        self.top_layers = top_layers
        self.batch_size = batch_size
        self.truncated = 0
        self.empty = 0
        layers = model.settings.layers
        if not 1 <= top_layers <= layers + 1:
            raise UserError(f"top_layers={top_layers}: the encoder has {layers} layers")
        graphdef, params = nnx.split(model)
        self._graphdef = graphdef
        self._params = params
        # embed_in_context's last plain embeddings ([texts, vectors]): one list shared with the
        # copies of with_context_table, whose encoder weights are these (only the table differs).
        self._plain: list = [None, None]
        self._layers = layers
        # The strata embed_level serves: the multi-abstraction head's levels, else ("sentence",).
        self.levels: tuple[str, ...] = tuple(model.levels)
        self.contexts: tuple[str, ...] = tuple(model.contexts)
        self.has_level_head = model.level_head is not None

        def forward(params, tokens, padding, layer):
            encoder = nnx.merge(graphdef, params).encoder
            states = encoder(tokens, padding)
            # layer=None: the mean of the top `top_layers` states; else that one layer's states.
            chosen = (
                jnp.mean(jnp.stack(states[-top_layers:]), 0) if layer is None else states[layer]
            )
            pooled = pool(states[-1], padding, pooling)
            return pooled.astype(jnp.float32), chosen.astype(jnp.float32)

        self._forward = jax.jit(forward, static_argnums=3)

        def level_forward(params, tokens, padding, level):
            return nnx.merge(graphdef, params).level_embedding(tokens, padding, level)

        def context_forward(params, embeddings, context_ids):
            return nnx.merge(graphdef, params).contextualize(embeddings, context_ids)

        def position_forward(params, tokens, padding, level):
            model = nnx.merge(graphdef, params)
            return model.level_token_predictions(tokens, padding, level)

        self._level_forward = jax.jit(level_forward, static_argnums=3)
        self._position_forward = jax.jit(position_forward, static_argnums=3)
        self._context_forward = jax.jit(context_forward)

    def use_params(self, params) -> None:
        """Embed with other weights of the same model (periodic evaluation during training):
        the jitted functions take the weights as an argument, so nothing recompiles."""
        self._params = params
        self._plain = [None, None]

    def context_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The context table's (gamma_offset, beta_offset), (contexts, D) each (ContextFiLM)."""
        film = nnx.merge(self._graphdef, self._params).context_film
        if film is None:
            raise UserError("this encoder has no contexts (train with objective multi_abstraction)")
        return np.asarray(film.gamma_offset[...]), np.asarray(film.beta_offset[...])

    def with_context_table(
        self, gamma_offset: np.ndarray, beta_offset: np.ndarray
    ) -> EncoderEmbedder:
        """A copy that embeds with this encoder but another context table: the controls of
        research/eval/context_spaces.py (zeros = the untrained table). Shares the compiled
        functions, so nothing recompiles."""
        self.context_table()  # the same error for an encoder without contexts
        # copy=True: merge otherwise shares the Variables, and the edit would reach this encoder
        model = nnx.merge(self._graphdef, self._params, copy=True)
        model.context_film.gamma_offset[...] = jnp.asarray(gamma_offset, jnp.float32)
        model.context_film.beta_offset[...] = jnp.asarray(beta_offset, jnp.float32)
        clone = copy.copy(self)
        clone.use_params(nnx.split(model)[1])
        clone._plain = self._plain  # the same encoder: its texts' plain embeddings are shared
        return clone

    def _encode(self, texts: list[str]):
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ids, offsets = [], []
        for text, encoding in zip(texts, encodings, strict=True):
            body, spans = encoding.ids, encoding.offsets
            if len(body) > self.max_len - 2:
                self.truncated += 1
                body, spans = body[: self.max_len - 2], spans[: self.max_len - 2]
            if not text.strip():
                self.empty += 1
            ids.append([tok.CLS, *body, tok.SEP])
            offsets.append(list(spans))
        return ids, offsets

    def _run(self, ids: list[list[int]], layer: int | None = None, batch_size: int | None = None):
        pooled, states = [], []
        size = batch_size or self.batch_size
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            tokens = self._batch(chunk, size)
            p, s = self._forward(self._params, tokens, tokens != tok.PAD, layer)
            pooled.append(np.asarray(p)[: len(chunk)])
            states.append(np.asarray(s)[: len(chunk)])
        if not pooled:
            return np.zeros((0, 0), np.float32), np.zeros((0, self.max_len, 0), np.float32)
        return np.concatenate(pooled), np.concatenate(states)

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        """(N, D) sentence embeddings: the pooled last layer (config model.pooling)."""
        ids, _ = self._encode(texts)
        return self._run(ids)[0]

    def _embed_batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        # encode's batch_size is the forward pass's batch (one compile per distinct size).
        ids, _ = self._encode(texts)
        return self._run(ids, batch_size=batch_size)[0]

    def embed_level(self, texts: list[str], level: str) -> np.ndarray:
        """(N, D_level) embeddings of whole texts at one of `levels` (TextModel.level_embedding:
        the head's prediction for that level; "sentence" without the head = embed_sentences)."""
        if level not in self.levels:
            raise UserError(f"level {level!r}: this encoder has levels {', '.join(self.levels)}")
        ids, _ = self._encode(texts)
        out = []
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            tokens = self._batch(chunk)
            vectors = self._level_forward(self._params, tokens, tokens != tok.PAD, level)
            out.append(np.asarray(vectors)[: len(chunk)])
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def embed_in_context(self, texts: list[str], context: str) -> np.ndarray:
        """(N, D) sentence embeddings read in a named context: gamma(c) * e + beta(c) (FiLM of
        embed_sentences; identity for an untrained context)."""
        if context not in self.contexts:
            known = ", ".join(self.contexts) or "none (train with objective multi_abstraction)"
            raise UserError(f"context {context!r}: this encoder's contexts are {known}")
        # The table acts after the encoder: every context and table (the controls of
        # research/eval/context_spaces.py read the same words 80 times) reuses one forward pass.
        texts = list(texts)
        if self._plain[0] != texts:
            self._plain[:] = [texts, self.embed_sentences(texts)]
        embeddings = self._plain[1]
        ids = np.full(self.batch_size, self.contexts.index(context), np.int32)
        out = []
        for start in range(0, len(embeddings), self.batch_size):  # fixed shapes: one compile
            chunk = embeddings[start : start + self.batch_size]
            padded = np.zeros((self.batch_size, chunk.shape[1]), np.float32)
            padded[: len(chunk)] = chunk
            out.append(np.asarray(self._context_forward(self._params, padded, ids))[: len(chunk)])
        return np.concatenate(out) if out else embeddings

    def _batch(self, chunk: list[list[int]], rows: int | None = None) -> np.ndarray:
        tokens = np.full((rows or self.batch_size, self.max_len), tok.PAD, np.int32)
        for row, seq in enumerate(chunk):
            tokens[row, : len(seq)] = seq
        return tokens

    def embed_tokens(self, texts: list[str], layer: int | None = None) -> list[TokenEmbeddings]:
        """Per-token contextual embeddings: the mean of the top `top_layers` layers, or the
        states of one `layer` (0 = embeddings, -1 = last, as indices into every layer's states)."""
        if layer is not None and not -(self._layers + 1) <= layer <= self._layers:
            raise UserError(f"layer={layer}: the encoder has layers 0..{self._layers}")
        ids, offsets = self._encode(texts)
        _, states = self._run(ids, layer)
        out = []
        for row, (seq, spans) in enumerate(zip(ids, offsets, strict=True)):
            n = len(seq) - 2
            out.append(
                TokenEmbeddings(
                    states[row, 1 : 1 + n],
                    spans,
                    [self.tokenizer.id_to_token(i) for i in seq[1:-1]],
                )
            )
        return out

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        """(N, D): mean contextual embedding of the tokens overlapping each character span."""
        ids, offsets = self._encode(texts)
        _, states = self._run(ids)
        return span_means(states, offsets, spans)

    def embed_level_spans(
        self, texts: list[str], spans: list[tuple[int, int]], level: str
    ) -> np.ndarray:
        """(N, D_level): the head's per-position predictions at a token or span level
        (TextModel.level_token_predictions) averaged over the tokens overlapping each span."""
        if level not in self.levels or level not in ("token", "span"):
            raise UserError(
                f"level {level!r}: per-position levels of this encoder are "
                f"{', '.join(x for x in self.levels if x in ('token', 'span')) or 'none'}"
            )
        ids, offsets = self._encode(texts)
        out = []
        for start in range(0, len(ids), self.batch_size):
            tokens = self._batch(ids[start : start + self.batch_size])
            predictions = self._position_forward(self._params, tokens, tokens != tok.PAD, level)
            out.append(np.asarray(predictions)[: len(ids[start : start + self.batch_size])])
        states = np.concatenate(out) if out else np.zeros((0, self.max_len, 0), np.float32)
        return span_means(states, offsets, spans)

    def report(self) -> str:
        return f"{self.truncated} text(s) truncated to {self.max_len} tokens, {self.empty} empty"


def span_means(
    states: np.ndarray, offsets: list[list[tuple[int, int]]], spans: list[tuple[int, int]]
) -> np.ndarray:
    """(N, D): per text, the mean of `states` (N, L, D; position 0 = [CLS]) over the tokens whose
    character offsets overlap its span; zeros where none does."""
    dim = states.shape[-1] if states.size else 0
    out = np.zeros((len(offsets), dim), np.float32)
    for row, ((start, end), token_spans) in enumerate(zip(spans, offsets, strict=True)):
        hits = [i for i, (a, b) in enumerate(token_spans) if a < end and b > start]
        if hits:
            out[row] = states[row, 1 + np.asarray(hits)].mean(axis=0)
    return out


class HeadLevelView(SentenceEncoder):
    """One level of the multi-abstraction head behind the TextEncoder protocol, so that the
    sentence and word-in-context evaluators can score the head's own embeddings beside the
    pooled encoder's (eval.head_levels).

    embed_sentences: the head's embedding of each whole text at `level` (embed_level; for token
    and span levels the mean of its per-position predictions, as in training). embed_spans (token
    and span levels only): its per-position predictions averaged over the word's tokens.
    `reads` says which evaluators can read it (their own `reads`).
    """

    def __init__(self, embedder: EncoderEmbedder, level: str):
        if not embedder.has_level_head:
            raise UserError(
                "eval.head_levels needs the multi-abstraction head (objective multi_abstraction); "
                "this encoder has none: set eval.head_levels=[]"
            )
        if level not in embedder.levels:
            raise UserError(
                f"eval.head_levels names {level!r}; the head's levels are "
                f"{', '.join(embedder.levels)}"
            )
        self.embedder = embedder
        self.level = level
        per_position = level in ("token", "span")
        self.reads: tuple[str, ...] = ("sentences", "spans") if per_position else ("sentences",)

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_level(texts, self.level)

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        if "spans" not in self.reads:
            raise UserError(
                f"the head's {self.level!r} level embeds whole texts, not words in context"
            )
        return self.embedder.embed_level_spans(texts, spans, self.level)
