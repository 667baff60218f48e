"""Hugging Face BERT checkpoints in and out of strata (research/checkpoints/hf.py):

    python -m research.bert import BERT_DIR_OR_hf:NAME RUN_DIR   # a strata run directory
    python -m research.bert export RUN_DIR OUT_DIR               # a BERT directory

An imported run works with `load_encoder`, `research.search` and `train.init_from` like any run
(`train.init_from` also takes the checkpoint itself and imports it on the fly). Export needs a
post-norm run: one started from BERT, or trained with model.norm=post, model.embed_norm=true.
"""

from __future__ import annotations

import sys
from pathlib import Path

from research.checkpoints import hf
from research.errors import UserError
from research.models.encoder import SIZES
from research.train.run_weights import load_run_weights


def import_checkpoint(source: str, run_dir: str | Path) -> str:
    """Import `source` into `run_dir`; returns the line the command prints."""
    checkpoint = hf.read_bert(source)
    hf.write_run(checkpoint, run_dir)
    model = checkpoint.run_config.model
    architectures = ", ".join(checkpoint.hf_config.get("architectures") or ["BERT"])
    return (
        f"imported {checkpoint.directory} ({architectures}): "
        f"{model.layers or SIZES[model.size]['layers']} layers, "
        f"dim {model.dim or SIZES[model.size]['dim']}, {model.max_len} positions, vocabulary "
        f"{len(checkpoint.vocab.hf_tokens)} ({checkpoint.vocab.doc_token} is [DOC]), "
        f"{checkpoint.heads} head -> {run_dir}"
    )


def export_run(run_dir: str | Path, out_dir: str | Path) -> str:
    """Export the run at `run_dir` (its selected or latest weights) to `out_dir`; returns the
    line the command prints."""
    weights = load_run_weights(run_dir)
    hf.export_bert(run_dir, weights.config, weights.tokenizer, weights.params, out_dir)
    return (
        f"exported {run_dir} (step {weights.step}, {weights.which} weights) -> {out_dir}: "
        "load it with transformers.BertModel.from_pretrained or sentence_transformers."
        "SentenceTransformer"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    into = commands.add_parser("import", help="a BERT directory (or hf:NAME) -> a strata run")
    into.add_argument("source", help="checkpoint directory, or hf:NAME (downloads it)")
    into.add_argument("run_dir")
    out = commands.add_parser("export", help="a strata encoder run -> a BERT directory")
    out.add_argument("run_dir")
    out.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "import":
            print(import_checkpoint(args.source, args.run_dir))
        else:
            print(export_run(args.run_dir, args.out_dir))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
