"""This project's word2vec against gensim's, same corpus, same hyperparameters, same evaluation.

    python benchmarks/word2vec_vs_gensim.py --corpus ~/.cache/strata-bench-corpus/corpus.txt
    python benchmarks/word2vec_vs_gensim.py --corpus ... --output hs   # hierarchical softmax

Trains skip-gram and CBOW with both implementations (dim 100, window 5, negative 5, sample 1e-3,
min_count 5, 5 epochs, gensim workers = cores), gensim in its fastest input mode (`corpus_file`)
and with the `LineSentence` iterable (`--gensim-modes`), each in its own subprocess so that peak
RSS is per trainer, evaluates all vectors with this project's evaluators on WordSim-353 and the
Google analogies (restrict_vocab 30,000, as gensim), and writes the table into BENCHMARKS.md between
markers (replacing the previous table of the same name), with the command, machine and date.
`--output hs` trains both with hierarchical softmax instead (ours model.output=hs, gensim hs=1,
negative=0) into a table of its own; every table also lists the analogy accuracy per section.

words/s = raw corpus words x epochs / training wall time, the same definition for both, and
"whole process" words/s = the same words / the worker process's wall time less the evaluation
(imports, compilation, cache read or vocabulary scan, training, writing vectors.txt): what a
user waits for. The one-off vocabulary pass is also reported separately: gensim scans the corpus
on every run; this project caches token ids on disk, so its "prepare" time is the cache build
on a first run (build the cache once before timing: a second run reads it).

`--rounds N` repeats every (model, implementation) N times in fresh processes, ours first in odd
rounds and gensim first in even ones, so that drift in a shared machine's speed hits both alike
(single runs here moved by up to ±10 %): each table row is that implementation's median round by
whole-process words/s, and each ratio is the median of the rounds' ratios, with every round's
ratio beside it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402


def default_benchmark_files() -> tuple[str, str]:
    """gensim ships both files; users who installed the bench extra have them."""
    from gensim.test.utils import datapath

    return datapath("wordsim353.tsv"), datapath("questions-words.txt")


def pairs_digest(pairs: list[tuple[str, str, float]]) -> str:
    """A short digest of a word-similarity set's pairs and scores, in file order."""
    text = "\n".join(f"{a}\t{b}\t{score!r}" for a, b, score in pairs)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def evaluate(
    words, vectors, counts, wordsim: str, analogy: str, dev_wordsims: dict[str, str] | None = None
) -> dict:
    """WS-353 (`wordsim`), the analogies and any `dev_wordsims` (name: path of more
    word-similarity sets, to choose settings on without looking at WS-353)."""
    from research.eval import make_evaluator, run_evaluators
    from research.eval.vectors import WordVectors

    wv = WordVectors(list(words), vectors, counts)
    similarity = [
        make_evaluator("word_similarity", name=name, path=path)
        for name, path in {"ws353": wordsim, **(dev_wordsims or {})}.items()
    ]
    evaluators = [
        *similarity,
        make_evaluator("analogy", name="analogy", path=analogy, restrict_vocab=30000),
    ]
    results, _ = run_evaluators(evaluators, wv)
    for evaluator in similarity:
        # Each pair's cosine in file order (None: a word without a vector), so that runs can be
        # compared pair by pair and resampled by pair (word2vec_parallel_blocks.py's intervals).
        cosines, scored, _ = evaluator.pair_cosines(wv)
        results[f"{evaluator.name}/pair_cosines"] = [
            round(float(c), 6) if ok else None for c, ok in zip(cosines, scored, strict=True)
        ]
        # What the cosines are paired with: a store's runs are reused, and their cosines
        # ranked against a file's scores, only where that file holds the same pairs.
        results[f"{evaluator.name}/pairs_digest"] = pairs_digest(evaluator.pairs)
    covered, correct, _, _ = evaluators[-1].solve(wv)
    sections = np.array(evaluators[-1].questions.sections, dtype=object)
    for section in dict.fromkeys(evaluators[-1].questions.sections):
        rows = covered & (sections == section)
        results[f"section/{section}"] = float(correct[rows].mean()) if rows.any() else math.nan
        results[f"section_covered/{section}"] = int(rows.sum())
    # Which questions 3CosAdd answered, and which it could ask (all four words in the
    # restricted vocabulary), in file order: runs compared question by question and
    # resampled by question (word2vec_parallel_blocks.py --questions, its bootstrap).
    results["analogy/correct_questions"] = "".join("1" if c else "0" for c in correct)
    results["analogy/covered_questions"] = "".join("1" if c else "0" for c in covered)
    return results


