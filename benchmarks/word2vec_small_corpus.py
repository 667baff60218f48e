"""word2vec on a small corpus: this project's skip-gram (or CBOW) against gensim's, several seeds.

    python benchmarks/word2vec_small_corpus.py                       # both systems, seeds 1-3
    python benchmarks/word2vec_small_corpus.py --impls ours --variant block256 \\
        --set train.batch_size=256                                   # an ablation of ours
    python benchmarks/word2vec_small_corpus.py --kind cbow \\
        --corpus ~/.cache/strata-bench-corpus/corpus.txt             # CBOW, the whole corpus

On the first 1 M tokens of the benchmark corpus (`corpus_1m.txt`; `--corpus` for another file):
skip-gram (`--kind cbow`: CBOW, gensim's `sg=0` with its default mean of the context), dim 100,
window 5, negative 5, sample 1e-3, min_count 5, 5 epochs, both systems at the same seeds; gensim
4.4 reads the file in its fastest mode (`corpus_file`, 2 workers). Both sets of vectors are
scored by this project's evaluators on the real word suite (`--set evals=real`: WS-353 and its
similarity / relatedness splits, RG-65, MC-30, MTurk-287 and -771, and the Google analogies over
the 30,000 most frequent words, total, semantic / syntactic and every section).

Every run is kept in a JSON store beside the corpus name (`--store`; CBOW's has `_cbow` added),
one record per (system, variant, seed), so ablations of ours accumulate: each invocation runs
only what it asks for and then prints, and writes into BENCHMARKS.md, the tables of everything
in the store — gensim against our `default` (mean ± std over seeds, Δ, and whether Δ is within
the larger of the two seed standard deviations and within their sum), a control when a system
has 4 or more seeds (its later half of seeds judged against its earlier half by the same rules,
which counts what the rules flag in a system against itself), and every variant against
`default`. `--set`
overrides apply to ours only; `--variant` names the row they produce.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, run_json_worker, write_section  # noqa: E402

DEFAULT_CORPUS = "~/.cache/strata-bench-corpus/corpus_1m.txt"
SIMILARITY = [
    ("ws353", "WS-353"),
    ("ws353_sim", "WS-353 sim"),
    ("ws353_rel", "WS-353 rel"),
    ("rg65", "RG-65"),
    ("mc30", "MC-30"),
    ("mturk287", "MTurk-287"),
    ("mturk771", "MTurk-771"),
]
ANALOGY_GROUPS = [("total", "analogy"), ("semantic", "semantic"), ("syntactic", "syntactic")]


def score(words, vectors, counts) -> dict[str, float]:
    """The real word suite's similarity Spearmans and analogy accuracies (3CosAdd over covered
    questions) in total, per kind and per section, as one flat dict."""
    from research.eval import evaluators_from_config
    from research.eval.analogy import Analogy, kind_from_section
    from research.eval.suites import resolve_evals
    from research.eval.vectors import WordVectors

    wv = WordVectors(list(words), vectors, counts)
    evals = resolve_evals({}, {"real": {"kind": "suite"}}, family="word")
    out: dict[str, float] = {}
    for evaluator in evaluators_from_config(evals):
        if isinstance(evaluator, Analogy):
            covered, correct, _, _ = evaluator.solve(wv)
            sections = evaluator.questions.sections
            groups: dict[str, list[int]] = {}
            for i, section in enumerate(sections):
                for name in ("total", kind_from_section(section), f"section:{section}"):
                    groups.setdefault(name, []).append(i)
            for name, rows in groups.items():
                hit = sum(bool(correct[i]) for i in rows)
                n = sum(bool(covered[i]) for i in rows)
                out[f"analogy/{name}"] = hit / n if n else float("nan")
                out[f"covered/{name}"] = n
            out["analogy/coverage"] = float(covered.mean())
        else:
            out[evaluator.name] = evaluator.run(wv).metrics["spearman"]
    return out


def corpus_file_schedule(workers: int):
    """gensim's learning rate in `corpus_file` mode with `workers` threads, as a schedule for
    ours: each thread reads 1/workers of the file but measures its progress against the whole
    corpus (word2vec_corpusfile.pyx: total_sentences / expected_examples), so within epoch e
    the rate falls only from its value at e to its value at e + 1/workers, then jumps back up
    at the next epoch: a saw-tooth whose last rate is about 0.025 / epochs·(1 - 1/workers), not
    min_alpha."""
    import jax.numpy as jnp

    from research import config as config_lib

    def schedule(config, total_steps):
        epochs = config.train.epochs
        per_epoch = max(total_steps / epochs, 1.0)
        start, end = config_lib.word2vec_learning_rate(config), config.train.min_learning_rate

        def rate(step):
            epoch = jnp.floor(step / per_epoch)
            within = (step - epoch * per_epoch) / per_epoch
            progress = (epoch + within / workers) / epochs
            return jnp.maximum(end, start - (start - end) * progress)

        return rate

    return schedule


def worker_ours(args) -> dict:
    from research.config import Config, apply_override
    from research.train.word2vec import fit

    config = Config(name="small_corpus")
    config.data.source = args.corpus
    config.data.min_count, config.data.window = args.min_count, args.window
    config.data.negatives, config.data.sample = args.negative, args.sample
    config.model.kind, config.model.dim = args.kind, args.dim
    config.train.epochs, config.train.seed = args.epochs, args.seed
    config.eval.default_suite = False
    config.log.progress = False
    for assignment in args.set or []:
        apply_override(config, assignment)
    schedule = corpus_file_schedule(args.ours_schedule) if args.ours_schedule else None
    with tempfile.TemporaryDirectory() as workdir:
        run = fit(config, workdir, schedule=schedule)
        info = json.loads((Path(workdir) / "run.json").read_text())
    words, vectors = run.vectors.words, run.vectors.vectors
    return {
        "train_seconds": run.train_seconds,
        "vocab": len(words),
        "derived": info.get("derived", {}),
        "results": score(words, vectors, run.corpus.counts),
    }


def worker_gensim(args) -> dict:
    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    started = time.time()
    source = (
        {"corpus_file": args.corpus}
        if args.gensim_mode == "corpus_file"
        else {"sentences": LineSentence(args.corpus)}
    )
    model = Word2Vec(
        **source,
        vector_size=args.dim,
        window=args.window,
        negative=args.negative,
        sample=args.sample,
        min_count=args.min_count,
        sg=int(args.kind == "skipgram"),
        workers=args.workers,
        seed=args.seed,
        epochs=args.epochs,
        alpha=args.gensim_alpha,
    )
    counts = [model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key]
    return {
        "train_seconds": time.time() - started,
        "vocab": len(model.wv),
        "gensim": gensim.__version__,
        "results": score(model.wv.index_to_key, model.wv.vectors, counts),
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def metric_rows(records: list[dict]) -> list[tuple[str, str]]:
    """(result key, label) for every metric, sections in the analogy file's order."""
    keys = list(records[0]["results"])
    sections = [k for k in keys if k.startswith("analogy/section:")]
    return (
        [(k, label) for k, label in SIMILARITY if k in keys]
        + [(f"analogy/{g}", label) for g, label in ANALOGY_GROUPS]
        + [(k, k.split(":", 1)[1]) for k in sections]
    )


