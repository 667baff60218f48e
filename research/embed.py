"""Embedding API: per-token contextual embeddings and sentence embeddings from a trained encoder,
and sentence-transformers' `encode` for any run, encoder or word2vec.

    from research.embed import load_model
    model = load_model("runs/encoder_mlm")           # or a word2vec run: averaged word vectors
    model.encode(["a loan from the bank"], batch_size=32, normalize_embeddings=True)  # (1, D)
    load_model("runs/word2vec", pooling="sif").encode("the bank of the river")        # (D,)

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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from flax import nnx

from research.baselines import AveragedWordVectors
from research.errors import UserError
from research.eval.embedder import EncoderEmbedder, TokenEmbeddings
from research.models.heads import POOLING
from research.train.run_weights import load_run_weights

__all__ = [
    "AveragedWordVectors",
    "EncoderEmbedder",
    "TokenEmbeddings",
    "load_encoder",
    "load_model",
    "load_word_vectors",
]

WORD_POOLING = ("mean", "sif")
VOCAB_FILE = "vocab.txt"  # the corpus counts a word2vec run writes beside vectors.txt


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


def load_word_vectors(
    run_dir: str | Path,
    pooling: str = "mean",
    *,
    a: float = 1e-3,
    remove_components: int = 0,
    reference_texts: Iterable[str] | None = None,
) -> AveragedWordVectors:
    """A word2vec run as a sentence encoder: the mean of a text's unit word vectors
    (`pooling="mean"`), or SIF-weighted (`"sif"`: weights a / (a + p(w)) with p(w) from the run's
    corpus counts in vocab.txt). `remove_components` > 0 also removes SIF's common component(s),
    fitted on `reference_texts` (research/baselines.py)."""
    from research.query import load_run_vectors

    if pooling not in WORD_POOLING:
        raise UserError(f"pooling {pooling!r} for a word-vector run; choose one of mean, sif")
    vectors = load_run_vectors(run_dir)
    counts = Path(run_dir).expanduser() / VOCAB_FILE
    if pooling == "sif":
        if not counts.is_file():
            raise UserError(
                f"{run_dir} has no {VOCAB_FILE} (the corpus counts SIF weighting needs); rerun "
                "the run's command: a finished run is re-evaluated and writes it"
            )
        vectors = vectors.with_vocab_counts(counts)
    return AveragedWordVectors(
        vectors,
        weighting="sif" if pooling == "sif" else "uniform",
        a=a,
        remove_components=remove_components,
        reference_texts=reference_texts,
    )


def is_word_vector_run(run_dir: Path) -> bool:
    """A word2vec-style run (its config has no encoder objective) or a bare vectors.txt."""
    config = run_dir / "config.json"
    if config.is_file():
        return "objective" not in json.loads(config.read_text())
    return (run_dir / "vectors.txt").is_file()


def load_model(
    run_dir: str | Path,
    pooling: str | None = None,
    *,
    batch_size: int = 64,
) -> EncoderEmbedder | AveragedWordVectors:
    """Any trained run as a sentence encoder with `encode` (sentence-transformers' conventions),
    chosen by the run's config: an encoder run through `load_encoder` (`pooling` = mean, cls or
    last; default the run's model.pooling), a word2vec run through `load_word_vectors`
    (`pooling` = mean or sif; default mean)."""
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise UserError(f"run directory {run_dir} does not exist; pass the --workdir of a run")
    if is_word_vector_run(path):
        return load_word_vectors(path, pooling or "mean")
    if pooling is not None and pooling not in POOLING:
        raise UserError(
            f"pooling {pooling!r} for the encoder run {run_dir}; choose one of {', '.join(POOLING)}"
        )
    return load_encoder(path, pooling=pooling, batch_size=batch_size)


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