def ours_config(args):
    """The Config a worker of ours trains with: the benchmark's settings, then --set, then the
    model's resolved defaults (learning rate and row-hit cap by kind)."""
    from research.config import Config, apply_override
    from research.train.word2vec import resolve_model_defaults

    config = Config(name=f"bench_{args.kind}")
    config.data.source = args.corpus
    config.data.min_count = args.min_count
    config.data.window = args.window
    config.data.negatives = args.negative
    config.data.sample = args.sample
    config.model.kind = args.kind
    config.model.output = args.output
    config.model.dim = args.dim
    config.train.epochs = args.epochs
    config.train.seed = args.seed
    config.eval.default_suite = False
    config.log.progress = False
    for assignment in args.set or []:
        apply_override(config, assignment)
    return resolve_model_defaults(config)  # the settings name the rate and cap it used


def worker_ours(args) -> dict:
    from research.data.corpus import prepare_corpus
    from research.train.word2vec import fit

    config = ours_config(args)
    started = time.time()
    corpus = prepare_corpus(config.data, progress=False)
    prepare_seconds = time.time() - started
    with tempfile.TemporaryDirectory() as workdir:
        run = fit(config, workdir)
        run.vectors.save_word2vec_text(Path(workdir) / "vectors.txt")  # the export users wait for
        run_info = json.loads((Path(workdir) / "run.json").read_text())
    raw_words = int(corpus.meta["raw_tokens"])
    evaluated = time.time()
    results = evaluate(
        run.vectors.words,
        run.vectors.vectors,
        corpus.counts,
        args.wordsim,
        args.analogy,
        getattr(args, "dev_wordsims", None),
    )
    return {
        "impl": "ours",
        "kind": args.kind,
        "prepare_seconds": prepare_seconds,
        "train_seconds": run.train_seconds,
        "raw_words": raw_words,
        "words_per_sec": raw_words * args.epochs / run.train_seconds,
        "vocab": corpus.vocab_size,
        "results": results,
        "eval_seconds": time.time() - evaluated,
        "peak_rss_mb": peak_rss_mb(),
        "settings": {k: v for k, v in vars(config.train).items()},
        # how the row-hit cap counted a shared negative's draw (derived from P and the corpus)
        "negative_draw_hits": run_info.get("negative_draw_hits"),
        # whether train.curvature_bound=-1 turned the bound on, at P > 1 (derived likewise)
        "curvature_bound": run_info.get("curvature_bound"),
    }


def worker_gensim(args) -> dict:
    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(
        vector_size=args.dim,
        window=args.window,
        negative=args.negative,
        hs=1 if args.output == "hs" else 0,
        sample=args.sample,
        min_count=args.min_count,
        sg=1 if args.kind == "skipgram" else 0,
        workers=args.workers,
        seed=args.seed,
    )
    # corpus_file: gensim's fastest mode (each worker thread reads its own part of the file,
    # no Python iterator, no job queue); LineSentence: the iterable most users write.
    source = (
        {"corpus_file": args.corpus}
        if args.gensim_mode == "corpus_file"
        else {"corpus_iterable": LineSentence(args.corpus)}
    )
    started = time.time()
    model.build_vocab(**source)
    prepare_seconds = time.time() - started
    started = time.time()
    if args.gensim_mode == "corpus_file":
        model.train(**source, total_words=model.corpus_total_words, epochs=args.epochs)
    else:
        model.train(**source, total_examples=model.corpus_count, epochs=args.epochs)
    train_seconds = time.time() - started
    with tempfile.TemporaryDirectory() as workdir:
        model.wv.save_word2vec_format(str(Path(workdir) / "vectors.txt"))  # the same export
    raw_words = int(model.corpus_total_words)
    counts = [model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key]
    evaluated = time.time()
    results = evaluate(model.wv.index_to_key, model.wv.vectors, counts, args.wordsim, args.analogy)
    return {
        "impl": f"gensim {gensim.__version__} {GENSIM_MODE_NAMES[args.gensim_mode]}",
        "kind": args.kind,
        "prepare_seconds": prepare_seconds,
        "train_seconds": train_seconds,
        "raw_words": raw_words,
        "words_per_sec": raw_words * args.epochs / train_seconds,
        "vocab": len(model.wv),
        "results": results,
        "eval_seconds": time.time() - evaluated,
        "peak_rss_mb": peak_rss_mb(),
        "settings": {"workers": args.workers, "mode": args.gensim_mode},
    }