def verdict(delta: float, spread: float) -> str:
    """Whether a difference of means is within a seed spread, else above or **below**."""
    if delta != delta:
        return "n/a"
    if abs(delta) <= spread:
        return "yes"
    return "above" if delta > 0 else "**below**"


def judge(first: list[dict], second: list[dict], key: str) -> tuple[float, str, str]:
    """Δ of `first`'s mean over `second`'s at `key`, and its verdict within the larger of the
    two seed standard deviations and within their sum (the two systems' spread together)."""
    fm, fs = mean_std([r["results"].get(key, float("nan")) for r in first])
    sm, ss = mean_std([r["results"].get(key, float("nan")) for r in second])
    return fm - sm, verdict(fm - sm, max(fs, ss)), verdict(fm - sm, fs + ss)


def self_control(by: dict, rows: list[tuple[str, str]]) -> list[str]:
    """The verdicts' false alarms: each system with at least 4 seeds judged against itself, its
    later half of seeds against its earlier half, beside ours against gensim on each half.

    Both halves of one system are the same algorithm, so every row the rules call above or
    below there is seed noise; the same rules applied to ours against gensim read accordingly.
    """
    halves = {}
    for impl in ("gensim", "ours"):
        records = sorted(by.get((impl, "default"), []), key=lambda r: r["seed"])
        if len(records) >= 4:
            k = len(records) // 2
            halves[impl] = (records[:k], records[-k:])
    if not halves:
        return []

    def seeds(records: list[dict]) -> str:
        return ", ".join(str(r["seed"]) for r in records)

    pairs = [
        (f"{impl} {seeds(later)} against {impl} {seeds(earlier)}", later, earlier)
        for impl, (earlier, later) in halves.items()
    ]
    if len(halves) == 2:
        for i in (0, 1):
            ours, gensim = halves["ours"][i], halves["gensim"][i]
            pairs.append((f"ours {seeds(ours)} against gensim {seeds(gensim)}", ours, gensim))
    lines = [
        "",
        "#### Control: each system against itself (the verdicts' false alarms)",
        "",
        "Rows (of the table's sets and sections) that each rule calls below / above. Both halves "
        "of one system are the same algorithm at other seeds, so what the rules flag there is "
        "seed noise.",
        "",
        "| comparison (seeds) | rows | outside the larger std: below / above | outside the sum of "
        "stds: below / above | rows below (larger std) |",
        "|---|---|---|---|---|",
    ]
    for name, first, second in pairs:
        judged = [(label, *judge(first, second, key)) for key, label in rows]
        judged = [j for j in judged if j[2] != "n/a"]  # sets neither side recorded
        count = {
            rule: [sum(j[rule] == v for j in judged) for v in ("**below**", "above")]
            for rule in (2, 3)
        }
        below = ", ".join(
            f"{label} {delta:+.3f}" for label, delta, strict, _ in judged if strict == "**below**"
        )
        lines.append(
            f"| {name} | {len(judged)} | {count[2][0]} / {count[2][1]} | {count[3][0]} / "
            f"{count[3][1]} | {below or 'none'} |"
        )
    return lines


