"""Skip-gram words/s against the memory-bandwidth roofline of the device JAX uses.

    python benchmarks/word2vec_roofline.py                       # 100 M tokens, dim 300
    python benchmarks/word2vec_roofline.py --tokens 2M --dim 100 --out /tmp/roof.md  # a smoke run

Trains this project's skip-gram (`research.train.word2vec.fit`: negative 5, window 5, sample 1e-3,
one epoch, one device, only the final checkpoint) on a corpus of --tokens tokens and reports its
speed against what the device's memory bandwidth allows, and against BlazingText's published
figure. Three subprocesses, so that each peak RSS is its own: prepare (generate the corpus, build
the token cache), bandwidth, train. With --workdir the corpus and caches are kept there and reused
by the next run (and --prepare-only stops after building them, for machines that limit the length
of one command); without it they live in a temporary directory.

Definitions:

- words/s (wall) = raw corpus words x epochs / training wall time (`TrainedRun.train_seconds`,
  which includes compilation and the final checkpoint), as in the project's other benchmarks.
  words/s (steady) leaves out the first log interval (compilation) and the final checkpoint: the
  blocks and seconds of metrics.jsonl's later rows, scaled from kept to raw words.
- copy bandwidth = bytes read + written per second by a jitted `y = x + 1` over a large float32
  array (1 GiB on a GPU, 256 MiB on a CPU; --copy-mib), x donated so that y is written in place
  (a fresh output would be page-faulted in on every CPU call: ten times slower there), timed
  with block_until_ready, best of several trials of several calls after a warm-up: a
  STREAM-copy-like kernel on the device that trains.
- bytes per training pair = 2 x (1 + (k + 1)) x dim x 4: each (centre, context) pair of
  skip-gram with k negatives reads the centre's input row and k + 1 output rows (the context and
  the k negatives), float32, and writes all of them back. This is word2vec.c's per-pair SGD with
  no reuse of rows between pairs. This project shares rows between the centres of a block (each
  block token's output row serves every centre it is a context of, and `shared_negatives`
  negatives serve a chunk of `chunk_size` centres), so its own table traffic is lower; the
  report shows that figure too, for information.
- training pairs per raw word = expected number of (centre, context) pairs the run trained on,
  over raw words x epochs. It is computed after training from the run's own subsampled block
  stream (the same seed, so the same kept tokens, document edges and block halos), with each
  context at distance d counted with the probability (window - d + 1) / window that the dynamic
  window (reach uniform in 1..window) includes it: exact up to the random draw of reaches. The
  textbook estimate, kept fraction x (window + 1) (2 x E[reach], no document edges), is shown
  beside it.
- roofline words/s = copy bandwidth / (bytes per pair x pairs per raw word).
- BlazingText: "up to 43M words/sec on 8 GPUs" (Gupta & Khare, BlazingText: Scaling and
  Accelerating Word2Vec using Multiple GPUs, MLHPC'17), i.e. 5.4 M per GPU: a published figure,
  not measured here, on other hardware and another corpus.
- target (issue target 2, for a GPU only): at least 10 M words/s and 30 % of the roofline, on a
  corpus of at least 100 M tokens.

Corpus (--generator, unless --corpus PATH is given): "zipf" (the default) writes --tokens words
drawn from a Zipf(1.1) law over --vocab distinct made-up words, 1,000 words per line (one
document per line, word2vec.c's sentence length), like large_vocab_memory.py's; at 100 M tokens
and min_count 5 that keeps a vocabulary of several hundred thousand words, so the two dim-300
tables (about 1 GB) are far larger than any cache, as the roofline assumes. "synthetic" uses the
project's synthetic world (data.source=synthetic): realistic structure, but about 800 distinct
words, whose tables (2 MB at dim 300) stay in cache, and it generates about 0.5 M tokens/s in
one thread (about 200 s per 100 M tokens) holding the whole corpus in memory.

The table goes into --out (BENCHMARKS.md) between markers named after the device kind, with the
command, machine, device, jax version and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402
from large_corpus_memory import parse_size  # noqa: E402
from large_vocab_memory import word_names  # noqa: E402

ZIPF_EXPONENT = 1.1
LINE_WORDS = 1000  # words per generated line (= document), word2vec.c's MAX_SENTENCE_LENGTH
BLAZINGTEXT_WORDS_PER_SEC = 43e6  # published, 8 GPUs (Gupta & Khare, MLHPC'17)
BLAZINGTEXT_GPUS = 8
TARGET_WORDS_PER_SEC = 10e6
TARGET_ROOFLINE = 0.30
TARGET_TOKENS = 100_000_000
PAIR_BLOCKS = 256  # blocks stacked per vectorised step of the pair count


def bytes_per_pair(dim: int, negative: int, itemsize: int = 4) -> int:
    """2 (read + write) x (1 input row + (k + 1) output rows) x dim x itemsize bytes (4 for
    float32 tables, 2 for model.table_dtype=bfloat16)."""
    return 2 * (1 + (negative + 1)) * dim * itemsize


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------


def build_zipf_corpus(path: Path, tokens: int, vocab: int, seed: int) -> int:
    """Write `tokens` Zipf(1.1)-ranked words (rank mod `vocab`), LINE_WORDS per line; returns the
    count. Written under a temporary name and renamed, so a present file is complete."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = np.array(word_names(vocab), dtype=object)
    tmp = path.with_name(path.name + ".tmp")
    written = 0
    with tmp.open("w") as f:
        while written < tokens:
            n = min(LINE_WORDS * 10_000, tokens - written)
            words = names[(rng.zipf(ZIPF_EXPONENT, n) - 1) % vocab].tolist()
            lines = (" ".join(words[i : i + LINE_WORDS]) for i in range(0, n, LINE_WORDS))
            f.write("\n".join(lines) + "\n")
            written += n
    os.replace(tmp, path)
    return written


