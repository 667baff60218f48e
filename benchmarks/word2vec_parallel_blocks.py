"""word2vec quality against train.parallel_blocks = P (blocks per SGD step, data parallelism) at
the default learning rate, same corpus, same evaluation as word2vec_vs_gensim.py; one device, or
--host-devices N (simulated by XLA on a CPU) with every P a multiple of N.

    python benchmarks/word2vec_parallel_blocks.py \
        --corpus ~/.cache/strata-bench-corpus/corpus.txt \
        --wordsim /work/shared/data/word/wordsim353.tsv \
        --analogy /work/shared/data/word/questions_words.tsv --blocks 1,2,8,32 --seeds 0,1,2

Each (P, seed) run is appended to --store (JSON lines) as it ends, and a run already there (same
P, seed and --set overrides) is not repeated, so an interrupted invocation resumes. Prints and
writes to --out (a section named by the corpus, kind and overrides): mean ± std over seeds of
WS-353 Spearman, analogy accuracy (total, semantic, syntactic), training seconds and how a
shared negative's draw counted per P, then every analogy section per P with its Δ against P = 1
and whether Δ is within the larger of the two seed standard deviations. With --set KEY=VALUE
(a rule for stale blocks, say) and --reference-defaults, P = 1 runs at the defaults, so every
P is judged against plain word2vec SGD rather than against P = 1 under the same overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_common import invocation, machine, write_section  # noqa: E402
from word2vec_vs_gensim import worker_ours  # noqa: E402

HEADLINE = {
    "WS-353 ρ": "ws353/spearman",
    "analogy": "analogy/accuracy",
    "semantic": "analogy/semantic_accuracy",
    "syntactic": "analogy/syntactic_accuracy",
}


def overrides_for(args: argparse.Namespace, blocks: int) -> list[str]:
    """The --set overrides of a P = `blocks` run: none for P = 1 under --reference-defaults."""
    return [] if blocks == 1 and args.reference_defaults else list(args.set)


def run_one(args: argparse.Namespace, blocks: int, seed: int) -> dict:
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
        set=[
            f"train.parallel_blocks={blocks}",
            f"train.devices={args.host_devices}",
            *overrides_for(args, blocks),
        ],
    )
    row = worker_ours(run_args)
    import jax  # imported by the worker, after --host-devices set XLA_FLAGS

    return {
        "P": blocks,
        "seed": seed,
        "devices": jax.device_count(),
        "train_seconds": row["train_seconds"],
        "negative_draw_hits": row.get("negative_draw_hits"),
        "curvature_bound": row.get("curvature_bound"),
        "set": overrides_for(args, blocks),
        **row["results"],
    }


def same_run(row: dict, blocks: int, seed: int, overrides: list[str]) -> bool:
    """Whether a stored row is the run (P, seed, --set overrides) asks for."""
    return (row["P"], row["seed"], row.get("set", [])) == (blocks, seed, list(overrides))


def mean_std(rows: list[dict], key: str) -> tuple[float, float]:
    values = np.array([r[key] for r in rows], float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def draw_counts(rows: list[dict]) -> str:
    """'5 (24.4)': a draw's hits and the draw concentration, with ', bound, cap 33' where the
    default train.curvature_bound=-1 turned the bound on; '?' for runs stored before run.json
    recorded them."""
    seen = set()
    for r in rows:
        hits, decided = r.get("negative_draw_hits"), r.get("curvature_bound") or {}
        if hits:
            cap = decided["row_hit_cap"] if decided.get("curvature_bound", 0) > 0 else 0
            seen.add((hits["weight"], hits["concentration"], cap))
    cells = [
        f"{w:g} ({c:.1f})" + (f", bound, cap {cap}" if cap else "") for w, c, cap in sorted(seen)
    ]
    return "; ".join(cells) or "?"


def report(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    by_p = {p: [r for r in rows if r["P"] == p] for p in sorted({r["P"] for r in rows})}
    reference = by_p.get(1)
    lines = [
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- date: {time.strftime('%Y-%m-%d')}",
        f"- corpus: {Path(args.corpus).name}; {args.kind}, dim 100, window 5, 5 negatives, "
        f"sample 1e-3, min_count 5, {args.epochs} epochs, "
        + (
            f"the defaults but {', '.join(args.set)}"
            if args.set
            else "the defaults (learning rate, row-hit cap, curvature-bound rule)"
        )
        + (" (P = 1 at the defaults)" if args.reference_defaults and args.set else "")
        + f", {args.host_devices} device(s); analogies 3CosAdd over the 30,000 most frequent "
        "words",
        "- seeds per P: " + ", ".join(f"P={p}: {len(r)}" for p, r in by_p.items()),
        "- devices the runs saw: " + ", ".join(sorted({str(r.get("devices", 1)) for r in rows})),
        "- within spread: |Δ| against P = 1 ≤ the larger of the two seed standard deviations",
        "- a draw counts: the hits the row-hit cap counts a shared negative's draw for, and the "
        "step's draw concentration it was derived from (run.json `negative_draw_hits`); 'bound, "
        "cap N' where the default `train.curvature_bound=-1` turned the curvature bound on, with "
        "the row-hit cap at N (run.json `curvature_bound`)",
        "",
        "| P | " + " | ".join(HEADLINE) + " | train s | a draw counts |",
        "|---" * (len(HEADLINE) + 3) + "|",
    ]
    for p, group in by_p.items():
        cells = [("{:.3f} ± {:.3f}").format(*mean_std(group, key)) for key in HEADLINE.values()]
        seconds = [r["train_seconds"] for r in group]
        lines.append(
            f"| {p} | "
            + " | ".join(cells)
            + f" | {min(seconds):.0f}–{max(seconds):.0f} | {draw_counts(group)} |"
        )
    if reference is None or len(by_p) == 1:
        return "\n".join(lines) + "\n"
    compared = [p for p in by_p if p != 1]
    sections = [k.split("/", 1)[1] for k in reference[0] if k.startswith("section/")]
    lines += [
        "",
        "Every headline figure and analogy section (mean over seeds; Δ against P = 1):",
        "",
        "| set | P = 1 | " + " | ".join(f"P = {p} | Δ | within spread" for p in compared) + " |",
        "|---" * (2 + 3 * len(compared)) + "|",
    ]
    for name, key in [*HEADLINE.items(), *((s, f"section/{s}") for s in sections)]:
        ref_mean, ref_std = mean_std(reference, key)
        cells = [f"{ref_mean:.3f} ± {ref_std:.3f}"]
        for p in compared:
            mean, std = mean_std(by_p[p], key)
            delta = mean - ref_mean
            verdict = (
                "yes" if abs(delta) <= max(ref_std, std) else ("above" if delta > 0 else "**no**")
            )
            cells += [f"{mean:.3f} ± {std:.3f}", f"{delta:+.3f}", verdict]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def question_report(rows: list[dict], section: str, questions: list[tuple[str, ...]]) -> str:
    """Question by question in one analogy section: how many runs of each P answered it, and
    which answers (d words) the runs got right. A small section's score can rest on a few word
    pairs; this says whether P loses the same questions every seed or different ones."""
    stored = [r for r in rows if "analogy/correct_questions" in r]
    if not stored:
        return "(no run in the store recorded its questions: rerun with a new --store)\n"
    if section not in {q[0] for q in questions}:
        raise SystemExit(f"--questions {section}: the analogy file has no such section")
    if any(len(r["analogy/correct_questions"]) != len(questions) for r in stored):
        raise SystemExit(
            "--questions: a stored run answered another analogy file (its question count "
            f"differs from {len(questions)}): use the --analogy file the store was made with"
        )
    by_p = {p: [r for r in stored if r["P"] == p] for p in sorted({r["P"] for r in stored})}
    picked = [i for i, q in enumerate(questions) if q[0] == section]
    lines = [
        f"Question by question, {section} (3CosAdd; runs that recorded their questions):",
        "",
        "| P | runs | right per run | right in every run | right in at least one "
        "| answers right (d word: questions over all runs) |",
        "|---|---|---|---|---|---|",
    ]
    for p, group in by_p.items():
        right = np.array(
            [[r["analogy/correct_questions"][i] == "1" for i in picked] for r in group]
        )
        answers: dict[str, int] = {}
        for run_right in right:
            for i, ok in zip(picked, run_right, strict=True):
                if ok:
                    answers[questions[i][4]] = answers.get(questions[i][4], 0) + 1
        tally = ", ".join(f"{w} {n}" for w, n in sorted(answers.items(), key=lambda x: -x[1]))
        lines.append(
            f"| {p} | {len(group)} | {', '.join(str(int(x)) for x in right.sum(1))} of "
            f"{group[0].get(f'section_covered/{section}', '?')} | {int(right.all(0).sum())} | "
            f"{int(right.any(0).sum())} | {tally or '-'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--wordsim", required=True)
    parser.add_argument("--analogy", required=True)
    parser.add_argument("--blocks", default="1,2,8,32")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--kind", default="skipgram")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--host-devices",
        type=int,
        default=1,
        help="train on this many devices; on a CPU, XLA simulates them (P must divide by it)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for every run, as launch.py's (use its own --store and --out "
        "section: the section is named by corpus, kind and these)",
    )
    parser.add_argument(
        "--reference-defaults",
        action="store_true",
        help="run P = 1 at the defaults, without --set: the reference the other P are judged "
        "against, where --set changes P > 1 only in intent (a cap or bound for stale blocks)",
    )
    parser.add_argument(
        "--label",
        default="",
        help="appended to the section's name, so that runs of the same settings over other P "
        "or seeds (a 5-seed table beside a 3-seed one) keep sections of their own",
    )
    parser.add_argument(
        "--questions",
        default="",
        metavar="SECTION",
        help="also report this analogy section question by question (runs stored since the "
        "store recorded each run's answered questions)",
    )
    parser.add_argument("--store", default=None, help="JSON lines of finished runs (resume)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    if args.host_devices > 1:  # before the worker's first jax import
        flag = f"--xla_force_host_platform_device_count={args.host_devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    command = invocation(__file__)
    store = Path(args.store) if args.store else None
    rows = []
    if store is not None and store.exists():
        rows = [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    wanted = [(int(p), int(s)) for p in args.blocks.split(",") for s in args.seeds.split(",")]
    for blocks, seed in wanted:
        if any(same_run(r, blocks, seed, overrides_for(args, blocks)) for r in rows):
            continue
        row = run_one(args, blocks, seed)
        rows.append(row)
        if store is not None:
            with store.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        print(
            f"P={blocks} seed={seed}: "
            + ", ".join(f"{name} {row[key]:.3f}" for name, key in HEADLINE.items())
            + f", {row['train_seconds']:.0f} s",
            flush=True,
        )
    chosen = [r for r in rows if any(same_run(r, p, s, overrides_for(args, p)) for p, s in wanted)]
    body = report(chosen, args, command)
    if args.questions:
        from research.eval.analogy import read_analogies

        analogies = read_analogies(args.analogy)
        questions = [(s, *q) for s, q in zip(analogies.sections, analogies.words, strict=True)]
        body += "\n" + question_report(chosen, args.questions, questions)
    print(body)
    settings = section_settings(args)
    write_section(
        Path(args.out),
        f"word2vec_parallel_blocks {Path(args.corpus).name} {args.kind}{settings}",
        f"### parallel blocks: quality against P ({Path(args.corpus).name}, {args.kind}"
        f"{settings})\n\n" + body,
    )


def section_settings(args: argparse.Namespace) -> str:
    """What names a section after its corpus and kind: devices, overrides, the reference and
    --label, so that runs of other settings keep sections of their own."""
    settings = "" if args.host_devices == 1 else f" {args.host_devices} devices"
    settings += "".join(f" {assignment}" for assignment in args.set)
    if args.reference_defaults and args.set:  # its own section: P = 1 differs from the same --set
        settings += ", P = 1 at the defaults"
    return settings + (f", {args.label}" if args.label else "")


if __name__ == "__main__":
    main()