def cell(values: list[float]) -> str:
    mean, std = mean_std(values)
    return "n/a" if mean != mean else f"{mean:.3f} ± {std:.3f}"


def tables(store: dict, corpus: str) -> str:
    runs = store["runs"]
    by: dict[tuple[str, str], list[dict]] = {}
    for record in runs:
        by.setdefault((record["impl"], record["variant"]), []).append(record)
    gensim = by.get(("gensim", "default"), [])
    ours = by.get(("ours", "default"), [])
    reference = ours or gensim
    if not reference:
        return "(no runs yet)\n"
    rows = metric_rows(reference)
    commands = store.get("commands", {})
    lines = [
        f"### word2vec on a small corpus: ours vs gensim ({Path(corpus).name}"
        + (", cbow)" if store.get("kind") == "cbow" else ")"),
        "",
        f"- command (both systems): `{commands.get('ours:default') or commands.get('default')}`",
        f"- machine: {machine()}",
        f"- date: {store.get('date', '')}",
        f"- corpus: {corpus} ({store.get('raw_words', 0):,} words); "
        f"{store.get('kind', 'skipgram').replace('skipgram', 'skip-gram')}, dim 100, window 5, "
        "negative 5, sample 1e-3, min_count 5, 5 epochs; gensim "
        f"{store.get('gensim', '?')} `corpus_file`, 2 workers; seeds "
        f"{', '.join(str(r['seed']) for r in ours or gensim)}",
        "- evaluation: this project's evaluators for both, the real word suite: Spearman ρ over "
        "in-vocabulary pairs; Google analogies 3CosAdd over the 30,000 most frequent words, "
        "accuracy over covered questions (coverage "
        f"{cell([r['results']['analogy/coverage'] for r in reference])})",
        "- within spread: |Δ| ≤ the larger of the two seed standard deviations (else above or "
        "**below** gensim); within both: |Δ| ≤ their sum, the two systems' spread together; an "
        "analogy row's questions covered (all four words among the candidates) in brackets when "
        "recorded",
        "",
    ]
    # Ours at its defaults, then each --headline variant, each against gensim.
    compared = ["default"] + [v for v in store.get("headline", []) if ("ours", v) in by]
    lines += [
        "| set | gensim | "
        + " | ".join(f"ours {v} | Δ | within spread | within both" for v in compared)
        + " |",
        "|---|---|" + "---|---|---|---|" * len(compared),
    ]
    for key, label in rows:
        g = [r["results"].get(key, float("nan")) for r in gensim]
        covered = (
            reference[0]["results"].get(key.replace("analogy/", "covered/", 1))
            if key.startswith("analogy/")
            else None
        )
        cells = [label if covered is None else f"{label} ({covered})", cell(g)]
        for variant in compared:
            o = [r["results"].get(key, float("nan")) for r in by[("ours", variant)]]
            delta, within, within_both = judge(by[("ours", variant)], gensim, key)
            cells += [cell(o), f"{delta:+.3f}", within, within_both]
        lines.append("| " + " | ".join(cells) + " |")
    lines += self_control(by, rows)
    order = [("gensim", "default")] * bool(gensim) + [
        key for key in by if key != ("gensim", "default")
    ]
    if len(order) > 1:
        head = [label for key, label in rows if not key.startswith("analogy/section:")]
        lines += [
            "",
            "#### Every variant of ours (mean ± std over seeds; Δ vs ours `default` below each)",
            "",
            "| variant | " + " | ".join(head) + " | command |",
            "|---|" + "---|" * (len(head) + 1),
        ]
        main_keys = [key for key, _ in rows if not key.startswith("analogy/section:")]
        base = {
            k: mean_std([r["results"].get(k, float("nan")) for r in ours])[0] for k in main_keys
        }
        for impl, variant in order:
            recs = by[(impl, variant)]
            cells, deltas = [], []
            for k in main_keys:
                values = [r["results"].get(k, float("nan")) for r in recs]
                cells.append(cell(values))
                deltas.append(f"{mean_std(values)[0] - base[k]:+.3f}" if ours else "")
            name = variant if impl == "ours" else f"gensim {variant}".replace(" default", "")
            commands = store.get("commands", {})
            command = commands.get(f"{impl}:{variant}", commands.get(variant, ""))
            lines.append(
                f"| {name} ({len(recs)}) | " + " | ".join(cells) + f" | `{command}` |"
                if command
                else f"| {name} ({len(recs)}) | " + " | ".join(cells) + " | |"
            )
            if (impl, variant) != ("ours", "default"):
                lines.append("| Δ | " + " | ".join(deltas) + " | |")
        section_keys = [(k, label) for k, label in rows if k.startswith("analogy/section:")]
        if section_keys:
            lines += [
                "",
                "#### Google analogy accuracy by section (mean over seeds)",
                "",
                "| section | "
                + " | ".join(v if i == "ours" else f"gensim {v}" for i, v in order)
                + " |",
                "|---|" + "---|" * len(order),
            ]
            for key, label in section_keys:
                cols = [by[o] for o in order]
                means = [mean_std([r["results"].get(key, float("nan")) for r in c]) for c in cols]
                lines.append(
                    f"| {label} | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in means) + " |"
                )
    return "\n".join(lines) + "\n"


