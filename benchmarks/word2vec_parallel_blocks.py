"""word2vec quality against train.parallel_blocks = P (blocks per SGD step, data parallelism) at
the default learning rate, one device, same corpus, same evaluation as word2vec_vs_gensim.py.

    python benchmarks/word2vec_parallel_blocks.py \
        --corpus ~/.cache/strata-bench-corpus/corpus_3500k.txt \
        --wordsim /work/shared/data/word/wordsim353.tsv \
        --analogy /work/shared/data/word/questions_words.tsv --blocks 1,2,8,32 --seeds 0

Prints one markdown row per (P, seed): WS-353 Spearman, analogy accuracy overall and per section.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from word2vec_vs_gensim import worker_ours  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--wordsim", required=True)
    parser.add_argument("--analogy", required=True)
    parser.add_argument("--blocks", default="1,2,8,32")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--kind", default="skipgram")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    columns = None
    for blocks in [int(p) for p in args.blocks.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            run_args = argparse.Namespace(
                corpus=os.path.expanduser(args.corpus),
                kind=args.kind,
                output="negative",  # word2vec_vs_gensim's worker also times model.output=hs
                epochs=args.epochs,
                dim=100,
                window=5,
                negative=5,
                sample=1e-3,
                min_count=5,
                seed=seed,
                wordsim=args.wordsim,
                analogy=args.analogy,
                set=[f"train.parallel_blocks={blocks}", "train.devices=1"],
            )
            row = worker_ours(run_args)
            results = row["results"]
            if columns is None:
                columns = sorted(k for k in results if k.startswith(("ws353/", "analogy/")))
                print("| P | seed | train s | " + " | ".join(columns) + " |", flush=True)
                print("|---" * (len(columns) + 3) + "|", flush=True)
            cells = " | ".join(f"{results[k]:.3f}" for k in columns)
            print(f"| {blocks} | {seed} | {row['train_seconds']:.0f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
