"""Peak memory against corpus size: tokenising and training must not grow with the corpus.

    python benchmarks/large_corpus_memory.py --sizes 10M,100M

Builds corpora of the requested sizes (in whitespace tokens) by repeating the real English
corpus (--corpus, default ~/.cache/strata-bench-corpus/corpus.txt) into a temporary directory,
then for each size runs, each in its own subprocess so that every peak RSS is its own process's:

  words: tokenise   prepare_corpus on a cold cache (the `datasets` Arrow conversion, counting,
                    writing token ids)
  words: train      fit() for --epochs epochs of skip-gram on the warm cache (the block stream
                    reads the whole token file each epoch)
  encoder: tokenise prepare_sequences on a cold cache (WordPiece training, encoding, the
                    sentence table and packing)

The vocabulary is capped (--max-vocab) so that the model is the same size at every corpus size:
what changes is only the amount of text. The table goes into BENCHMARKS.md between markers, with
the command, machine and date. Peak RSS is ru_maxrss (Linux, KiB), which counts every page of a
memory-mapped file the process has touched.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402

DEFAULT_CORPUS = "~/.cache/strata-bench-corpus/corpus.txt"
STAGES = ("words-tokenise", "words-train", "encoder-tokenise")
STAGE_NAMES = {
    "words-tokenise": "words: tokenise",
    "words-train": "words: train",
    "encoder-tokenise": "encoder: tokenise + pack",
}


def parse_size(text: str) -> int:
    """'100M' -> 100_000_000, '2.5k' -> 2500, '1000' -> 1000."""
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "KMG" else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 10M") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def count_tokens(path: Path) -> int:
    with path.open("rb") as f:
        return sum(len(line.split()) for line in f)


def build_corpus(source: Path, source_tokens: int, tokens: int, out: Path) -> int:
    """Write about `tokens` whitespace tokens to `out`: whole copies of `source`, then its first
    lines until the count is reached. Returns the exact count written."""
    written = 0
    with out.open("wb") as dst:
        for _ in range(tokens // source_tokens):
            with source.open("rb") as src:
                shutil.copyfileobj(src, dst, 16 << 20)
            written += source_tokens
        with source.open("rb") as src:
            for line in src:
                if written >= tokens:
                    break
                dst.write(line)
                written += len(line.split())
    return written


# ----------------------------------------------------------------------------- workers


def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def worker(args) -> dict:
    from research.config import DataConfig, TextDataConfig

    cache = Path(args.cache)
    if args.stage == "encoder-tokenise":
        from research.data.sequences import prepare_sequences

        import_peak = peak_rss_mb()
        config = TextDataConfig(source=args.corpus, cache_dir=str(cache))
        started = time.time()
        data = prepare_sequences(
            config,
            max_len=config.max_len,
            sentence_len=config.sentence_len,
            vocab_size=config.vocab_size,
            progress=False,
        )
        seconds = time.time() - started
        detail = (
            f"{data.meta['sequences']:,} sequences of {config.max_len}, "
            f"{data.meta['sentences']:,} sentences"
        )
        output_mb = _directory_mb(data.path)
    else:
        from research.config import Config
        from research.data.corpus import prepare_corpus

        data_config = DataConfig(
            source=args.corpus, cache_dir=str(cache), max_vocab=args.max_vocab, min_count=5
        )
        if args.stage == "words-tokenise":
            import_peak = peak_rss_mb()
            started = time.time()
            corpus = prepare_corpus(data_config, progress=False)
            seconds = time.time() - started
            detail = f"{corpus.num_tokens:,} ids, vocab {corpus.vocab_size:,}"
            output_mb = _directory_mb(corpus.path)
        else:
            from research.train.word2vec import fit

            import_peak = peak_rss_mb()
            config = Config(name="large_corpus_memory", data=data_config)
            config.model.kind = "skipgram"
            config.train.epochs = args.epochs
            config.train.checkpoint_every = 10**9  # only the final checkpoint
            config.eval.default_suite = False
            config.log.progress = False
            with tempfile.TemporaryDirectory(dir=args.cache) as workdir:
                started = time.time()
                run = fit(config, workdir)
                seconds = time.time() - started
            detail = (
                f"{run.steps:,} steps of {config.train.batch_size} ({args.epochs} epoch(s)), "
                f"vocab {run.corpus.vocab_size:,}"
            )
            output_mb = float("nan")
    return {
        "stage": args.stage,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "import_peak_rss_mb": import_peak,
        "final_rss_mb": _rss_now_mb(),
        "output_mb": output_mb,
        "detail": detail,
    }


def run_worker(stage: str, corpus: Path, cache: Path, args) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--stage",
        stage,
        "--corpus",
        str(corpus),
        "--cache",
        str(cache),
        "--max-vocab",
        str(args.max_vocab),
        "--epochs",
        str(args.epochs),
    ]
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache / "hf"), "JAX_PLATFORMS": "cpu"}
    started = time.time()
    result = run_json_worker(command, f"{corpus.name}: {stage}", env)
    result["process_seconds"] = time.time() - started
    print(
        f"    {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(after imports {result['import_peak_rss_mb']:.0f} MB); {result['detail']}",
        file=sys.stderr,
        flush=True,
    )
    return result


# ----------------------------------------------------------------------------- report


def table(rows: list[dict], args, command: str) -> str:
    import jax

    lines = [
        "### peak memory against corpus size (large_corpus_memory)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; jax {jax.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- corpora: {args.corpus} ({args.source_tokens:,} tokens) repeated or cut to each size; "
        f"word settings: min_count 5, max_vocab {args.max_vocab:,} (same model size at every "
        f"corpus size), skip-gram dim 100, {args.epochs} epoch(s); encoder settings: "
        "TextDataConfig defaults (WordPiece vocab 4000, max_len 128, sentence_len 48)",
        "- each stage is its own process; peak RSS = ru_maxrss, which includes every touched "
        "page of memory-mapped files; 'after imports' is the peak before the work started; "
        "output = the cache written (MB on disk)",
        "",
        "| corpus tokens | text MB | stage | seconds | peak RSS MB | after imports MB "
        "| work MB (peak − imports) | output MB | detail |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (STAGES.index(r["stage"]), r["tokens"])):
        output = "-" if r["output_mb"] != r["output_mb"] else f"{r['output_mb']:,.0f}"
        lines.append(
            f"| {r['tokens']:,} | {r['text_mb']:,.0f} | {STAGE_NAMES[r['stage']]} "
            f"| {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['import_peak_rss_mb']:.0f} "
            f"| {r['peak_rss_mb'] - r['import_peak_rss_mb']:.0f} | {output} | {r['detail']} |"
        )
    changes = []
    for stage in STAGES:
        by = {r["tokens"]: r for r in rows if r["stage"] == stage}
        if len(by) > 1:
            small, large = by[min(by)], by[max(by)]
            a, b = small["peak_rss_mb"], large["peak_rss_mb"]
            changes.append(
                f"- {STAGE_NAMES[stage]}: {min(by):,} → {max(by):,} tokens "
                f"({max(by) / min(by):.1f}× the text): peak RSS {a:.0f} → {b:.0f} MB "
                f"({b - a:+.0f} MB), time {small['seconds']:.0f} → {large['seconds']:.0f} s"
            )
    if changes:
        lines += ["", "Smallest to largest corpus, per stage:", *changes]
    if args.note:
        lines += ["", f"Note: {args.note}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="text to repeat (one doc/line)")
    parser.add_argument(
        "--sizes", default="10M,100M", help="corpus sizes in tokens, comma-separated (e.g. 1M,10M)"
    )
    parser.add_argument(
        "--encoder-sizes", default="", help="sizes for the encoder stage (default: --sizes)"
    )
    parser.add_argument("--stages", default=",".join(STAGES), help="subset of " + ",".join(STAGES))
    parser.add_argument("--max-vocab", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=1, help="word2vec training epochs")
    parser.add_argument("--workdir", default="", help="where corpora and caches go (default: tmp)")
    parser.add_argument("--note", default="", help="a line added under the table")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    source = Path(os.path.expanduser(args.corpus))
    if not source.is_file():
        raise SystemExit(
            f"error: no corpus at {source}; build one with bash ../shared/tools/build_corpus.sh "
            "or pass --corpus PATH"
        )
    word_sizes = {parse_size(s) for s in args.sizes.split(",") if s.strip()}
    encoder_sizes = {parse_size(s) for s in (args.encoder_sizes or args.sizes).split(",") if s}
    sizes = sorted(word_sizes | encoder_sizes)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if not sizes or unknown:
        raise SystemExit(f"error: --sizes needs sizes such as 10M; unknown stages {unknown}")
    if "words-train" in stages and "words-tokenise" not in stages:
        stages.insert(0, "words-tokenise")  # training reads the cache it builds
    command = invocation(__file__)
    args.corpus = str(source)
    args.source_tokens = count_tokens(source)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="strata-large-corpus-"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for tokens in sizes:
            corpus = root / f"corpus-{tokens}.txt"
            exact = build_corpus(source, args.source_tokens, tokens, corpus)
            text_mb = corpus.stat().st_size / 2**20
            cache = root / f"cache-{tokens}"
            for stage in STAGES:
                wanted = encoder_sizes if stage == "encoder-tokenise" else word_sizes
                if stage in stages and tokens in wanted:
                    result = run_worker(stage, corpus, cache, args)
                    rows.append({**result, "tokens": exact, "text_mb": text_mb})
                    if args.json:  # after every stage, so an interrupted run keeps its figures
                        Path(args.json).write_text(json.dumps(rows, indent=2))
            shutil.rmtree(cache, ignore_errors=True)
            corpus.unlink()
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    body = table(rows, args, command)
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "large_corpus_memory", body)


if __name__ == "__main__":
    main()