def worker_command(impl: str, seed: int, args) -> list[str]:
    command = [sys.executable, __file__, "--worker", impl, "--seed", str(seed)]
    command += ["--corpus", args.corpus, "--kind", args.kind, "--workers", str(args.workers)]
    command += ["--gensim-mode", args.gensim_mode, "--ours-schedule", str(args.ours_schedule)]
    command += ["--gensim-alpha", str(args.gensim_alpha)]
    for name in ("epochs", "dim", "window", "negative", "sample", "min_count"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    for assignment in args.set or []:
        command += ["--set", assignment]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--kind", choices=["skipgram", "cbow"], default="skipgram")
    parser.add_argument("--impls", default="ours,gensim", help="which systems to run now")
    parser.add_argument("--variant", default="default", help="row label for ours with --set")
    parser.add_argument("--set", action="append", help="config override for ours")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gensim's threads")
    parser.add_argument("--gensim-mode", choices=["corpus_file", "iterable"], default="corpus_file")
    parser.add_argument("--gensim-alpha", type=float, default=0.025, help="gensim's start rate")
    parser.add_argument(
        "--ours-schedule",
        type=int,
        default=0,
        help="N > 0: ours with gensim corpus_file's learning rate for N threads (a saw-tooth)",
    )
    parser.add_argument("--store", default="", help="JSON of every run (default: under runs/)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--headline", action="store_true", help="also compare this variant of ours with gensim"
    )
    parser.add_argument("--rerun", action="store_true", help="replace stored runs it repeats")
    parser.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpus = os.path.expanduser(args.corpus)
    if not os.path.isfile(args.corpus):
        raise SystemExit(f"error: no corpus at {args.corpus}; pass --corpus PATH")
    if args.worker:
        print(json.dumps((worker_ours if args.worker == "ours" else worker_gensim)(args)))
        return
    changed = (
        args.set
        or args.ours_schedule
        or args.workers != 2
        or args.gensim_mode != "corpus_file"
        or args.gensim_alpha != 0.025
    )
    if changed and args.variant == "default":
        raise SystemExit("error: a changed setting needs a row label: --variant NAME")
    suffix = "" if args.kind == "skipgram" else f"_{args.kind}"
    store_path = Path(
        args.store
        or ROOT / "runs" / "word2vec_small_corpus" / f"{Path(args.corpus).stem}{suffix}.json"
    )
    store = json.loads(store_path.read_text()) if store_path.exists() else {"runs": []}
    if store.setdefault("kind", "skipgram" if store["runs"] else args.kind) != args.kind:
        raise SystemExit(
            f"error: {store_path} holds {store['kind']} runs, not {args.kind}; pass another --store"
        )
    command = invocation(__file__)
    for impl in args.impls.split(","):
        store.setdefault("commands", {})[f"{impl}:{args.variant}"] = command
    store["raw_words"] = sum(len(line.split()) for line in open(args.corpus))
    if args.headline and args.variant not in store.setdefault("headline", []):
        store["headline"].append(args.variant)
    for impl in args.impls.split(","):
        variant = args.variant
        for seed in (int(s) for s in args.seeds.split(",")):
            done = [
                r
                for r in store["runs"]
                if (r["impl"], r["variant"], r["seed"]) == (impl, variant, seed)
            ]
            if done and not args.rerun:
                continue
            result = run_json_worker(worker_command(impl, seed, args), f"{impl} {variant} {seed}")
            store["runs"] = [r for r in store["runs"] if r not in done]
            store["runs"].append({"impl": impl, "variant": variant, "seed": seed, **result})
            store["gensim"] = result.get("gensim", store.get("gensim"))
            store["date"] = datetime.date.today().isoformat()
            res = result["results"]
            print(
                f"    ws353 {res['ws353']:.4f}, mturk287 {res['mturk287']:.4f}, "
                f"analogy {res['analogy/total']:.4f}, {result['train_seconds']:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            store_path.parent.mkdir(parents=True, exist_ok=True)
            store_path.write_text(json.dumps(store, indent=1))
    body = tables(store, args.corpus)
    print(body)
    write_section(Path(args.out), f"word2vec_small_corpus {Path(args.corpus).name}{suffix}", body)


if __name__ == "__main__":
    main()
