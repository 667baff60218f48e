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

import json
import sys
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from research import config as config_lib
from research.config import EncoderRunConfig
from research.data import tokenizer as tok
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.models.embedder import EncoderEmbedder, TokenEmbeddings
from research.objectives.registry import text_model

__all__ = ["EncoderEmbedder", "TokenEmbeddings", "load_encoder"]


def load_encoder(
    run_dir: str | Path,
    *,
    top_layers: int | None = None,
    pooling: str | None = None,
    batch_size: int = 64,
) -> EncoderEmbedder:
    """Load a finished (or checkpointed) encoder run: its config, tokeniser and latest weights."""
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
    vocab_size = tokenizer.get_vocab_size()
    graphdef, like = jax.eval_shape(
        lambda: nnx.split(text_model(config, vocab_size, rngs=nnx.Rngs(params=0)))
    )
    params = checkpoints.restore_params(step, like)
    checkpoints.close()
    model = nnx.merge(graphdef, params)
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