GENSIM_MODE_NAMES = {"corpus_file": "corpus_file", "iterable": "LineSentence"}


def short_impl(result: dict) -> str:
    """The column title of a result: ours, or gensim and its mode without the version."""
    parts = result["impl"].split()
    return parts[0] if len(parts) < 3 else f"{parts[0]} {parts[2]}"


def run_worker(impl: str, kind: str, args, gensim_mode: str = "corpus_file") -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        impl,
        "--kind",
        kind,
        "--corpus",
        args.corpus,
        "--epochs",
        str(args.epochs),
        "--dim",
        str(args.dim),
        "--window",
        str(args.window),
        "--negative",
        str(args.negative),
        "--output",
        args.output,
        "--sample",
        str(args.sample),
        "--min-count",
        str(args.min_count),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--wordsim",
        args.wordsim,
        "--analogy",
        args.analogy,
        "--gensim-mode",
        gensim_mode,
    ]
    for assignment in args.set or []:
        command += ["--set", assignment]
    label = f"{impl} {kind}" + (f" {gensim_mode}" if impl == "gensim" else "")
    started = time.time()
    result = run_json_worker(command, label)
    # What a user waits for: the whole process (interpreter and library imports, compilation,
    # cache read or vocabulary scan, training, export), without this benchmark's evaluation.
    result["process_seconds"] = time.time() - started - result["eval_seconds"]
    result["process_words_per_sec"] = result["raw_words"] * args.epochs / result["process_seconds"]
    print(
        f"    {result['words_per_sec']:,.0f} words/s training, "
        f"{result['process_words_per_sec']:,.0f} whole process, "
        f"ws353 {result['results']['ws353/spearman']:.4f}, "
        f"analogy {result['results']['analogy/accuracy']:.4f}",
        file=sys.stderr,
        flush=True,
    )
    return result


def key_of(result: dict) -> tuple[str, ...]:
    """(family, kind) for ours; (family, kind, mode) for each gensim mode."""
    return (result["impl"].split()[0], result["kind"], *result["impl"].split()[2:])


