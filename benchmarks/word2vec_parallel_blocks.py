"""word2vec quality against train.parallel_blocks = P (blocks per SGD step, data parallelism) at
the default learning rate, same corpus, same evaluation as word2vec_vs_gensim.py; one device, or
--host-devices N (simulated by XLA on a CPU) with every P a multiple of N.

    python benchmarks/word2vec_parallel_blocks.py \
        --corpus ~/.cache/strata-bench-corpus/corpus.txt \
        --wordsim /work/shared/data/word/wordsim353.tsv \
        --analogy /work/shared/data/word/questions_words.tsv --blocks 1,2,8,32 --seeds 0,1,2

Each (P, seed) run is appended to --store (JSON lines) as it ends, and a run already there (same
P, seed, --set overrides and config, so a default changed since is run again: `run_config`) is
not repeated, so an interrupted invocation resumes. Prints and writes to --out (a section named
by the corpus, kind and overrides): mean ± std over seeds of
WS-353 Spearman, analogy accuracy (total, semantic, syntactic), training seconds and how a
shared negative's draw counted per P, then every analogy section per P with its Δ against P = 1
and whether Δ is within the larger of the two seed standard deviations; where the runs recorded
their analogy answers, each set's Δ with a 95 % interval from a bootstrap over seeds and
questions, and both rules on P = 1 against itself (their false alarms); likewise for WS-353's
Spearman ρ, resampling seeds and word pairs. --dev-wordsim NAME=PATH scores more similarity
sets (MTurk-771, say) to choose a setting on, so that WS-353 stays the set it is reported on;
a stored run without one of them is run again. With --set KEY=VALUE
(a rule for stale blocks, say) and --reference-defaults, P = 1 runs at the defaults, so every
P is judged against plain word2vec SGD rather than against P = 1 under the same overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_common import invocation, machine, write_section  # noqa: E402
from word2vec_vs_gensim import ours_config, pairs_digest, worker_ours  # noqa: E402

from research.eval.common import average_ranks  # noqa: E402

HEADLINE = {
    "WS-353 ρ": "ws353/spearman",
    "analogy": "analogy/accuracy",
    "semantic": "analogy/semantic_accuracy",
    "syntactic": "analogy/syntactic_accuracy",
}


def overrides_for(args: argparse.Namespace, blocks: int) -> list[str]:
    """The --set overrides of a P = `blocks` run: none for P = 1 under --reference-defaults."""
    return [] if blocks == 1 and args.reference_defaults else list(args.set)


def worker_args(args: argparse.Namespace, blocks: int, seed: int) -> argparse.Namespace:
    """word2vec_vs_gensim's worker arguments for the run of P = `blocks` at `seed`."""
    return argparse.Namespace(
        corpus=os.path.realpath(os.path.expanduser(args.corpus)),
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
        dev_wordsims=dev_wordsims(args),
        set=[
            f"train.parallel_blocks={blocks}",
            f"train.devices={args.host_devices}",
            *overrides_for(args, blocks),
        ],
    )


def dev_wordsims(args: argparse.Namespace) -> dict[str, str]:
    """--dev-wordsim NAME=PATH as {name: path}: similarity sets to choose settings on, so that
    WS-353 stays the set a choice is reported on."""
    sets = {}
    for assignment in args.dev_wordsim:
        name, sep, path = assignment.partition("=")
        if not sep or not name or not path or name == "ws353":
            raise SystemExit(
                f"--dev-wordsim {assignment!r}: expected NAME=PATH with a name other than ws353, "
                "e.g. --dev-wordsim mturk771=/work/shared/data/word/mturk771.tsv"
            )
        sets[name] = os.path.realpath(os.path.expanduser(path))
    return sets


def latest_runs(
    rows: list[dict], wanted: list[tuple[int, int]], stored: Callable[[dict, int, int], bool]
) -> list[dict]:
    """The stored row of each wanted (P, seed), the latest where there are several (a run
    redone for a --dev-wordsim set leaves its older row in the store): one row per run."""
    return [next(r for r in reversed(rows) if stored(r, p, s)) for p, s in wanted]


def similarity_digests(args: argparse.Namespace) -> dict[str, str]:
    """{set name: word2vec_vs_gensim.pairs_digest of its file}: WS-353, then each --dev-wordsim."""
    from research.eval.similarity import read_word_pairs

    paths = {"ws353": args.wordsim, **dev_wordsims(args)}
    return {name: pairs_digest(read_word_pairs(path)) for name, path in paths.items()}


