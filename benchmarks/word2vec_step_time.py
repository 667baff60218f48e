"""How a word2vec SGD step's time follows its settings: the jitted step alone, on pre-built blocks.

    python benchmarks/word2vec_step_time.py --corpus ~/.cache/strata-bench-corpus/corpus.txt \\
        --variant defaults= --variant negatives16=train.shared_negatives=16 --rounds 3
    python benchmarks/word2vec_step_time.py --corpus /tmp/small.txt --dispatches 5 --out /tmp/s.md

Each variant is a name and its `--set` overrides (comma-separated after `=`; none for the
defaults). Every round runs each variant in a fresh process, the variants in turn, each round
starting one variant later, so that the machine's drift and a variant's place in the round hit
all alike. A worker prepares the corpus (reading its token cache), cuts `--dispatches` groups of
blocks from epoch 0 with the trainer's own block stream (timing that alone: the host pipeline's
rate), builds the step the trainer builds on one device (`word2vec_step.make_train_step` on the
config as `fit` resolves it, without a device mesh), runs one dispatch to compile, and times the
others back to back on the host arrays the trainer passes, waiting for the last at the end. So
the figure is the step's own throughput, without the trainer's producer thread, metric reads,
checkpoints or compilation, which word2vec_profile.py's steady rate and word2vec_vs_gensim.py's
whole-process rate include.

words/s are raw corpus words (out-of-vocabulary words included), as in the other word2vec
benchmarks: the blocks timed times the epoch's raw words per block. Every block holds
batch_size kept tokens, so where variants keep different tokens of the same text (another
vocabulary, other subsampling) ms per block compares their cost per kept token and words/s
their speed through the text. Each variant's row gives its median round and every round; the
ratio is the median over rounds of its words/s over the first variant's in the same round.
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
    name, equals, sets = text.partition("=")
    overrides = [s for s in sets.split(",") if s]
    if not name or not equals or any("=" not in s for s in overrides):
        raise SystemExit(
            f"error: --variant {text!r} is not NAME=KEY=VALUE,... (NAME= for the defaults)"
        )
    return name, overrides


def parse_variants(texts: list[str]) -> dict[str, list[str]]:
    """{name: overrides} of every --variant, in order; a name given twice is refused."""
    variants: dict[str, list[str]] = {}
    for text in texts:
        name, overrides = parse_variant(text)
        if name in variants:
            raise SystemExit(f"error: two --variant are named {name!r}; give each its own name")
        variants[name] = overrides
    return variants


def worker(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    from research.config import Config, apply_override, word2vec_cpu_scheduler
    from research.data import corpus as corpus_lib
    from research.data import windows
    from research.data.blocks import block_groups, block_stream, parallel_groups
    from research.objectives.hierarchical_softmax import huffman_tree
    from research.train import loop, word2vec_step
    from research.train.word2vec import resolve_model_defaults, validate

    config = Config(name="step_time")
    config.data.source = args.corpus
    config.model.kind = args.kind
    config.log.progress = False
    for assignment in args.set or []:
        apply_override(config, assignment)
    validate(config)
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
    sgd_steps = -(-blocks_per_epoch * config.train.epochs // parallel)  # as fit counts them
    tx, schedule = word2vec_step.make_optimizer(config, sgd_steps)
    graphdef, state = word2vec_step.init_state(config, corpus.vocab_size, tx)
    tree = huffman_tree(corpus.counts) if config.model.output == "hs" else None
    step = word2vec_step.make_train_step(config, graphdef, tx, schedule, noise, tree=tree)
    state, metrics = step(state, *batches[0])
    jax.block_until_ready(metrics)
    started = time.perf_counter()
    for ids, docs in batches[1:]:
        state, metrics = step(state, ids, docs)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - started
    # Raw corpus words (out-of-vocabulary ones included), as the other word2vec benchmarks count.
    words_per_block = int(corpus.meta["raw_tokens"]) / blocks_per_epoch
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
        f"### a word2vec step's own time against its settings ({args.label or args.kind}, "
        "word2vec_step_time)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- date: {datetime.date.today().isoformat()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        f"- corpus: {args.corpus}; {args.kind}, the defaults but for each variant's settings; "
        f"{args.dispatches} dispatches of epoch 0, the first one (compilation) untimed; one "
        f"device; {args.rounds} rounds, a fresh process per variant and round",
        "- words/s: raw corpus words through the step alone (pre-built blocks); ms per block: "
        "per batch_size kept tokens; host: the block stream alone cutting the same blocks, in "
        "the median round; ratio: median over rounds against the first variant in the same "
        "round",
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
    if args.rounds < 1:
        raise SystemExit("error: --rounds must be at least 1")
    variants = parse_variants(args.variant or ["defaults="])
    names = list(variants)
    runs = []
    for round_ in range(1, args.rounds + 1):
        # Each round starts one variant later, so that no variant always runs first or last.
        shift = (round_ - 1) % len(names)
        for name in names[shift:] + names[:shift]:
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