def make_config(args: argparse.Namespace) -> Any:
    """The run's Config; prepare and train build the same one, so the token cache is shared."""
    from research.config import Config, apply_override

    config = Config(name="word2vec_roofline")
    if args.corpus_path == "synthetic":
        config.data.source = "synthetic"
        config.data.synthetic_tokens = args.tokens
        config.data.synthetic_seed = args.seed
    else:
        config.data.source = args.corpus_path
    config.data.cache_dir = args.cache
    config.data.min_count = args.min_count
    config.data.window = args.window
    config.data.negatives = args.negative
    config.data.sample = args.sample
    config.model.kind = "skipgram"
    config.model.dim = args.dim
    config.train.epochs = args.epochs
    config.train.seed = args.seed
    config.train.devices = 1  # one device: the roofline is one device's bandwidth
    config.train.checkpoint_every = 10**9  # only the final checkpoint
    config.eval.default_suite = False
    config.log.progress = False
    for assignment in args.set or []:
        apply_override(config, assignment)
    return config


# --------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------


def worker_prepare(args: argparse.Namespace) -> dict:
    from research.data import corpus as corpus_lib

    generate_seconds = 0.0
    if args.generator == "zipf" and not Path(args.corpus_path).exists():
        started = time.time()
        build_zipf_corpus(Path(args.corpus_path), args.tokens, args.vocab, args.seed)
        generate_seconds = time.time() - started
    config = make_config(args)
    if args.generator == "synthetic":
        started = time.time()
        corpus_lib.resolve_data_source(config.data)  # generates the world unless cached
        generate_seconds = time.time() - started
    started = time.time()
    corpus = corpus_lib.prepare_corpus(config.data, progress=False)
    return {
        "generate_seconds": generate_seconds,
        "tokenise_seconds": time.time() - started,
        "raw_words": int(corpus.meta["raw_tokens"]),
        "tokens": corpus.num_tokens,
        "vocab": corpus.vocab_size,
        "raw_vocab": int(corpus.meta["raw_vocab"]),
        "documents": int(corpus.meta["documents"]),
        "peak_rss_mb": peak_rss_mb(),
    }


def device_info() -> dict:
    import jax

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax": jax.__version__,
    }


