"""A 1 M-word vocabulary at dim 300: peak memory and speed of one epoch, ours against gensim.

    python benchmarks/large_vocab_memory.py --vocab 1M --tokens 6M --dim 300

Real corpora with a million-word vocabulary have billions of tokens; what this benchmark tests
is the model side at that vocabulary size: two 1 M × 300 float32 tables (2.4 GB) and an
optimiser that keeps no dense state over them (a dense Adam would add 4.8 GB). The corpus is
generated: every one of the `--vocab` words once (so that min_count 1 keeps them all) plus
Zipf-distributed draws up to `--tokens`, in sentences of 20 words.

Each implementation runs in its own subprocess so that each peak RSS is its own: ours
(prepare_corpus, then fit: skip-gram, negative 5, window 5, sample 1e-3, one epoch) and gensim
(the same settings, workers = cores). The table goes into BENCHMARKS.md between markers with the
command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402
from large_corpus_memory import parse_size  # noqa: E402

SENTENCE = 20


def word_names(count: int) -> list[str]:
    """`count` distinct lowercase words: the rank in base 26 written with a-z (both tokenisers
    keep letters only, text8-style), prefixed so that none is a real short word."""
    names = []
    for rank in range(count):
        letters = ""
        while True:
            rank, digit = divmod(rank, 26)
            letters = chr(ord("a") + digit) + letters
            if not rank:
                break
        names.append("qx" + letters)
    return names


def build_corpus(path: Path, vocab: int, tokens: int, seed: int) -> int:
    """Every one of `vocab` words once plus Zipf(1.1)-ranked draws; returns the token count."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = word_names(vocab)
    extra = max(tokens - vocab, 0)
    ranks = np.concatenate([np.arange(vocab), (rng.zipf(1.1, extra) - 1) % vocab])
    rng.shuffle(ranks)
    with path.open("w") as f:
        for start in range(0, len(ranks), SENTENCE * 10_000):
            block = ranks[start : start + SENTENCE * 10_000]
            lines = (
                " ".join(names[r] for r in block[i : i + SENTENCE])
                for i in range(0, len(block), SENTENCE)
            )
            f.write("\n".join(lines) + "\n")
    return len(ranks)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def worker_ours(args) -> dict:
    from research.config import Config
    from research.data.corpus import prepare_corpus
    from research.train.word2vec import fit

    config = Config(name="large_vocab_memory")
    config.data.source = args.corpus
    config.data.cache_dir = args.cache
    config.data.min_count = 1
    config.model.kind = "skipgram"
    config.model.dim = args.dim
    config.train.epochs = 1
    config.train.checkpoint_every = 10**9  # only the final checkpoint
    config.eval.default_suite = False
    config.log.progress = False
    started = time.time()
    corpus = prepare_corpus(config.data, progress=False)
    prepare_seconds = time.time() - started
    prepare_peak = peak_rss_mb()
    with tempfile.TemporaryDirectory(dir=args.cache) as workdir:
        run = fit(config, workdir)
        checkpoint_mb = (
            sum(f.stat().st_size for f in Path(workdir, "checkpoints").rglob("*") if f.is_file())
            / 2**20
        )
    raw_words = int(corpus.meta["raw_tokens"])
    return {
        "impl": "ours",
        "vocab": corpus.vocab_size,
        "prepare_seconds": prepare_seconds,
        "prepare_peak_rss_mb": prepare_peak,
        "train_seconds": run.train_seconds,
        "words_per_sec": raw_words / run.train_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "final_rss_mb": _rss_mb(),
        "checkpoint_mb": checkpoint_mb,
    }


def worker_gensim(args) -> dict:
    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(
        vector_size=args.dim, window=5, negative=5, sample=1e-3, min_count=1, sg=1,
        workers=os.cpu_count() or 1, seed=0,
    )  # fmt: skip
    sentences = LineSentence(args.corpus)
    started = time.time()
    model.build_vocab(sentences)
    prepare_seconds = time.time() - started
    prepare_peak = peak_rss_mb()
    started = time.time()
    model.train(sentences, total_examples=model.corpus_count, epochs=1)
    train_seconds = time.time() - started
    return {
        "impl": f"gensim {gensim.__version__}",
        "vocab": len(model.wv),
        "prepare_seconds": prepare_seconds,
        "prepare_peak_rss_mb": prepare_peak,
        "train_seconds": train_seconds,
        "words_per_sec": int(model.corpus_total_words) / train_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "final_rss_mb": _rss_mb(),
        "checkpoint_mb": float("nan"),
    }