def scored_same_sets(row: dict, digests: dict[str, str]) -> bool:
    """Whether a stored run scored every similarity set of `digests` (WS-353 and each
    --dev-wordsim) on the pairs the files hold now: a set missing from the row, or scored on
    other pairs (another file under the name), means running it again. Rows stored before
    runs recorded the digest (e74f785 to the commit after it) are taken on the set's name."""
    return all(
        f"{name}/spearman" in row and row.get(f"{name}/pairs_digest", digest) == digest
        for name, digest in digests.items()
    )


# Config fields that change nothing a run reports: a new default among them reruns nothing.
UNREPORTED = {
    "": ("name", "log"),
    "train": ("log_every", "checkpoint_every", "allow_config_change"),
}


def run_config(args: argparse.Namespace, blocks: int, seed: int) -> dict:
    """The config the run of P = `blocks` at `seed` trains with, as stored (JSON; less
    UNREPORTED): a stored run is reused only where it trained with these values, so a run
    stored before one of them changed default is run again rather than reported under the new
    one. What is decided while training (the curvature-bound rule's decision, which the row
    records apart) and changes to the code are not in it: a store holds one code version."""
    from research.config import to_dict

    config = json.loads(json.dumps(to_dict(ours_config(worker_args(args, blocks, seed)))))
    for section, names in UNREPORTED.items():
        for name in names:
            (config[section] if section else config).pop(name)
    return config


def run_one(args: argparse.Namespace, blocks: int, seed: int) -> dict:
    row = worker_ours(worker_args(args, blocks, seed))
    import jax  # imported by the worker, after --host-devices set XLA_FLAGS

    return {
        "P": blocks,
        "seed": seed,
        "devices": jax.device_count(),
        "train_seconds": row["train_seconds"],
        "negative_draw_hits": row.get("negative_draw_hits"),
        "curvature_bound": row.get("curvature_bound"),
        "set": overrides_for(args, blocks),
        "config": run_config(args, blocks, seed),
        **row["results"],
    }


def same_run(row: dict, blocks: int, seed: int, overrides: list[str], config: dict) -> bool:
    """Whether a stored row is the run (P, seed, --set overrides) asks for, trained with the
    `config` (run_config) that run would train with now."""
    asked = (blocks, seed, list(overrides), config)
    return (row["P"], row["seed"], row.get("set", []), row.get("config")) == asked


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


def headline(args: argparse.Namespace) -> dict[str, str]:
    """The report's headline figures (label: result key): HEADLINE, then each --dev-wordsim."""
    return {**HEADLINE, **{f"{name} ρ (dev)": f"{name}/spearman" for name in dev_wordsims(args)}}


def report(
    rows: list[dict],
    args: argparse.Namespace,
    command: str,
    sets: dict | None = None,
    similarity: dict[str, np.ndarray] | None = None,
) -> str:
    figures = headline(args)
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
        *(
            [
                "- dev: word-similarity sets to choose settings on (`--dev-wordsim`), so that "
                "WS-353 is not both the set a setting was chosen on and the set it is reported on"
            ]
            if len(figures) > len(HEADLINE)
            else []
        ),
        "",
        "| P | " + " | ".join(figures) + " | train s | a draw counts |",
        "|---" * (len(figures) + 3) + "|",
    ]
    for p, group in by_p.items():
        cells = [("{:.3f} ± {:.3f}").format(*mean_std(group, key)) for key in figures.values()]
        seconds = [r["train_seconds"] for r in group]
        lines.append(
            f"| {p} | "
            + " | ".join(cells)
            + f" | {min(seconds):.0f}–{max(seconds):.0f} | {draw_counts(group)} |"
        )
    if reference is None or len(by_p) == 1:  # P = 1 alone: its control, where it has the seeds
        controls = []
        if reference and similarity:
            controls += similarity_report(by_p, similarity)
        if reference and sets:
            controls += interval_report(by_p, sets)
        return "\n".join(lines + controls) + "\n"
    compared = [p for p in by_p if p != 1]
    sections = [k.split("/", 1)[1] for k in reference[0] if k.startswith("section/")]
    lines += [
        "",
        "Every headline figure and analogy section (mean over seeds; Δ against P = 1):",
        "",
        "| set | P = 1 | " + " | ".join(f"P = {p} | Δ | within spread" for p in compared) + " |",
        "|---" * (2 + 3 * len(compared)) + "|",
    ]
    for name, key in [*figures.items(), *((s, f"section/{s}") for s in sections)]:
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
    if similarity:
        lines += similarity_report(by_p, similarity)
    if sets:
        lines += interval_report(by_p, sets)
    return "\n".join(lines) + "\n"


