"""How a word2vec SGD step's time follows its settings: the jitted step alone, on pre-built blocks.

    python benchmarks/word2vec_step_time.py --corpus ~/.cache/strata-bench-corpus/corpus.txt \\
        --variant defaults= --variant negatives16=train.shared_negatives=16 --rounds 3
    python benchmarks/word2vec_step_time.py --corpus /tmp/small.txt --dispatches 5 --out /tmp/s.md

Each variant is a name and its `--set` overrides (comma-separated after `=`; none for the
defaults). Every round runs each variant in a fresh process, the variants in turn (reversed in
even rounds), so that the machine's drift hits all alike. A worker prepares the corpus (reading
its token cache), cuts `--dispatches` groups of blocks from epoch 0 with the trainer's own block
stream (timing that alone: the host pipeline's rate), builds the step the trainer builds
(`word2vec_step.make_train_step` on the config as `fit` resolves it for one device), runs one
dispatch to compile, and times the others back to back on the host arrays the trainer passes,
waiting for the last at the end. So the figure is the step's own throughput, without the
trainer's producer thread, metric reads, checkpoints or compilation, which word2vec_profile.py's
steady rate and word2vec_vs_gensim.py's whole-process rate include.

words/s are raw corpus words, as in the other word2vec benchmarks: kept tokens times the epoch's
raw words per kept token. Each variant's row gives its median round and every round; the ratio
is the median over rounds of its words/s over the first variant's in the same round.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import invocation, machine, run_json_worker, write_section  # noqa: E402


def parse_variant(text: str) -> tuple[str, list[str]]:
    """'name=key=value,key=value' -> (name, [key=value, ...]); 'name=' has no overrides."""
    name, _, sets = text.partition("=")
    if not name:
        raise SystemExit(f"error: --variant {text!r} has no name; write NAME=KEY=VALUE,...")
    return name, [s for s in sets.split(",") if s]


def worker(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    from research.config import Config, apply_override, word2vec_cpu_scheduler
    from research.data import corpus as corpus_lib
    from research.data import windows
    from research.data.blocks import block_groups, block_stream, parallel_groups
    from research.train import loop, word2vec_step
    from research.train.word2vec import resolve_model_defaults

    config = Config(name="step_time")
    config.data.source = args.corpus
    config.model.kind = args.kind
    config.log.progress = False
    for assignment in args.set or []:
        apply_override(config, assignment)
    config = resolve_model_defaults(config)
    corpus = corpus_lib.prepare_corpus(config.data, progress=False)
    stream = block_stream(corpus, config)
    blocks_per_epoch = stream.blocks_in_epoch(0)
    parallel = config.train.parallel_blocks
    group = config.train.steps_per_dispatch * parallel
    if blocks_per_epoch < args.dispatches * group:
        raise SystemExit(
            f"error: epoch 0 holds {blocks_per_epoch} blocks, fewer than --dispatches "
            f"{args.dispatches} x {group}: lower --dispatches or use a larger corpus"
        )
    started = time.perf_counter()
    batches = []
    groups = block_groups(stream, [blocks_per_epoch], 0, group)
    for ids, docs, _ in parallel_groups(groups, parallel, None):
        batches.append((ids, docs))
        if len(batches) == args.dispatches:
            break
    host_seconds = time.perf_counter() - started
    noise = windows.noise_distribution(corpus.counts)
    block_tokens = corpus.counts * stream.keep_prob
    config, _ = word2vec_step.resolve_curvature_bound(
        config, noise, block_tokens / block_tokens.sum()
    )
    tx, schedule = word2vec_step.make_optimizer(config, blocks_per_epoch * config.train.epochs)
    graphdef, state = word2vec_step.init_state(config, corpus.vocab_size, tx)
    step = word2vec_step.make_train_step(config, graphdef, tx, schedule, noise)
    state, metrics = step(state, *batches[0])
    jax.block_until_ready(metrics)
    started = time.perf_counter()
    for ids, docs in batches[1:]:
        state, metrics = step(state, ids, docs)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - started
    words_per_block = len(corpus.tokens) / blocks_per_epoch  # raw words, as elsewhere
    timed_blocks = (len(batches) - 1) * group
    return {
        "kind": args.kind,
        "set": args.set or [],
        "words_per_sec": timed_blocks * words_per_block / seconds,
        "host_words_per_sec": len(batches) * group * words_per_block / host_seconds,
        "ms_per_block": 1000 * seconds / timed_blocks,
        "cpu_scheduler": loop.cpu_schedule(word2vec_cpu_scheduler(config)),
        "loss": float(np.asarray(metrics["loss"])),
    }


def summarise(runs: list[dict], names: list[str]) -> list[dict]:
    """Per variant (in `names` order): its median round, every round's words/s, and the median
    over rounds of its words/s over the first variant's in the same round."""
    rounds = sorted({r["round"] for r in runs})
    by = {(r["variant"], r["round"]): r for r in runs}
    rows = []
    for name in names:
        mine = [by[(name, k)] for k in rounds]
        rates = [r["words_per_sec"] for r in mine]
        ratios = [
            by[(name, k)]["words_per_sec"] / by[(names[0], k)]["words_per_sec"] for k in rounds
        ]
        median = sorted(mine, key=lambda r: r["words_per_sec"])[(len(mine) - 1) // 2]
        rows.append({"variant": name, **median, "rates": rates, "ratio": statistics.median(ratios)})
    return rows


def table(rows: list[dict], command: str, args: argparse.Namespace) -> str:
    lines = [
        f"### a word2vec step's own time against its settings ({args.kind}, word2vec_step_time)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- date: {datetime.date.today().isoformat()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        f"- corpus: {args.corpus}; {args.kind}, the defaults but for each variant's settings; "
        f"{args.dispatches} dispatches of epoch 0, the first one (compilation) untimed; "
        f"{args.rounds} rounds, a fresh process per variant and round",
        "- words/s: raw corpus words through the step alone (pre-built blocks); host: the block "
        "stream alone cutting the same blocks; ratio: median over rounds against the first "
        "variant in the same round",
        "",
        "| variant | settings | op schedule | words/s (median round) | ms per block | ratio | "
        "host words/s | words/s per round |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        settings = ", ".join(f"`{s}`" for s in r["set"]) or "the defaults"
        rounds = " / ".join(f"{x:,.0f}" for x in r["rates"])
        lines.append(
            f"| {r['variant']} | {settings} | {r['cpu_scheduler'] or 'n/a'} | "
            f"{r['words_per_sec']:,.0f} | {r['ms_per_block']:.3f} | {r['ratio']:.2f}× | "
            f"{r['host_words_per_sec']:,.0f} | {rounds} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="~/.cache/strata-bench-corpus/corpus.txt")
    parser.add_argument("--kind", default="skipgram", choices=("skipgram", "cbow"))
    parser.add_argument(
        "--variant",
        action="append",
        help="NAME=KEY=VALUE,... (repeat; the first is the ratios' reference); default: the "
        "defaults alone",
    )
    parser.add_argument("--dispatches", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="added to the section's name")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpus = os.path.expanduser(args.corpus)
    if not os.path.isfile(args.corpus):
        raise SystemExit(f"error: no corpus at {args.corpus}; pass --corpus PATH")
    if args.dispatches < 2:
        raise SystemExit("error: --dispatches must be at least 2 (the first one compiles)")
    if args.worker:
        print(json.dumps(worker(args)))
        return
    variants = dict(parse_variant(v) for v in args.variant or ["defaults="])
    names = list(variants)
    runs = []
    for round_ in range(1, args.rounds + 1):
        for name in names if round_ % 2 else names[::-1]:
            command = [sys.executable, __file__, "--worker", "--corpus", args.corpus]
            command += ["--kind", args.kind, "--dispatches", str(args.dispatches)]
            for assignment in variants[name]:
                command += ["--set", assignment]
            result = run_json_worker(command, f"round {round_} {name}")
            runs.append({**result, "variant": name, "round": round_})
    body = table(summarise(runs, names), invocation(__file__), args)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    label = f" {args.label}" if args.label else ""
    write_section(Path(args.out), f"word2vec_step_time {Path(args.corpus).name}{label}", body)


if __name__ == "__main__":
    main()
