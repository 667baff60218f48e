"""This project's phrase detection against gensim's `Phrases`, same corpus, same settings.

    python benchmarks/phrases_vs_gensim.py            # the 14.7 M-token corpus
    python benchmarks/phrases_vs_gensim.py --small    # its first 1 M tokens (corpus_1m.txt)

Both run 2 passes with gensim's scorer (`original_scorer`: N = unigram + bigram types), the same
min_count and threshold (gensim's defaults, 5 and 10), each in its own subprocess (so peak RSS
is per implementation):

  ours    prepare_corpus with data.phrases=2, data.phrase_scoring=gensim on a cold token cache:
          read the text, find and join phrases twice, write the joined token ids (data.min_count
          1, so that every joined token is kept and the two outputs can be compared). The
          `datasets` Arrow copy of the text file is made before the clock starts and timed apart
          (a one-off per file, shared with every other cache of it). A plain cache build (no
          phrases) is timed too, to show what phrases add.
  gensim  `Phrases(LineSentence(corpus))`, then `Phrases` on pass 1's output (pass 1 applied
          through its frozen form, which equals it on raw words), then one pass writing the
          twice-joined corpus. Pass 2 is applied unfrozen: `freeze()` rebuilds the phrase table
          with `export_phrases`, which splits pass-2 tokens at "_" and so scores `new` + `times`
          for `new_york_times`, not what `Phrases` itself applies.

Compared: the phrases each pass scores above the threshold (pass 1: gensim's export_phrases;
pass 2: the phrases it joined at least once, as export_phrases is wrong there, and ours the
same way), the phrase tokens of the final corpus, Jaccard overlap and each direction, the
tokens after each pass, and whether the two joined corpora are identical (an md5 of the token
stream). Writes its section of BENCHMARKS.md between markers, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402

CORPUS_DIR = Path("~/.cache/strata-bench-corpus").expanduser()


def stream_digest(sentences) -> tuple[str, int]:
    """(md5 of the non-empty sentences, one per line, tokens joined by spaces; token count)."""
    digest, tokens = hashlib.md5(), 0
    for sentence in sentences:
        if sentence:
            digest.update((" ".join(sentence) + "\n").encode())
            tokens += len(sentence)
    return digest.hexdigest(), tokens


def worker_ours(args) -> dict:
    import numpy as np

    from research.config import DataConfig
    from research.data import corpus as corpus_lib
    from research.data import text

    def config(cache: str, passes: int) -> DataConfig:
        return DataConfig(
            source=args.corpus,
            cache_dir=cache,
            min_count=1,
            phrases=passes,
            phrase_min_count=args.min_count,
            phrase_threshold=args.threshold,
            phrase_scoring="gensim",
        )

    started = time.time()
    text.open_text(text.resolve_source(args.corpus))  # the Arrow copy, made once per file
    arrow_seconds = time.time() - started
    with tempfile.TemporaryDirectory() as cache:
        started = time.time()
        corpus = corpus_lib.prepare_corpus(config(cache, args.passes), progress=False)
        seconds = time.time() - started
        rss = peak_rss_mb()
        passes = json.loads((corpus.path / "phrases.json").read_text())
        offsets = np.asarray(corpus.doc_offsets)
        tokens = np.asarray(corpus.tokens)
        words = corpus.words
        digest, n_tokens = stream_digest(
            [words[i] for i in tokens[s:e]] for s, e in zip(offsets[:-1], offsets[1:], strict=True)
        )
        final = sorted(w for w in words if "_" in w)
        # Pass 2's phrases joined at least once (final counts > 0), as measured for gensim.
        last = set(passes[-1]["phrases"]) & set(final)
        started = time.time()
        corpus_lib.prepare_corpus(config(cache, 0), progress=False)
        plain_seconds = time.time() - started
    return {
        "impl": "ours",
        "seconds": seconds,
        "arrow_seconds": arrow_seconds,
        "plain_seconds": plain_seconds,
        "peak_rss_mb": rss,
        "raw_tokens": int(corpus.meta["raw_tokens"]),
        "pass_phrases": [sorted(passes[0]["phrases"]), sorted(last)],
        "tokens_after": [p["tokens_out"] for p in corpus.meta["phrase_passes"]],
        "final_phrases": final,
        "digest": digest,
        "tokens": n_tokens,
        "stats": corpus.meta["phrase_passes"],
    }


def worker_gensim(args) -> dict:
    import gensim
    from gensim.models.phrases import Phrases
    from gensim.models.word2vec import LineSentence

    sentences = LineSentence(args.corpus, max_sentence_length=10**9)
    settings = {"min_count": args.min_count, "threshold": args.threshold}
    timings = {}
    started = time.time()
    first = Phrases(sentences, **settings)
    timings["pass 1 count"] = time.time() - started
    started = time.time()
    frozen = first.freeze()
    first_phrases = sorted(first.export_phrases())
    timings["pass 1 freeze"] = time.time() - started
    once = frozen[sentences]
    tokens_once = 0
    started = time.time()
    second = Phrases(once, **settings)
    timings["pass 2 count (applying pass 1)"] = time.time() - started
    second_joined: set[str] = set()
    final: set[str] = set()

    def twice():
        for sentence in once:
            out = []
            for token, score in second.analyze_sentence(sentence):
                if score is not None:
                    second_joined.add(token)
                out.append(token)
            yield out

    started = time.time()
    digest, n_tokens = stream_digest(twice())
    timings["write (applying both)"] = time.time() - started
    rss = peak_rss_mb()
    for sentence in once:  # untimed: pass 1's token count, and the final phrase tokens
        tokens_once += len(sentence)
        final.update(t for t in second[sentence] if "_" in t)
    return {
        "impl": f"gensim {gensim.__version__}",
        "seconds": sum(timings.values()),
        "timings": timings,
        "peak_rss_mb": rss,
        "raw_tokens": int(first.corpus_word_count),
        "pass_phrases": [first_phrases, sorted(second_joined)],
        "tokens_after": [tokens_once, n_tokens],
        "final_phrases": sorted(final),
        "digest": digest,
        "tokens": n_tokens,
    }


def overlap(ours: list[str], theirs: list[str]) -> str:
    a, b = set(ours), set(theirs)
    both = len(a & b)
    jaccard = both / len(a | b) if a | b else 1.0
    return (
        f"{len(a):,} | {len(b):,} | {jaccard:.4f} | {both / max(len(a), 1):.4f} "
        f"| {both / max(len(b), 1):.4f}"
    )


def table(ours: dict, theirs: dict, args, command: str) -> str:
    ratio = ours["seconds"] / theirs["seconds"]
    lines = [
        f"### phrases vs gensim ({Path(args.corpus).name})",
        "",
        f"- command: `{command}`",
        f"- machine: {args.machine or machine()}",
        f"- date: {datetime.date.today().isoformat()}; commit {args.commit}",
        f"- corpus: {args.corpus} ({ours['raw_tokens']:,} tokens; gensim counted "
        f"{theirs['raw_tokens']:,}); {args.passes} passes, min_count {args.min_count}, "
        f"threshold {args.threshold:g}, gensim's scorer (N = unigram + bigram types) for both",
        "",
        "| set of phrases | ours | gensim | Jaccard | ours found by gensim "
        "| gensim's found by ours |",
        "|---|---|---|---|---|---|",
        f"| pass 1: scored above threshold | {overlap(*(r['pass_phrases'][0] for r in (ours, theirs)))} |",  # noqa: E501
        f"| pass 2: joined at least once | {overlap(*(r['pass_phrases'][1] for r in (ours, theirs)))} |",  # noqa: E501
        f"| phrase tokens of the joined corpus | {overlap(ours['final_phrases'], theirs['final_phrases'])} |",  # noqa: E501
        "",
        f"- tokens after pass 1 / 2: ours {ours['tokens_after'][0]:,} / "
        f"{ours['tokens_after'][1]:,}, gensim {theirs['tokens_after'][0]:,} / "
        f"{theirs['tokens_after'][1]:,}; joined corpora identical (md5 of the token stream): "
        f"{'yes' if ours['digest'] == theirs['digest'] else 'no'}",
        "",
        "| impl | wall s | peak RSS MB | what the time covers |",
        "|---|---|---|---|",
        f"| ours | {ours['seconds']:.1f} | {ours['peak_rss_mb']:.0f} | read + 2 passes + write "
        f"the token cache (plain cache build without phrases: {ours['plain_seconds']:.1f} s; "
        f"one-off Arrow copy of the file, untimed: {ours['arrow_seconds']:.1f} s) |",
        f"| {theirs['impl']} | {theirs['seconds']:.1f} | {theirs['peak_rss_mb']:.0f} | "
        + ", ".join(f"{k} {v:.1f} s" for k, v in theirs["timings"].items())
        + " |",
        "",
        f"Wall time ours / gensim: **{ratio:.3f}** ({1 / ratio:.1f}× faster).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(CORPUS_DIR / "corpus.txt"))
    parser.add_argument("--small", action="store_true", help="use corpus_1m.txt (1 M tokens)")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=10.0)
    parser.add_argument("--machine", default="", help="machine line (default: detected)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.small:
        args.corpus = str(CORPUS_DIR / "corpus_1m.txt")
    args.corpus = os.path.expanduser(args.corpus)
    if not os.path.isfile(args.corpus):
        raise SystemExit(
            f"error: no corpus at {args.corpus}; build one with "
            "bash ../shared/tools/build_corpus.sh or pass --corpus PATH"
        )
    if args.worker:
        worker = worker_ours if args.worker == "ours" else worker_gensim
        print(json.dumps(worker(args)))
        return
    import subprocess

    args.commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    command = invocation(__file__)
    results = {}
    for impl in ("ours", "gensim"):
        worker = [sys.executable, __file__, "--worker", impl, "--corpus", args.corpus]
        worker += ["--passes", str(args.passes), "--min-count", str(args.min_count)]
        worker += ["--threshold", str(args.threshold)]
        results[impl] = run_json_worker(worker, impl)
        print(f"    {results[impl]['seconds']:.1f} s", file=sys.stderr, flush=True)
    body = table(results["ours"], results["gensim"], args, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    write_section(Path(args.out), f"phrases_vs_gensim {Path(args.corpus).name}", body)


if __name__ == "__main__":
    main()
