"""Reproduction 2: SIF (Arora, Liang & Ma 2017) with this project's word2vec on STS Benchmark.

    nice -n 10 python benchmarks/repro_sif.py --corpus ~/.cache/strata-bench-corpus/corpus.txt

Trains skip-gram word2vec at the defaults (dim 100, window 5, negative 5, sample 1e-3,
min_count 5, 5 epochs) on the corpus once per seed (resumable: a finished run in --workdir is
reused), then scores on STS Benchmark dev and test, with cosine of sentence vectors:

* average: the mean of the sentence's word vectors;
* SIF weights: the mean weighted by a / (a + p(w)), a = 1e-3, p(w) the word's relative
  frequency in the training corpus;
* SIF + PC removal: the same, minus the projection on the first singular vector of the weighted
  averages of `--reference-lines` lines of the training corpus (every k-th line);
* SIF + PC removal (paper): the component fitted on the evaluated split's own sentences, as the
  paper's code does (transductive).

each on unit-length word vectors (this project's averaging) and on the raw rows (the paper's).
Spearman and Pearson x 100, mean ± std over seeds. Writes the table into BENCHMARKS.md between
markers, with the command, commit, machine and date. Dev is the only split to choose by; test
is reported.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import machine, write_section  # noqa: E402

STSB = "sentence/stsbenchmark/sts-{}.csv"
VARIANTS = [  # (label, weighting, PC source)
    ("average", "uniform", None),
    ("SIF weights", "sif", None),
    ("SIF + PC removal (PC from corpus)", "sif", "corpus"),
    ("SIF + PC removal (PC from the evaluated split, paper)", "sif", "split"),
]
# Published figures (Pearson r x 100). Cer et al. 2017, STS Benchmark results (dev / test);
# Arora et al. 2017, Table 1 (STS12-15 averages of Pearson x 100), GloVe-840B vectors.
PAPER = {
    "average": "GloVe avg 52.4 / 40.6; word2vec skip-gram avg 70.0 / 56.5 (Cer et al.)",
    "SIF + PC removal (PC from the evaluated split, paper)": "GloVe+WR 80.1 / 72.0 (Cer et al.)",
}


def train(corpus: str, seed: int, workdir: Path):
    from research.config import Config
    from research.train.word2vec import fit

    config = Config(name=f"repro_sif_seed{seed}")
    config.data.source = corpus
    config.train.seed = seed
    config.eval.default_suite = False
    config.log.progress = False
    started = time.time()
    run = fit(config, workdir / f"word2vec_seed{seed}")
    print(f"seed {seed}: trained in {time.time() - started:.0f} s", file=sys.stderr)
    return run.vectors


def reference_lines(corpus: str, n: int) -> list[str]:
    lines = Path(corpus).expanduser().read_text().splitlines()
    step = max(1, len(lines) // n)
    return lines[::step][:n]


def score(vectors, pairs, weighting: str, pc: str | None, unit: bool, reference: list[str]):
    from research.baselines import AveragedWordVectors
    from research.eval.common import pearson, spearman
    from research.eval.encoder_api import embed_sentences, paired_cosine

    sentences = pairs.sentences1 + pairs.sentences2
    model = AveragedWordVectors(
        vectors,
        weighting=weighting,
        remove_components=1 if pc else 0,
        reference_texts=reference if pc == "corpus" else None,
        unit=unit,
    )
    if pc == "split":
        model.fit_components(sentences)
    n = len(pairs.scores)
    embedded = embed_sentences(model, sentences)
    cosines = paired_cosine(embedded[:n], embedded[n:]).astype(np.float64)
    return 100 * spearman(pairs.scores, cosines), 100 * pearson(pairs.scores, cosines)


def cell(values: list[float]) -> str:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.1f} ± {std:.1f}"


def main() -> None:
    from research.eval.sts import read_sts_file
    from research.eval.suites import eval_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="~/.cache/strata-bench-corpus/corpus.txt")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "repro_sif"))
    parser.add_argument("--data-dir", default="", help="evaluation data (default: eval.data_dir)")
    parser.add_argument("--reference-lines", type=int, default=20000)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    corpus = str(Path(args.corpus).expanduser())
    data_dir = eval_data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit("no evaluation data directory: pass --data-dir or set STRATA_EVAL_DATA")
    splits = {s: read_sts_file(data_dir / STSB.format(s)) for s in ("dev", "test")}
    reference = reference_lines(corpus, args.reference_lines)
    started = time.time()
    results: dict[tuple, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        vectors = train(corpus, seed, Path(args.workdir))
        for unit in (True, False):
            for label, weighting, pc in VARIANTS:
                for split, pairs in splits.items():
                    key = (label, unit, split)
                    results.setdefault(key, []).append(
                        score(vectors, pairs, weighting, pc, unit, reference)
                    )
    minutes = (time.time() - started) / 60
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    command = "nice -n 10 python benchmarks/repro_sif.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]
    )
    lines = [
        f"`{command}` — {datetime.date.today()}, commit {commit}, {machine()}; seeds "
        f"{args.seeds}, {minutes:.1f} min (training included unless reused). Skip-gram at the "
        f"defaults on {Path(corpus).name}; STS Benchmark dev (1,500 pairs) / test (1,379 pairs); "
        f"cosine; ×100, mean ± std over seeds. PC from corpus: {len(reference):,} lines.",
        "",
        "| sentence vector | word vectors | dev Spearman | test Spearman | dev Pearson | "
        "test Pearson | published (Pearson dev / test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for unit in (True, False):
        for label, _, _ in VARIANTS:
            dev, test = results[(label, unit, "dev")], results[(label, unit, "test")]
            lines.append(
                f"| {label} | {'unit' if unit else 'raw'} | {cell([s for s, _ in dev])} | "
                f"{cell([s for s, _ in test])} | {cell([p for _, p in dev])} | "
                f"{cell([p for _, p in test])} | {PAPER.get(label, '')} |"
            )
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "repro_sif", table)


if __name__ == "__main__":
    main()