def worker_bandwidth(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    info = device_info()
    mib = args.copy_mib or (256 if info["platform"] == "cpu" else 1024)
    n = mib * 2**20 // 4
    x = jax.device_put(jnp.arange(n, dtype=jnp.float32))
    # Donated: y is written over x, so no call pays for allocating (on a CPU: page-faulting in)
    # a fresh output, as the train step, which donates its tables, does not either.
    step = jax.jit(lambda a: a + jnp.float32(1), donate_argnums=0)
    for _ in range(3):
        x = step(x)
    x.block_until_ready()
    calls, trials = 5, 7
    seconds = []
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(calls):
            x = step(x)
        x.block_until_ready()
        seconds.append((time.perf_counter() - started) / calls)
    moved = 2 * n * 4  # read x, write y
    return {
        **info,
        "copy_bytes": moved,
        "copy_seconds_best": min(seconds),
        "copy_seconds_median": sorted(seconds)[len(seconds) // 2],
        "bandwidth_bytes_per_sec": moved / min(seconds),
        "calls_per_trial": calls,
        "trials": trials,
    }


def expected_pairs(stream: Any, blocks_per_epoch: list[int], window: int, batch: int) -> float:
    """Expected (centre, context) pairs of the blocks training saw: a context at distance d
    counts (window - d + 1) / window, the chance that the reach (uniform in 1..window) covers
    it; padding and words of another document never pair (negative_sampling.offset_mask)."""
    import numpy as np

    weights = [(window - d + 1) / window for d in range(1, window + 1)]

    def count(ids: list, docs: list) -> float:
        ids_a, docs_a = np.stack(ids), np.stack(docs)
        centre_docs = docs_a[:, window : window + batch]
        total = 0.0
        for d, weight in zip(range(1, window + 1), weights, strict=True):
            for lo in (window - d, window + d):
                valid = (ids_a[:, lo : lo + batch] >= 0) & (
                    docs_a[:, lo : lo + batch] == centre_docs
                )
                total += weight * int(np.count_nonzero(valid))
        return total

    pairs = 0.0
    for epoch, blocks in enumerate(blocks_per_epoch):
        ids, docs = [], []
        for block in stream.epoch_blocks(epoch):
            if block.index >= blocks:
                break
            ids.append(block.ids)
            docs.append(block.docs)
            if len(ids) == PAIR_BLOCKS:
                pairs += count(ids, docs)
                ids, docs = [], []
        if ids:
            pairs += count(ids, docs)
    return pairs


def steady_rate(rows: list[dict], batch: int) -> tuple[float, float]:
    """(blocks, seconds) of metrics.jsonl's rows after the first (which holds compilation)."""
    blocks = seconds = 0.0
    for before, row in zip(rows[:-1], rows[1:], strict=True):
        done = row["step"] - before["step"]
        if done > 0 and row.get("words_per_sec"):
            blocks += done
            seconds += done * batch / row["words_per_sec"]
    return blocks, seconds


def host_pipeline_rate(
    stream: Any, blocks_per_epoch: list[int], config: Any, seconds: float = 20.0
) -> tuple[int, float]:
    """(blocks, seconds) of the host pipeline alone: subsampling, blocks and halos stacked into
    the train step's groups, in one thread, as the train loop's prefetch thread builds them.
    Training cannot run faster than this, whatever the device."""
    from research.data.blocks import block_groups

    group = config.train.steps_per_dispatch * config.train.parallel_blocks
    blocks, started = 0, time.perf_counter()
    for _, _, real in block_groups(stream, blocks_per_epoch, 0, group):
        blocks += real
        if time.perf_counter() - started > seconds:
            break
    return blocks, time.perf_counter() - started


def worker_train(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    from research import config as config_lib
    from research.data import windows
    from research.train.word2vec import fit

    info = device_info()
    config = make_config(args)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.cache))
    try:
        run = fit(config, run_dir)
        rows = [
            json.loads(line)
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            if line.strip()
        ]
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    train_peak_rss = peak_rss_mb()
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # not every backend reports memory
        stats = {}
    corpus = run.corpus
    batch, window = config.train.batch_size, config.data.window
    steady_blocks, steady_seconds = steady_rate(rows, batch)

    started = time.time()
    keep = windows.keep_probabilities(corpus.counts, config.data.sample)
    stream = windows.BlockStream(
        corpus.tokens,
        corpus.doc_offsets,
        keep,
        batch_size=batch,
        window=window,
        seed=config.train.seed,
    )
    blocks_per_epoch = [stream.blocks_in_epoch(e) for e in range(config.train.epochs)]
    pairs = expected_pairs(stream, blocks_per_epoch, window, batch)
    pair_count_seconds = time.time() - started
    host_blocks, host_seconds = host_pipeline_rate(stream, blocks_per_epoch, config)
    raw_words = int(corpus.meta["raw_tokens"])
    return {
        **info,
        "train_seconds": run.train_seconds,
        "compile_seconds": rows[0].get("compile_seconds") if rows else None,
        "blocks": run.steps,
        "blocks_per_epoch": blocks_per_epoch,
        "steady_blocks": steady_blocks,
        "steady_seconds": steady_seconds,
        "raw_words": raw_words,
        "vocab": corpus.vocab_size,
        "kept_words": sum(blocks_per_epoch) * batch,
        "expected_kept_fraction": float((corpus.counts * keep).sum() / raw_words),
        "expected_pairs": pairs,
        "pair_count_seconds": pair_count_seconds,
        "host_blocks": host_blocks,
        "host_seconds": host_seconds,
        "batch_size": batch,
        "table_itemsize": int(np.dtype(config.model.table_dtype).itemsize),
        "chunk_size": config.train.chunk_size,
        "shared_negatives": config_lib.shared_negatives(config),
        "steps_per_dispatch": config.train.steps_per_dispatch,
        "parallel_blocks": config.train.parallel_blocks,
        "final_loss": rows[-1].get("loss") if rows else None,
        "finite_vectors": bool(np.isfinite(run.vectors.vectors).all()),
        "peak_rss_mb": train_peak_rss,
        "peak_device_bytes": stats.get("peak_bytes_in_use"),
        "device_bytes_limit": stats.get("bytes_limit"),
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def derive(args: argparse.Namespace, bw: dict, train: dict) -> dict:
    """Every reported ratio, from the three workers' raw numbers."""
    words = train["raw_words"] * args.epochs
    itemsize = train.get("table_itemsize", 4)
    per_pair = bytes_per_pair(args.dim, args.negative, itemsize)
    pairs_per_word = train["expected_pairs"] / words
    bytes_per_word = per_pair * pairs_per_word
    roofline = bw["bandwidth_bytes_per_sec"] / bytes_per_word
    wall = words / train["train_seconds"]
    steady = (
        words * train["steady_blocks"] / train["blocks"] / train["steady_seconds"]
        if train["steady_seconds"] > 0
        else math.nan
    )
    # This implementation's own table rows per block: B centre input rows, the B + 2w block
    # tokens' output rows (every centre's context) and n shared negative rows per chunk, each
    # gathered and scattered back.
    chunks = train["batch_size"] // train["chunk_size"]
    rows_per_block = (
        train["batch_size"]
        + train["batch_size"]
        + 2 * args.window
        + chunks * train["shared_negatives"]
    )
    impl_bytes_per_word = 2 * rows_per_block * args.dim * itemsize * train["blocks"] / words
    return {
        "bytes_per_pair": per_pair,
        "kept_per_raw_word": train["kept_words"] / words,
        "pairs_per_kept_word": train["expected_pairs"] / train["kept_words"],
        "pairs_per_raw_word": pairs_per_word,
        "pairs_per_raw_word_estimate": train["expected_kept_fraction"] * (args.window + 1),
        "bytes_per_raw_word": bytes_per_word,
        "roofline_words_per_sec": roofline,
        "words_per_sec_wall": wall,
        "words_per_sec_steady": steady,
        "roofline_fraction_wall": wall / roofline,
        "roofline_fraction_steady": steady / roofline,
        "impl_bytes_per_raw_word": impl_bytes_per_word,
        "impl_roofline_words_per_sec": bw["bandwidth_bytes_per_sec"] / impl_bytes_per_word,
        "host_words_per_sec": words * train["host_blocks"] / train["blocks"] / train["host_seconds"]
        if train["host_seconds"] > 0
        else math.nan,
    }


def _m(value: float) -> str:
    return "-" if value != value else f"{value / 1e6:,.2f} M"


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.1f} %"


def corpus_line(args: argparse.Namespace, prep: dict) -> str:
    sizes = (
        f"{prep['raw_words']:,} raw words, {prep['documents']:,} documents, vocabulary "
        f"{prep['vocab']:,} at min_count {args.min_count} (of {prep['raw_vocab']:,})"
    )
    if args.generator == "file":
        return f"{args.corpus_path}: {sizes}"
    if args.generator == "synthetic":
        return f"generated: the synthetic world (data.source=synthetic, seed {args.seed}): {sizes}"
    return (
        f"generated: Zipf({ZIPF_EXPONENT}) ranks over {args.vocab:,} made-up words (rank mod "
        f"vocabulary), {LINE_WORDS:,} words per line (= document), seed {args.seed}: {sizes}"
    )


def targets(bw: dict, train: dict, d: dict) -> list[str]:
    if bw["platform"] != "gpu":
        return [
            f"- target (≥ {TARGET_WORDS_PER_SEC / 1e6:.0f} M words/s and ≥ "
            f"{100 * TARGET_ROOFLINE:.0f} % of the roofline) is for a GPU; not checked on "
            f"{bw['platform']} ({bw['device_kind']})",
        ]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = []
    for name, wps, frac in (
        ("wall", d["words_per_sec_wall"], d["roofline_fraction_wall"]),
        ("steady", d["words_per_sec_steady"], d["roofline_fraction_steady"]),
    ):
        lines.append(
            f"- target, {name}: ≥ {TARGET_WORDS_PER_SEC / 1e6:.0f} M words/s "
            f"{verdict(wps >= TARGET_WORDS_PER_SEC)} ({_m(wps)}); ≥ {100 * TARGET_ROOFLINE:.0f} % "
            f"of the roofline {verdict(frac >= TARGET_ROOFLINE)} ({_pct(frac)})"
        )
    if d["words_per_sec_steady"] >= 0.8 * d["host_words_per_sec"]:
        lines.append(
            f"- training runs at ≥ 80 % of the host pipeline's own rate "
            f"({_m(d['host_words_per_sec'])} words/s in one thread): the host, not the device, "
            "limits it"
        )
    if train["raw_words"] < TARGET_TOKENS:
        lines.append(
            f"- the corpus has fewer than the {TARGET_TOKENS / 1e6:.0f} M tokens the target "
            "asks for: this run does not count for it"
        )
    return lines


def table(args: argparse.Namespace, prep: dict, bw: dict, train: dict, command: str) -> str:
    d = derive(args, bw, train)
    k, dim, w = args.negative, args.dim, args.window
    per_gpu = BLAZINGTEXT_WORDS_PER_SEC / BLAZINGTEXT_GPUS
    device_mb = (
        "-" if train["peak_device_bytes"] is None else f"{train['peak_device_bytes'] / 2**20:,.0f}"
    )
    compile_s = "-" if train["compile_seconds"] is None else f"{train['compile_seconds']:.1f}"
    overrides = f"; overrides: {' '.join(args.set)}" if args.set else ""
    lines = [
        f"### word2vec skip-gram against the memory-bandwidth roofline ({bw['device_kind']})",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; device: {bw['device_kind']} ({bw['platform']}, one of "
        f"{bw['device_count']}); jax {bw['jax']}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- corpus: {corpus_line(args, prep)}",
        f"- training: skip-gram, dim {dim}, window {w}, negative {k}, sample {args.sample}, "
        f"{args.epochs} epoch(s), seed {args.seed}, one device; blocks of {train['batch_size']} "
        f"centres in chunks of {train['chunk_size']} sharing {train['shared_negatives']} "
        f"negatives, {train['steps_per_dispatch']} blocks per dispatch, parallel_blocks "
        f"{train['parallel_blocks']}{overrides}; final loss {train['final_loss']}",
        f"- bytes per pair = 2 × (1 + (k + 1)) × dim × bytes per value = 2 × {k + 2} × {dim} × "
        f"{train.get('table_itemsize', 4)} = {d['bytes_per_pair']:,}: each (centre, context) "
        "pair reads the centre's input row and k + 1 output rows (context + k negatives) in the "
        "tables' dtype, and writes them back (word2vec.c's per-pair traffic, no row reuse)",
        "- pairs per raw word: expected pairs of the run's own subsampled block stream (same "
        "seed: same kept tokens, document edges and halos; a context at distance d counts "
        "(window − d + 1) / window), over raw words × epochs; the estimate kept fraction × "
        "(window + 1) ignores document edges",
        f"- copy bandwidth: jitted y = x + 1 over {bw['copy_bytes'] // 2 // 2**20:,} MiB of "
        f"float32 (x donated: in place), (read + write) bytes / s, best of {bw['trials']} "
        f"trials of {bw['calls_per_trial']} calls after a warm-up (median "
        f"{bw['copy_bytes'] / bw['copy_seconds_median'] / 1e9:,.1f} GB/s)",
        "- words/s (wall) = raw words × epochs / training wall time (compilation and the final "
        "checkpoint included); words/s (steady) = the same from metrics.jsonl's rows after the "
        "first log interval",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| copy bandwidth | {bw['bandwidth_bytes_per_sec'] / 1e9:,.1f} GB/s |",
        f"| bytes per training pair | {d['bytes_per_pair']:,} |",
        f"| kept words per raw word (subsampling, min_count) | {d['kept_per_raw_word']:.3f} |",
        f"| training pairs per kept word | {d['pairs_per_kept_word']:.3f} |",
        f"| training pairs per raw word (measured stream) | {d['pairs_per_raw_word']:.3f} |",
        f"| training pairs per raw word (estimate: kept fraction × (window + 1)) "
        f"| {d['pairs_per_raw_word_estimate']:.3f} |",
        f"| bytes per raw word | {d['bytes_per_raw_word']:,.0f} |",
        f"| **roofline words/s** (bandwidth / bytes per raw word) "
        f"| **{_m(d['roofline_words_per_sec'])}** |",
        f"| **achieved words/s (wall)** | **{_m(d['words_per_sec_wall'])}** |",
        f"| **achieved / roofline (wall)** | **{_pct(d['roofline_fraction_wall'])}** |",
        f"| achieved words/s (steady) | {_m(d['words_per_sec_steady'])} |",
        f"| achieved / roofline (steady) | {_pct(d['roofline_fraction_steady'])} |",
        f"| training wall s / compile s | {train['train_seconds']:.1f} / {compile_s} |",
        f"| blocks trained / in steady rows "
        f"| {train['blocks']:,} / {train['steady_blocks']:,.0f} |",
        f"| BlazingText, published (not measured here): 43 M words/s on 8 GPUs "
        f"| ours (wall) = {d['words_per_sec_wall'] / BLAZINGTEXT_WORDS_PER_SEC:.3f}× of it |",
        f"| BlazingText per GPU, published: 43 / 8 = {per_gpu / 1e6:.1f} M words/s "
        f"| ours (wall) = {d['words_per_sec_wall'] / per_gpu:.3f}× of it |",
        f"| host pipeline alone: subsampling, blocks, halos, one thread, no device "
        f"({train['host_blocks']:,} blocks in {train['host_seconds']:.1f} s) "
        f"| {_m(d['host_words_per_sec'])} words/s |",
        f"| for information: this implementation's table-row bytes per raw word (shared rows "
        f"per chunk) and its roofline | {d['impl_bytes_per_raw_word']:,.0f} B, "
        f"{_m(d['impl_roofline_words_per_sec'])} |",
        f"| prepare s (generate / tokenise; ~0 when reused from --workdir) "
        f"| {prep['generate_seconds']:.1f} / {prep['tokenise_seconds']:.1f} |",
        f"| peak RSS MB (training process) | {train['peak_rss_mb']:,.0f} |",
        f"| peak device memory MB (memory_stats) | {device_mb} |",
        "",
        *targets(bw, train, d),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def worker_command(name: str, args: argparse.Namespace, corpus_path: str, cache: Path) -> list:
    command = [
        sys.executable, __file__, "--worker", name, "--corpus-path", corpus_path,
        "--cache", str(cache), "--generator", args.generator, "--tokens", str(args.tokens),
        "--vocab", str(args.vocab), "--dim", str(args.dim), "--negative", str(args.negative),
        "--window", str(args.window), "--sample", str(args.sample), "--epochs",
        str(args.epochs), "--min-count", str(args.min_count), "--seed", str(args.seed),
        "--copy-mib", str(args.copy_mib),
    ]  # fmt: skip
    for assignment in args.set or []:
        command += ["--set", assignment]
    return command


def run(args: argparse.Namespace, workdir: Path, command: str) -> None:
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if args.corpus:
        corpus_path = str(Path(args.corpus).expanduser().resolve())
    elif args.generator == "synthetic":
        corpus_path = "synthetic"
    else:
        corpus_path = str(
            workdir / f"zipf-{args.tokens}-v{args.vocab}-a{ZIPF_EXPONENT}-s{args.seed}.txt"
        )
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache / "hf")}
    if args.platform:
        env["JAX_PLATFORMS"] = args.platform

    def work(name: str, label: str) -> dict:
        return run_json_worker(worker_command(name, args, corpus_path, cache), label, env)

    what = corpus_path if args.generator == "file" else f"{args.generator}, {args.tokens:,} tokens"
    prep = work("prepare", f"prepare corpus ({what})")
    print(
        f"    {prep['raw_words']:,} raw words, vocabulary {prep['vocab']:,}; generate "
        f"{prep['generate_seconds']:.1f} s, tokenise {prep['tokenise_seconds']:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if args.prepare_only:
        print(json.dumps(prep))
        return
    bw = work("bandwidth", "copy bandwidth")
    print(
        f"    {bw['device_kind']}: {bw['bandwidth_bytes_per_sec'] / 1e9:,.1f} GB/s",
        file=sys.stderr,
        flush=True,
    )
    train = work("train", "train")
    body = table(args, prep, bw, train, command)
    print(body)
    results = {
        "command": command,
        "args": {k: v for k, v in vars(args).items() if k != "worker"},
        "prepare": prep,
        "bandwidth": bw,
        "train": train,
        "derived": derive(args, bw, train),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    write_section(Path(args.out), f"word2vec_roofline {bw['device_kind']}", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=parse_size, default="100M", help="corpus tokens, e.g. 2M")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default="", help="train on this text file instead")
    parser.add_argument(
        "--generator",
        choices=["zipf", "synthetic", "file"],
        default="zipf",
        help="corpus to generate (file: set by --corpus)",
    )
    parser.add_argument("--vocab", type=parse_size, default="1M", help="zipf: distinct words")
    parser.add_argument("--copy-mib", type=int, default=0, help="0: 1024 on GPU, 256 on CPU")
    parser.add_argument("--platform", default="", help="JAX_PLATFORMS for the workers")
    parser.add_argument("--set", action="append", help="extra config override, e.g. train.x=1")
    parser.add_argument("--workdir", default="", help="keep corpus and caches here (reused)")
    parser.add_argument("--prepare-only", action="store_true", help="build corpus + cache, stop")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument(
        "--worker", choices=["prepare", "bandwidth", "train"], help=argparse.SUPPRESS
    )
    parser.add_argument("--corpus-path", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = {"prepare": worker_prepare, "bandwidth": worker_bandwidth, "train": worker_train}
        print(json.dumps(worker[args.worker](args)))
        return
    if args.corpus:
        if not os.path.isfile(os.path.expanduser(args.corpus)):
            raise SystemExit(f"error: no corpus at {args.corpus}")
        args.generator = "file"
    command = invocation(__file__)
    if args.workdir:
        workdir = Path(args.workdir).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        run(args, workdir, command)
        return
    with tempfile.TemporaryDirectory(prefix="strata-w2v-roofline-") as d:
        run(args, Path(d), command)


if __name__ == "__main__":
    main()
