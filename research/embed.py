"""Embedding API: per-token contextual embeddings and sentence embeddings from a trained encoder.

    from research.embed import load_encoder
    encoder = load_encoder("runs/encoder_mlm")
    sentences = encoder.embed_sentences(["the bank of the river", "a loan from the bank"])
    tokens = encoder.embed_tokens(["the bank of the river"])[0]   # (n_tokens, D) + offsets
    encoder.levels                                  # e.g. ("token", "span", "sentence", ...)
    docs = encoder.embed_level(["the bank of the river"], "document")     # (N, D_level)
    water = encoder.embed_in_context(["bank"], "water")  # FiLM space (multi_abstraction runs)

Only the model's parameters are read from the checkpoint: embedding needs neither the optimizer
(which an experiment file may have chosen) nor anything of the trainer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from flax import nnx

from research.errors import UserError
from research.models.embedder import EncoderEmbedder, TokenEmbeddings
from research.train.run_weights import load_run_weights

__all__ = ["EncoderEmbedder", "TokenEmbeddings", "load_encoder"]


def load_encoder(
    run_dir: str | Path,
    *,
    top_layers: int | None = None,
    pooling: str | None = None,
    batch_size: int = 64,
) -> EncoderEmbedder:
    """Load a finished (or checkpointed) encoder run: its config, tokeniser and weights (the
    parameters selected by eval.select when the run kept them, else the latest checkpoint)."""
    weights = load_run_weights(run_dir)
    config = weights.config
    return EncoderEmbedder(
        nnx.merge(weights.graphdef, weights.params),
        weights.tokenizer,
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