def run_worker(name: str, corpus: Path, cache: Path, args) -> dict:
    command = [
        sys.executable, __file__, "--worker", name, "--corpus", str(corpus), "--cache",
        str(cache), "--dim", str(args.dim),
    ]  # fmt: skip
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache / "hf"), "JAX_PLATFORMS": "cpu"}
    result = run_json_worker(command, name, env)
    print(
        f"    vocab {result['vocab']:,}: train {result['train_seconds']:.1f} s "
        f"({result['words_per_sec']:,.0f} words/s), peak RSS {result['peak_rss_mb']:,.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return result


def table(rows: list[dict], args, command: str, tokens: int) -> str:
    import jax

    tables_mb = 2 * args.vocab_words * args.dim * 4 / 2**20
    lines = [
        "### a 1 M-word vocabulary at dim 300 (large_vocab_memory)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; jax {jax.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- corpus: generated, {tokens:,} tokens: each of {args.vocab_words:,} words once plus "
        "Zipf(1.1) draws, sentences of 20 words; skip-gram, dim "
        f"{args.dim}, negative 5, window 5, sample 1e-3, min_count 1, one epoch; gensim workers "
        f"{os.cpu_count()}",
        f"- the two tables (input and output vectors) take {tables_mb:,.0f} MB in float32; a "
        f"dense Adam over them would add {2 * tables_mb:,.0f} MB (two moments)",
        "- each implementation is its own process; peak RSS = ru_maxrss",
        "",
        "| implementation | vocab | prepare s | peak RSS after prepare MB | train s | words/s "
        "| peak RSS MB | peak − tables MB | checkpoint MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        checkpoint = (
            "-" if r["checkpoint_mb"] != r["checkpoint_mb"] else f"{r['checkpoint_mb']:,.0f}"
        )
        lines.append(
            f"| {r['impl']} | {r['vocab']:,} | {r['prepare_seconds']:.1f} "
            f"| {r['prepare_peak_rss_mb']:,.0f} | {r['train_seconds']:.1f} "
            f"| {r['words_per_sec']:,.0f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['peak_rss_mb'] - tables_mb:,.0f} | {checkpoint} |"
        )
    by = {r["impl"].split()[0]: r for r in rows}
    if "ours" in by and "gensim" in by:
        ours, theirs = by["ours"], by["gensim"]
        lines += [
            "",
            f"Ours/gensim: words/s {ours['words_per_sec'] / theirs['words_per_sec']:.2f}×, "
            f"peak RSS {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}×.",
        ]
    if args.note:
        lines += ["", f"Note: {args.note}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", default="1M", help="distinct words (e.g. 1M)")
    parser.add_argument("--tokens", default="6M", help="corpus tokens (at least --vocab)")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--impls", default="ours,gensim")
    parser.add_argument("--workdir", default="", help="where the corpus and caches go (tmp)")
    parser.add_argument("--note", default="", help="a line added under the table")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = worker_ours if args.worker == "ours" else worker_gensim
        print(json.dumps(worker(args)))
        return
    args.vocab_words = parse_size(args.vocab)
    command = invocation(__file__)
    with tempfile.TemporaryDirectory(prefix="strata-large-vocab-", dir=args.workdir or None) as d:
        root = Path(d)
        corpus = root / "corpus.txt"
        print(f"[{time.strftime('%H:%M:%S')}] writing the corpus ...", file=sys.stderr, flush=True)
        tokens = build_corpus(corpus, args.vocab_words, parse_size(args.tokens), seed=0)
        rows = [
            run_worker(name, corpus, root / "cache", args)
            for name in (s.strip() for s in args.impls.split(","))
            if name
        ]
    body = table(rows, args, command, tokens)
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "large_vocab_memory", body)


if __name__ == "__main__":
    main()