def median_round(runs: list[dict]) -> dict:
    """The run with the median whole-process words/s (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r["process_words_per_sec"])[(len(runs) - 1) // 2]


def table(results: list[dict], args, command: str) -> str:
    import statistics

    import jax

    rounds: dict[tuple[str, ...], list[dict]] = {}
    for r in results:
        rounds.setdefault(key_of(r), []).append(r)
    by = {key: median_round(runs) for key, runs in rounds.items()}
    shown = list(by.values())  # one row per key, in the order the keys first ran
    count = max(len(runs) for runs in rounds.values())
    output = ", hierarchical softmax" if args.output == "hs" else ""
    lines = [
        f"### word2vec vs gensim{output} ({Path(args.corpus).name})",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; jax {jax.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- corpus: {args.corpus} ({results[0]['raw_words']:,} words); dim {args.dim}, window "
        f"{args.window}, negative {args.negative}"
        + (" with hierarchical softmax (ours model.output=hs, gensim hs=1)" if output else "")
        + f", sample {args.sample}, min_count "
        f"{args.min_count}, {args.epochs} epochs, seed {args.seed}; gensim workers {args.workers}",
        "- evaluation: this project's evaluators for both; WS-353 Spearman over in-vocabulary "
        "pairs; Google analogies 3CosAdd over the 30,000 most frequent words, accuracy over "
        "covered questions",
        "",
        "- training words/s = raw corpus words × epochs / training wall time; whole-process "
        "words/s = the same words / the worker process's wall time (interpreter and imports, "
        "compilation, token-cache read (ours, cache built beforehand) or vocabulary scan "
        "(gensim, inside its call), training, writing vectors.txt), less this benchmark's "
        "evaluation; ours: mini-batch skip-gram / CBOW with shared negatives per chunk, "
        "stale-snapshot block updates and a row-hit cap (README), gensim: per-pair Hogwild SGD",
    ]
    if count > 1:
        lines.append(
            f"- {count} rounds, each a fresh process per implementation, ours first in odd "
            "rounds and gensim first in even ones; each row is that implementation's median "
            "round by whole-process words/s (every round's in the last column), each ratio the "
            "median of the rounds' ratios"
        )
    lines += [
        "",
        "| model | impl | train s | words/s | whole process s | words/s whole | prepare s "
        "| peak RSS MB | WS-353 ρ (pairs) | analogy acc | analogy coverage |"
        + (" words/s whole per round |" if count > 1 else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if count > 1 else ""),
    ]
    for r in shown:
        res = r["results"]
        lines.append(
            f"| {r['kind']} | {r['impl']} | {r['train_seconds']:.1f} | {r['words_per_sec']:,.0f} "
            f"| {r['process_seconds']:.1f} | {r['process_words_per_sec']:,.0f} "
            f"| {r['prepare_seconds']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {res['ws353/spearman']:.4f} ({res['ws353/pairs_used']}) "
            f"| {res['analogy/accuracy']:.4f} | {res['analogy/coverage']:.4f} |"
            + (
                " "
                + " / ".join(f"{x['process_words_per_sec']:,.0f}" for x in rounds[key_of(r)])
                + " |"
                if count > 1
                else ""
            )
        )
    lines += [
        "",
        "| model | against | words/s ours/gensim (training) | whole process | Δ WS-353 ρ "
        "(ours − gensim) | Δ analogy (points) | RSS ours/gensim |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in args.kinds:
        ours = by.get(("ours", kind))
        for key, theirs in by.items():
            if key[0] != "gensim" or key[1] != kind or not ours:
                continue
            d_rho = ours["results"]["ws353/spearman"] - theirs["results"]["ws353/spearman"]
            d_acc = 100 * (
                ours["results"]["analogy/accuracy"] - theirs["results"]["analogy/accuracy"]
            )
            pairs = list(zip(rounds[("ours", kind)], rounds[key], strict=False))
            training = [a["words_per_sec"] / b["words_per_sec"] for a, b in pairs]
            whole = [a["process_words_per_sec"] / b["process_words_per_sec"] for a, b in pairs]

            def ratio(values: list[float]) -> str:
                per_round = f" ({', '.join(f'{x:.2f}×' for x in values)})" if count > 1 else ""
                return f"{statistics.median(values):.2f}×{per_round}"

            lines.append(
                f"| {kind} | {theirs['impl']} | {ratio(training)} | {ratio(whole)} "
                f"| {d_rho:+.4f} | {d_acc:+.2f} "
                f"| {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f} |"
            )
    if count > 1:
        lines.append("")
        for runs in rounds.values():
            ws = " / ".join(f"{r['results']['ws353/spearman']:.4f}" for r in runs)
            analogy = " / ".join(f"{r['results']['analogy/accuracy']:.4f}" for r in runs)
            lines.append(
                f"- {runs[0]['kind']} {runs[0]['impl']}, quality per round: WS-353 ρ {ws}; "
                f"analogy {analogy}"
            )
    sections = [k.split("/", 1)[1] for k in results[0]["results"] if k.startswith("section/")]
    lines += [
        "",
        "Analogy accuracy (3CosAdd) per section, questions covered in brackets:",
        "",
        "| section | " + " | ".join(f"{r['kind']} {short_impl(r)}" for r in shown) + " |",
        "|---|" + "---|" * len(shown),
    ]
    for group in ("semantic", "syntactic"):
        cells = [f"{r['results'][f'analogy/{group}_accuracy']:.4f}" for r in shown]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    for section in sections:
        cells = [
            f"{r['results'][f'section/{section}']:.4f} "
            f"({r['results'][f'section_covered/{section}']})"
            for r in shown
        ]
        lines.append(f"| {section} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def seed_summary(files: list[str]) -> str:
    """Mean ± std over the runs' --json files (one per seed) of each (model, impl): words/s,
    WS-353, analogy total, semantic and syntactic."""
    import statistics

    runs: dict[tuple[str, str], list[dict]] = {}
    for path in files:
        for r in json.loads(Path(path).read_text()):
            runs.setdefault((r["kind"], r["impl"]), []).append(r)
    columns = [
        ("words/s", lambda r: r["words_per_sec"], ",.0f"),
        ("WS-353 ρ", lambda r: r["results"]["ws353/spearman"], ".3f"),
        ("analogy", lambda r: r["results"]["analogy/accuracy"], ".3f"),
        ("semantic", lambda r: r["results"]["analogy/semantic_accuracy"], ".3f"),
        ("syntactic", lambda r: r["results"]["analogy/syntactic_accuracy"], ".3f"),
    ]
    lines = [
        "| model | impl (runs) | " + " | ".join(name for name, _, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for (kind, impl), rows in runs.items():
        cells = []
        for _, value, fmt in columns:
            values = [value(r) for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):{fmt}} ± {spread:{fmt}}")
        lines.append(f"| {kind} | {impl} ({len(rows)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="")
    parser.add_argument("--kinds", default="skipgram,cbow")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5, help="0 with --output hs")
    parser.add_argument(
        "--output",
        choices=["negative", "hs"],
        default="negative",
        help="hs: hierarchical softmax for both (ours model.output=hs, gensim hs=1 negative=0)",
    )
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wordsim", default="")
    parser.add_argument("--analogy", default="")
    parser.add_argument("--set", action="append", help="extra config override for ours")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument(
        "--rounds", type=int, default=1, help="fresh runs of each, alternating which goes first"
    )
    parser.add_argument(
        "--summarise",
        nargs="+",
        metavar="JSON",
        help="print mean ± std over earlier runs' --json files (e.g. one per --seed) and exit",
    )
    parser.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--gensim-mode", choices=list(GENSIM_MODE_NAMES), help=argparse.SUPPRESS)
    parser.add_argument(
        "--gensim-modes",
        default="corpus_file,iterable",
        help="gensim input modes to time: corpus_file (its fastest) and/or iterable (LineSentence)",
    )
    args = parser.parse_args()
    if args.summarise:
        print(seed_summary(args.summarise))
        return
    if not args.corpus:
        parser.error("--corpus is required")
    args.corpus = os.path.expanduser(args.corpus)
    if args.output == "hs":
        args.negative = 0  # hierarchical softmax alone, as word2vec.c -hs 1 -negative 0
    if not os.path.isfile(args.corpus):
        raise SystemExit(
            f"error: no corpus at {args.corpus}; build one with "
            "bash ../shared/tools/build_corpus.sh or pass --corpus PATH"
        )
    if not args.wordsim or not args.analogy:
        default_wordsim, default_analogy = default_benchmark_files()
        args.wordsim = args.wordsim or default_wordsim
        args.analogy = args.analogy or default_analogy
    if args.worker:
        worker = worker_ours if args.worker == "ours" else worker_gensim
        print(json.dumps(worker(args)))
        return
    args.kinds = args.kinds.split(",")
    command = invocation(__file__)
    modes = args.gensim_modes.split(",")
    unknown = sorted(set(modes) - set(GENSIM_MODE_NAMES))
    if unknown:
        parser.error(f"--gensim-modes: unknown {', '.join(unknown)}; use corpus_file,iterable")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    results = []
    for kind in args.kinds:
        for round_index in range(args.rounds):
            order = [("ours", "corpus_file")] + [("gensim", mode) for mode in modes]
            for impl, mode in order if round_index % 2 == 0 else order[::-1]:
                result = run_worker(impl, kind, args, mode)
                results.append({**result, "round": round_index + 1})
    body = table(results, args, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    name = f"word2vec_vs_gensim{' hs' if args.output == 'hs' else ''} {Path(args.corpus).name}"
    write_section(Path(args.out), name, body)


if __name__ == "__main__":
    main()