def similarity_sets(rows: list[dict], args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Each word-similarity set (WS-353, then each --dev-wordsim) whose pairs every run scored
    one by one (runs stored since word2vec_vs_gensim.evaluate kept pair_cosines), with the same
    pairs out of vocabulary in every run and at least INTERVAL_MIN_PAIRS of them scored: name
    -> the gold scores of the scored pairs. Says why where it leaves a set out."""
    from research.eval.similarity import read_word_pairs

    paths = {"ws353": args.wordsim, **dev_wordsims(args)}
    sets = {}
    for name, path in paths.items():
        key = f"{name}/pair_cosines"
        if not rows:
            break
        if any(key not in r for r in rows):
            print(f"no {name} interval: runs stored before they kept pair cosines", flush=True)
            continue
        scored = {tuple(c is not None for c in r[key]) for r in rows}
        gold = np.array([score for _, _, score in read_word_pairs(path)])
        if any(len(mask) != len(gold) for mask in scored):
            raise SystemExit(
                f"the stored runs scored another {name} file than {path} ({len(gold)} pairs): "
                "use the file the store was made with"
            )
        if len(scored) != 1:
            print(f"no {name} interval: the runs scored different pairs", flush=True)
            continue
        mask = np.array(scored.pop())
        if mask.sum() < INTERVAL_MIN_PAIRS:
            print(f"no {name} interval: {mask.sum()} pairs scored", flush=True)
            continue
        sets[name] = gold[mask]
    return sets


def pair_cosines(rows: list[dict], name: str) -> np.ndarray:
    """(runs, scored pairs): each run's cosines of the pairs every run scored."""
    return np.array([[c for c in r[f"{name}/pair_cosines"] if c is not None] for r in rows])


def row_ranks(values: np.ndarray) -> np.ndarray:
    """research.eval.common.average_ranks of every row of a 2-D array at once: each row is
    shifted clear of the others, ranked as one, and shifted back."""
    rows, width = values.shape
    spread = float(values.max() - values.min()) + 1.0
    shifted = (values - values.min()) + spread * np.arange(rows)[:, None]
    ranks = average_ranks(shifted.ravel()).reshape(rows, width)
    return ranks - width * np.arange(rows)[:, None]


def centred_ranks(values: np.ndarray) -> np.ndarray:
    """row_ranks less each row's mean rank."""
    ranks = row_ranks(values)
    return ranks - ranks.mean(axis=1, keepdims=True)


def row_spearman(gold: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row of `cosines` against the same row of `gold` (same shape); NaN
    for a constant row."""
    return ranked_spearman(centred_ranks(gold), cosines)


def ranked_spearman(gold_ranks: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    """row_spearman with the gold's centred_ranks given: ranked once where many runs share
    the same resampled pairs."""
    b = centred_ranks(cosines)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (gold_ranks * b).sum(1) / np.sqrt((gold_ranks * gold_ranks).sum(1) * (b * b).sum(1))


def similarity_interval(
    gold: np.ndarray,
    reference: np.ndarray,
    compared: np.ndarray,
    rounds: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """95 % interval of Δ = the `compared` runs' mean Spearman ρ − the `reference` runs' on one
    word-similarity set, by the two-level bootstrap of delta_interval: each round resamples
    the runs of each group (seeds) and the set's pairs (one draw for both groups: paired).

    gold (N,) and reference (R, N), compared (C, N): the human scores and each run's cosines.
    Pairs that share a word are resampled as if independent, which narrows the interval (as
    questions do in delta_interval). NaN bounds where a resampled ρ is undefined.
    """
    rng = np.random.default_rng(seed)
    count = len(gold)
    deltas = []
    for start in range(0, rounds, 250):  # bounded memory: 250 rounds of pairs at a time
        n = min(250, rounds - start)
        drawn = rng.integers(0, count, (n, count))
        gold_ranks = centred_ranks(gold[drawn])
        means = []
        for group in (reference, compared):
            # every run's ρ on every round's pairs: (runs, rounds)
            rho = np.stack([ranked_spearman(gold_ranks, run[drawn]) for run in group])
            picked = rng.integers(0, len(group), (n, len(group)))
            means.append(rho[picked, np.arange(n)[:, None]].mean(axis=1))
        deltas.append(means[1] - means[0])
    deltas = np.concatenate(deltas)
    if not np.isfinite(deltas).all():
        return float("nan"), float("nan")
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


def judge_similarity(gold: np.ndarray, base: list[dict], compared: list[dict], name: str) -> dict:
    """Δ of `compared` against `base` in Spearman ρ on one similarity set, its 95 % interval
    (similarity_interval) and both rules' verdicts, as judge_set."""
    rho = [np.array([r[f"{name}/spearman"] for r in group]) for group in (base, compared)]
    return judge_scores(
        *rho,
        lambda: similarity_interval(gold, pair_cosines(base, name), pair_cosines(compared, name)),
    )


def similarity_report(by_p: dict[int, list[dict]], similarity: dict[str, np.ndarray]) -> list[str]:
    """Each word-similarity set's Δ in Spearman ρ against P = 1 with its bootstrap interval,
    then P = 1's later half of seeds against its earlier half (the rules' false alarms)."""
    reference = by_p[1]
    label = {name: name + ("" if name == "ws353" else " (dev)") for name in similarity}

    def judge(gold: np.ndarray, name: str) -> Callable[[list[dict], list[dict]], dict]:
        return lambda base, compared: judge_similarity(gold, base, compared, name)

    lines = delta_table(
        "Word similarity: each set's Δ in Spearman ρ against P = 1 with a 95 % interval, a "
        "two-level bootstrap (2,000 rounds) resampling each side's seeds and, paired, the "
        f"set's scored pairs (`similarity_interval`); n/a under {INTERVAL_MIN_RUNS} runs a "
        f"side (sets with under {INTERVAL_MIN_PAIRS} scored pairs are left out):",
        "pairs",
        [(label[name], len(gold), judge(gold, name)) for name, gold in similarity.items()],
        by_p,
    )
    ordered = sorted(reference, key=lambda r: r["seed"])
    if len(ordered) < 2 * INTERVAL_MIN_RUNS:
        return lines
    half = len(ordered) // 2
    earlier, later = ordered[:half], ordered[-half:]
    seeds = [", ".join(str(r["seed"]) for r in rows) for rows in (later, earlier)]
    lines += [
        "",
        "Control: P = 1 against itself on each similarity set (halves of the seeds):",
        "",
        "| set | comparison (seeds) | Δ | within the larger std | 95 % interval | within it |",
        "|---|---|---|---|---|---|",
    ]
    for name, gold in similarity.items():
        judged = judge_similarity(gold, earlier, later, name)
        lines.append(
            f"| {label[name]} | P = 1 {seeds[0]} against P = 1 {seeds[1]} | "
            f"{judged['delta']:+.3f} | {judged['by std']} | {judged['interval']} | "
            f"{judged['by interval']} |"
        )
    return lines


def answered(rows: list[dict]) -> np.ndarray:
    """(runs, questions) bool: which questions each run answered right, in file order."""
    return np.array([[c == "1" for c in r["analogy/correct_questions"]] for r in rows])


def question_sets(rows: list[dict], analogy: str) -> dict[str, np.ndarray] | None:
    """Each set the report judges (the whole file, semantic, syntactic, every section) as a
    mask over the covered questions, where every run recorded its answers and coverage (runs
    stored since 2026-12-05's second change to word2vec_vs_gensim.evaluate); else None."""
    if not rows or any("analogy/covered_questions" not in r for r in rows):
        return None
    from research.eval.analogy import read_analogies

    covered = {r["analogy/covered_questions"] for r in rows}
    if len(covered) != 1:  # another vocabulary (a --set of data.min_count, say): not paired
        print("no intervals: the runs covered different analogy questions", flush=True)
        return None
    mask = np.array([c == "1" for c in covered.pop()])
    questions = read_analogies(analogy)
    if len(questions.sections) != len(mask):
        raise SystemExit(
            f"the stored runs answered {len(mask)} analogy questions and --analogy has "
            f"{len(questions.sections)}: use the --analogy file the store was made with"
        )
    sections = np.array(questions.sections, dtype=object)
    kinds = np.array(questions.kinds, dtype=object)
    sets = {section: mask & (sections == section) for section in dict.fromkeys(sections)}
    sets = {
        "analogy": mask,
        "semantic": mask & (kinds == "semantic"),
        "syntactic": mask & (kinds == "syntactic"),
        **{name: m for name, m in sets.items() if name not in ("analogy", "semantic", "syntactic")},
    }
    return {name: m for name, m in sets.items() if m.any()}


# Below these the interval says "n/a": a bootstrap over fewer runs or questions understates the
# spread (3 runs of 0.4 / 0.5 / 0.6 on each side give ±0.13 where a t-interval gives ±0.23).
INTERVAL_MIN_RUNS = 3
INTERVAL_MIN_QUESTIONS = 20
INTERVAL_MIN_PAIRS = 20  # the same floor for a similarity set's scored pairs


def delta_interval(
    reference: np.ndarray, compared: np.ndarray, rounds: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % interval of Δ = the `compared` runs' mean accuracy − the `reference` runs' over
    one set of questions, by a two-level bootstrap. Each round resamples the runs of each
    group (training noise: seeds) and the set's questions (which questions the set happens to
    hold; one draw for both groups, so the comparison is paired).

    reference (R, Q) and compared (C, Q) bool: which of the set's Q questions each run got
    right. Questions built from the same word pairs are resampled as if independent, which
    narrows the interval: a difference it calls real may still be word placement. So do few
    runs: interval_report asks for INTERVAL_MIN_RUNS a side.
    """
    rng = np.random.default_rng(seed)
    count = reference.shape[1]
    deltas = []
    for start in range(0, rounds, 250):  # bounded memory: 250 rounds of Q weights at a time
        n = min(250, rounds - start)
        # Each round's questions drawn with replacement, as how often each question was drawn.
        drawn = rng.integers(0, count, (n, count)) + count * np.arange(n)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=n * count).reshape(n, count).T / count
        per_run = [group.astype(np.float64) @ weights for group in (reference, compared)]
        means = [
            run_scores[
                rng.integers(0, len(run_scores), (n, len(run_scores))), np.arange(n)[:, None]
            ].mean(axis=1)
            for run_scores in per_run
        ]
        deltas.append(means[1] - means[0])
    low, high = np.percentile(np.concatenate(deltas), [2.5, 97.5])
    return float(low), float(high)


def judge_scores(
    base: np.ndarray, compared: np.ndarray, interval: Callable[[], tuple[float, float]] | None
) -> dict:
    """Δ of the `compared` runs' mean score against the `base` runs', and both rules' verdicts:
    |Δ| within the larger seed std / the 95 % interval from `interval()` holds 0 ('yes'), else
    'above' or '**no**'. The interval is 'n/a' under INTERVAL_MIN_RUNS a side, where
    `interval` is None (too few questions), or where its bounds are not finite."""
    delta = float(compared.mean() - base.mean())
    spread = max(float(x.std(ddof=1)) if len(x) > 1 else 0.0 for x in (base, compared))

    def verdict(within: bool) -> str:
        return "yes" if within else ("above" if delta > 0 else "**no**")

    judged = {"delta": delta, "by std": verdict(abs(delta) <= spread)}
    unjudged = {**judged, "interval": "n/a", "by interval": "n/a"}
    if min(len(base), len(compared)) < INTERVAL_MIN_RUNS or interval is None:
        return unjudged
    low, high = interval()
    if not (np.isfinite(low) and np.isfinite(high)):  # a resampled score undefined
        return unjudged
    return {
        **judged,
        "interval": f"{low:+.3f} to {high:+.3f}",
        "by interval": verdict(low <= 0.0 <= high),
    }


def judge_set(base: list[dict], compared: list[dict], mask: np.ndarray) -> dict:
    """Δ of `compared` against `base` on one set of questions, its 95 % interval
    (delta_interval), and both rules' verdicts (judge_scores)."""
    right = [answered(group)[:, mask] for group in (base, compared)]
    enough = mask.sum() >= INTERVAL_MIN_QUESTIONS
    return judge_scores(
        *(r.mean(axis=1) for r in right), (lambda: delta_interval(*right)) if enough else None
    )


def delta_table(
    intro: str,
    size_column: str,
    rows: list[tuple[str, int, Callable[[list[dict], list[dict]], dict]]],
    by_p: dict[int, list[dict]],
) -> list[str]:
    """The table of each set's Δ against P = 1, its interval and verdict, per P: `rows` are
    (set label, its size, judge(P = 1's runs, P's runs))."""
    compared = [p for p in by_p if p != 1]
    if not compared:
        return []
    lines = [
        "",
        intro,
        "",
        f"| set | {size_column} | "
        + " | ".join(f"P = {p}: Δ | 95 % interval | within" for p in compared)
        + " |",
        "|---" * (2 + 3 * len(compared)) + "|",
    ]
    for label, size, judge in rows:
        cells = [label, str(size)]
        for p in compared:
            judged = judge(by_p[1], by_p[p])
            cells += [f"{judged['delta']:+.3f}", judged["interval"], judged["by interval"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def interval_report(by_p: dict[int, list[dict]], sets: dict[str, np.ndarray]) -> list[str]:
    """Every analogy set's Δ against P = 1 with its two-level bootstrap interval, then both
    rules (the interval, the larger seed std) on P = 1 against itself, its later half of seeds
    against its earlier half: what a rule flags there is noise, its false alarms."""
    reference = by_p[1]

    def judge(mask: np.ndarray) -> Callable[[list[dict], list[dict]], dict]:
        return lambda base, compared: judge_set(base, compared, mask)

    lines = delta_table(
        "Every analogy set's Δ against P = 1 with a 95 % interval: a two-level bootstrap "
        "(2,000 rounds) resampling each side's seeds and, paired, the set's covered questions "
        f"(`delta_interval`); within = the interval holds 0; n/a under {INTERVAL_MIN_RUNS} "
        f"runs a side or {INTERVAL_MIN_QUESTIONS} questions:",
        "questions",
        [(name, int(mask.sum()), judge(mask)) for name, mask in sets.items()],
        by_p,
    )
    ordered = sorted(reference, key=lambda r: r["seed"])
    if len(ordered) < 2 * INTERVAL_MIN_RUNS:  # halves with the runs an interval needs
        return lines
    half = len(ordered) // 2
    earlier, later = ordered[:half], ordered[-half:]
    judged = {name: judge_set(earlier, later, mask) for name, mask in sets.items()}

    def flagged(rule: str) -> str:
        below = [n for n, j in judged.items() if j[rule] == "**no**"]
        above = sum(j[rule] == "above" for j in judged.values())
        return f"{len(below)} / {above} | " + (
            ", ".join(f"{n} {judged[n]['delta']:+.3f}" for n in below) or "none"
        )

    def seeds(rows: list[dict]) -> str:
        return ", ".join(str(r["seed"]) for r in rows)

    return lines + [
        "",
        f"Control: P = 1 against itself (the rules' false alarms over {len(sets)} sets; "
        "halves of the seeds, so a comparison with half the seeds a side of the tables above):",
        "",
        "| comparison (seeds) | sets | outside the larger std: below / above | below | outside "
        "the interval: below / above | below |",
        "|---|---|---|---|---|---|",
        f"| P = 1 {seeds(later)} against P = 1 {seeds(earlier)} | {len(sets)} | "
        f"{flagged('by std')} | {flagged('by interval')} |",
    ]


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
    parser.add_argument(
        "--dev-wordsim",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also score this word-similarity set, as a dev set to choose settings on (WS-353 "
        "stays the set reported); repeatable",
    )
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
    configs = {(p, s): run_config(args, p, s) for p, s in wanted}

    digests = similarity_digests(args)

    def stored(row: dict, blocks: int, seed: int) -> bool:
        return same_run(
            row, blocks, seed, overrides_for(args, blocks), configs[blocks, seed]
        ) and scored_same_sets(row, digests)

    stale = [
        (p, s)
        for p, s in wanted
        if not any(stored(r, p, s) for r in rows)
        and any(
            (r["P"], r["seed"], r.get("set", [])) == (p, s, overrides_for(args, p)) for r in rows
        )
    ]
    if stale:
        print(
            f"{len(stale)} run(s) of these P, seeds and --set are stored with another config (a "
            "default changed since, or stored before runs recorded their config) or without a "
            "--dev-wordsim set: running them again",
            flush=True,
        )
    for blocks, seed in wanted:
        if any(stored(r, blocks, seed) for r in rows):
            continue
        row = run_one(args, blocks, seed)
        rows.append(row)
        if store is not None:
            with store.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        print(
            f"P={blocks} seed={seed}: "
            + ", ".join(f"{name} {row[key]:.3f}" for name, key in headline(args).items())
            + f", {row['train_seconds']:.0f} s",
            flush=True,
        )
    chosen = latest_runs(rows, wanted, stored)
    body = report(
        chosen,
        args,
        command,
        question_sets(chosen, args.analogy),
        similarity_sets(chosen, args),
    )
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
