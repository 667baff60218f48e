"""Embedding API: per-token contextual embeddings and sentence embeddings from a trained encoder.

    from research.embed import load_encoder
    encoder = load_encoder("runs/encoder_mlm")
    sentences = encoder.embed_sentences(["the bank of the river", "a loan from the bank"])
    tokens = encoder.embed_tokens(["the bank of the river"])[0]   # (n_tokens, D) + offsets
    encoder.levels                                  # e.g. ("token", "span", "sentence", ...)
    docs = encoder.embed_level(["the bank of the river"], "document")     # (N, D_level)
    water = encoder.embed_in_context(["bank"], "water")  # FiLM space (multi_abstraction runs)

Batches have one fixed shape (batch_size × max_len), so the jitted forward pass compiles once.
Texts longer than max_len are truncated; the count is kept in `truncated` and reported.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from research import config as config_lib
from research.config import EncoderRunConfig
from research.data import tokenizer as tok
from research.errors import UserError
from research.models.heads import pool
from research.models.text_model import TextModel


@dataclass
class TokenEmbeddings:
    vectors: np.ndarray  # (n_tokens, D), [CLS] and [SEP] excluded
    offsets: list[tuple[int, int]]  # character span of each token in the text
    tokens: list[str]


class EncoderEmbedder:
    """A trained TextModel behind the `TextEncoder` protocol of research/eval/encoder_api.py."""

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
        self._params = params
        self._layers = layers
        # The strata embed_level serves: the multi-abstraction head's levels, else ("sentence",).
        self.levels: tuple[str, ...] = tuple(model.levels)
        self.contexts: tuple[str, ...] = tuple(model.contexts)

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

        self._level_forward = jax.jit(level_forward, static_argnums=3)
        self._context_forward = jax.jit(context_forward)

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

    def _run(self, ids: list[list[int]], layer: int | None = None):
        pooled, states = [], []
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            tokens = self._batch(chunk)
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
        embeddings = self.embed_sentences(texts)
        ids = np.full(self.batch_size, self.contexts.index(context), np.int32)
        out = []
        for start in range(0, len(embeddings), self.batch_size):  # fixed shapes: one compile
            chunk = embeddings[start : start + self.batch_size]
            padded = np.zeros((self.batch_size, chunk.shape[1]), np.float32)
            padded[: len(chunk)] = chunk
            out.append(np.asarray(self._context_forward(self._params, padded, ids))[: len(chunk)])
        return np.concatenate(out) if out else embeddings

    def _batch(self, chunk: list[list[int]]) -> np.ndarray:
        tokens = np.full((self.batch_size, self.max_len), tok.PAD, np.int32)
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
        dim = states.shape[-1] if states.size else 0
        out = np.zeros((len(texts), dim), np.float32)
        for row, ((start, end), token_spans) in enumerate(zip(spans, offsets, strict=True)):
            hits = [i for i, (a, b) in enumerate(token_spans) if a < end and b > start]
            if hits:
                out[row] = states[row, 1 + np.asarray(hits)].mean(axis=0)
        return out

    def report(self) -> str:
        return f"{self.truncated} text(s) truncated to {self.max_len} tokens, {self.empty} empty"


def load_encoder(
    run_dir: str | Path,
    *,
    top_layers: int | None = None,
    pooling: str | None = None,
    batch_size: int = 64,
) -> EncoderEmbedder:
    """Load a finished (or checkpointed) encoder run: its config, tokeniser and latest weights."""
    from research.io.checkpoint import Checkpointer
    from research.train.encoder_step import init_state, make_optimizer

    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise UserError(
            f"{run_dir} is not an encoder run (no config.json); train one with "
            "python launch.py experiments/encoder_mlm.py --workdir DIR"
        )
    raw = json.loads(config_path.read_text())
    if "objective" not in raw:
        raise UserError(f"{run_dir} is a word-vector run; use python -m research.query for it")
    config = config_lib.from_dict(EncoderRunConfig, raw)
    tokenizer = tok.load_tokenizer(run_dir / "tokenizer.json")
    run_info_path = run_dir / "run.json"
    if run_info_path.exists():
        trained_vocab = json.loads(run_info_path.read_text()).get("vocab_size")
        if trained_vocab is not None and trained_vocab != tokenizer.get_vocab_size():
            raise UserError(
                f"{run_dir}: the tokeniser has {tokenizer.get_vocab_size()} tokens but the "
                f"checkpoint was trained with {trained_vocab}; restore the run's own "
                "tokenizer.json"
            )
    checkpoints = Checkpointer(run_dir / "checkpoints")
    step = checkpoints.latest_step()
    if step is None:
        raise UserError(f"{run_dir} has no checkpoint yet; train it first")
    tx, _ = make_optimizer(config)
    graphdef, like = jax.eval_shape(lambda: init_state(config, tokenizer.get_vocab_size(), tx))
    state, _ = checkpoints.restore(step, like)
    checkpoints.close()
    model = nnx.merge(graphdef, state["params"])
    return EncoderEmbedder(
        model,
        tokenizer,
        max_len=config.data.max_len,
        pooling=pooling or config.model.pooling,
        top_layers=top_layers or config.eval.top_layers,
        batch_size=batch_size,
    )


def main(argv: list[str] | None = None) -> int:
    """python -m research.embed RUN_DIR "text" ...: print sentence-embedding norms and cosines."""
    import argparse

    parser = argparse.ArgumentParser(description="embed texts with a trained encoder run")
    parser.add_argument("run_dir")
    parser.add_argument("texts", nargs="+")
    args = parser.parse_args(argv)
    try:
        embedder = load_encoder(args.run_dir)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    vectors = embedder.embed_sentences(args.texts)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    cosines = unit @ unit.T
    for i, text in enumerate(args.texts):
        row = " ".join(f"{c:+.3f}" for c in cosines[i])
        print(f"{text[:50]:50s}  {row}")
    print(embedder.report(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
