"""Compare training objectives on equal footing: same data, encoder size, steps and seeds.

`run_comparison(config, workdir)` trains one encoder per (objective, seed) with the shared
settings in `config.encoder`, scores the baselines (TF-IDF bag of words, averaged word2vec, and
on request SIF word2vec) with the same evaluators, and writes
  comparison.md / comparison.csv   mean ± standard deviation over seeds, best per column in bold
  plots/compare_metrics.png        one bar chart per metric, error bars = std over seeds
  plots/training_curves.png        loss against step for every run
  runs/<method>/seed<k>/           each run's own workdir (config, metrics, results, plots)
Every run is resumable: a finished run is read back from its results.json, an interrupted one
resumes from its checkpoint, so re-running the same command completes a partial comparison.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import itertools
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from research import config as config_lib
from research.config import Config, EncoderRunConfig, LogConfig
from research.errors import UserError

# Headline metrics: (results key suffix, column title). Higher is better except LOWER_IS_BETTER.
HEADLINE = [
    ("synthetic_sense/accuracy", "sense acc"),
    ("synthetic_sense/roc_auc", "sense AUC"),
    ("synthetic_polysemy/accuracy", "polysemy sep."),
    ("synthetic_sts/spearman", "STS ρ"),
    ("synthetic_retrieval/recall@1", "retrieval R@1"),
    ("synthetic_retrieval/mrr", "retrieval MRR"),
    ("level_probes/best/depth1/linear", "probe depth1"),
    ("level_probes/best/depth2/linear", "probe depth2"),
    ("level_probes/best/depth3/linear", "probe depth3"),
    ("level_probes/best/topic/linear", "probe topic"),
    ("synthetic_similarity/spearman", "word sim ρ"),
    # The real suite (--set encoder.evals=real; research/eval/suites.py).
    ("stsb_dev/spearman", "STS-B dev ρ"),
    ("stsb_test/spearman", "STS-B test ρ"),
    ("wordnet_wic/accuracy", "WiC acc (dev)"),
    ("wordnet_wic/roc_auc", "WiC AUC (dev)"),
    ("def2word/recall@1", "def→word R@1"),
    ("def2word/recall@10", "def→word R@10"),
    ("def2word/mrr", "def→word MRR"),
    ("hypernym_probes/best/depth1/linear", "hypernym depth1"),
    ("hypernym_probes/best/depth2/linear", "hypernym depth2"),
    ("hypernym_probes/best/depth3/linear", "hypernym depth3"),
    ("hypernym_probes/best/root2/linear", "hypernym root2"),
    ("hypernym_probes/best/root3/linear", "hypernym root3"),
    ("hypernym_probes/best/lexname/linear", "supersense"),
    ("ws353/spearman", "WS-353 ρ"),
    # SimCSE's geometry on STS-B test (research/eval/geometry.py): lower is better.
    ("stsb_test/alignment", "STS-B align ↓"),
    ("stsb_test/uniformity", "STS-B uniform ↓"),
]
LOWER_IS_BETTER = {"stsb_test/alignment", "stsb_test/uniformity"}
PROBE_EVALUATORS = ("level_probes", "hypernym_probes")  # summarised by add_best_level
# The word-sense evaluators' word-overlap baseline, shown as a row of its own.
OVERLAP = {
    f"{name}/{metric}": f"{name}/baseline_overlap_{metric}"
    for name in ("synthetic_sense", "wordnet_wic")
    for metric in ("accuracy", "roc_auc")
}
SIF_REFERENCE_LINES = 20000  # training-text lines whose SIF averages give the removed component


@dataclasses.dataclass
class CompareConfig:
    name: str = "compare_objectives"
    objectives: list[str] = dataclasses.field(
        default_factory=lambda: [
            "mlm",
            "next_token",
            "contrastive",
            "multi_abstraction",
            "multi_abstraction+mlm",
        ]
    )  # objective.kind of each compared encoder (a method named by its objective)
    # Named variants, each {encoder override: value} applied to `encoder`, e.g.
    # {"simcse": {"objective.kind": "contrastive", "objective.positives": "dropout"}}; reserved:
    #   "init_from": another method's name: start from that method's run of the same seed
    #                (staged training; the parent is trained first)
    #   "budget":    this method's share of token_budget (default 1)
    methods: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # Data tokens each method reads (non-padding ids of every field its objectives read);
    # steps = budget / the method's measured tokens per step. 0 = encoder.train.steps for all.
    token_budget: int = 0
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    # Any of: tfidf (IDF from the training documents), word2vec (averaged vectors), sif
    # (SIF-weighted word2vec, first principal component removed). Both word-vector baselines
    # use one word2vec run per seed, trained with `word2vec` on the encoder's data source into
    # runs/word2vec/seed<k> (a finished run is reused).
    baselines: list[str] = dataclasses.field(default_factory=lambda: ["tfidf", "word2vec"])
    encoder: EncoderRunConfig = dataclasses.field(default_factory=EncoderRunConfig)
    word2vec: Config = dataclasses.field(default_factory=Config)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)


def seeds_of(config: CompareConfig) -> list[int]:
    if not config.seeds:
        raise UserError("seeds is empty; give at least one, e.g. --set seeds=[0,1,2]")
    return list(config.seeds)


RESERVED = ("init_from", "budget")


def methods_of(config: CompareConfig) -> dict[str, dict[str, Any]]:
    """Every compared method as {name: spec}, `objectives` first, parents before their staged
    children; specs are checked here, before anything trains."""
    methods = {kind: {"objective.kind": kind} for kind in config.objectives}
    for name, spec in config.methods.items():
        if name in methods:
            raise UserError(f"method {name!r} is named in both objectives and methods; rename it")
        if not isinstance(spec, dict):
            raise UserError(f"methods.{name}: expected a mapping of encoder overrides")
        methods[name] = dict(spec)
    if not methods:
        raise UserError("nothing to compare: give objectives=[...] or methods.NAME={...}")
    for name, spec in methods.items():
        parent = spec.get("init_from")
        if parent is not None and (parent not in methods or parent == name):
            raise UserError(
                f"methods.{name}.init_from={parent!r}: expected another method's name "
                f"({', '.join(m for m in methods if m != name)})"
            )
        share = spec.get("budget", 1)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise UserError(f"methods.{name}.budget={share!r}: expected a share in (0, 1]")
        data_keys = [k for k in spec if k.startswith("data.")]
        if data_keys:
            raise UserError(
                f"methods.{name} sets {', '.join(data_keys)}: compared methods share their data; "
                f"set encoder.data.* instead"
            )
    ordered: dict[str, dict[str, Any]] = {}

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in seen:
            raise UserError(f"methods: init_from cycle {' -> '.join((*seen, name))}")
        parent = methods[name].get("init_from")
        if parent is not None:
            visit(parent, (*seen, name))
        ordered[name] = methods[name]

    for name in methods:
        visit(name, ())
    return ordered


def _override_text(value: Any) -> str:
    """A JSON value as --set text (lists [a,b], mappings a=1,b=2)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_override_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return ",".join(f"{k}={_override_text(v)}" for k, v in value.items())
    return str(value)


def encoder_run_config(
    config: CompareConfig, method: str, seed: int, spec: dict[str, Any] | None = None
) -> EncoderRunConfig:
    """The encoder config of `method` (an objective kind, or a `methods` entry) at `seed`."""
    spec = {"objective.kind": method} if spec is None else spec
    run = copy.deepcopy(config.encoder)
    run.name = f"{config.name}/{method}/seed{seed}"
    for key, value in spec.items():
        if key in RESERVED:
            continue
        try:
            config_lib.apply_override(run, f"{key}={_override_text(value)}")
        except UserError as err:
            raise UserError(f"methods.{method}: {err}") from None
    run.train.seed = seed
    run.log = dataclasses.replace(config.log, wandb_group=config.log.wandb_group or config.name)
    return run


@dataclasses.dataclass(frozen=True)
class MethodCost:
    """What one run of a method trains: its steps, and the data tokens and floating-point
    operations (XLA's count) of one of its steps."""

    steps: int
    tokens_per_step: float
    flops_per_step: float


def method_costs(
    config: CompareConfig, runs: dict[str, EncoderRunConfig], specs: dict[str, dict]
) -> dict[str, MethodCost]:
    """Each method's steps (its share of token_budget when that is set, else its configured
    steps) and per-step cost, measured on its own batches."""
    from research.train import encoder as encoder_trainer

    data = encoder_trainer.prepare_data(config.encoder, main=True)
    out = {}
    for name, run in runs.items():
        per_step = encoder_trainer.tokens_per_step(run, data)
        steps = run.train.steps
        if config.token_budget > 0:
            share = float(specs[name].get("budget", 1))
            steps = max(1, math.ceil(config.token_budget * share / per_step))
        out[name] = MethodCost(steps, per_step, encoder_trainer.flops_per_step(run, data))
    return out


def _finished_results(workdir: Path) -> dict[str, float] | None:
    path = workdir / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_encoder(run: EncoderRunConfig, workdir: Path) -> dict[str, float]:
    from research.train import encoder as encoder_trainer

    done = _finished_results(workdir)
    if done is not None:
        return done
    return encoder_trainer.train_and_evaluate(run, workdir)


def training_lines(encoder: EncoderRunConfig, data) -> Iterator[str]:
    """The encoder's training documents: the synthetic world's corpus lines, or the documents of
    `data.source` (the same text the encoder and the word2vec baselines train on)."""
    if data.world_files:
        yield from Path(data.world_files["corpus"]).read_text().splitlines()
        return
    from research.data.text import iter_documents, resolve_source

    source = resolve_source(encoder.data.source)
    for batch in iter_documents(
        source, text_field=encoder.data.text_field, split=encoder.data.split
    ):
        yield from batch


def train_word2vec(config: CompareConfig, seed: int, workdir: Path):
    """word2vec on the encoder's data source (resumable; a finished run is read back)."""
    from research.train import word2vec as word_trainer

    encoder = config.encoder
    word_config = copy.deepcopy(config.word2vec)
    word_config.data.source = encoder.data.source
    word_config.data.text_field = encoder.data.text_field
    word_config.data.split = encoder.data.split
    word_config.data.synthetic_tokens = encoder.data.synthetic_tokens
    word_config.data.synthetic_seed = encoder.data.synthetic_seed
    word_config.train.seed = seed
    word_config.log = dataclasses.replace(config.log, wandb=False, wandb_artifacts=False)
    return word_config, word_trainer.fit(word_config, workdir)


def run_baseline(
    config: CompareConfig,
    baseline: str,
    seed: int,
    workdir: Path,
    word2vec_dir: Path | None = None,
) -> dict[str, float]:
    """Score a baseline with the encoders' evaluators (built from the same config). The
    word-vector baselines train (or reuse) word2vec in `word2vec_dir` (default workdir/word2vec)."""
    from research.baselines import AveragedWordVectors, TfidfEncoder
    from research.data.sequences import prepare_sequences
    from research.eval import run_evaluators
    from research.train import encoder_report
    from research.train import word2vec as word_trainer

    if baseline not in ("tfidf", "word2vec", "sif"):
        raise UserError(f"unknown baseline {baseline!r}; choose from tfidf, word2vec, sif")
    done = _finished_results(workdir)
    if done is not None:
        return done
    workdir.mkdir(parents=True, exist_ok=True)
    encoder = config.encoder
    data = prepare_sequences(
        encoder.data,
        max_len=encoder.data.max_len,
        sentence_len=encoder.data.sentence_len,
        vocab_size=encoder.data.vocab_size,
        progress=False,
    )
    evaluators = encoder_report.build_evaluators(encoder, data, workdir / "plots")[0]
    extra: dict[str, float] = {}
    if baseline == "tfidf":
        model = TfidfEncoder(training_lines(encoder, data))
    else:
        word_config, trained = train_word2vec(config, seed, word2vec_dir or workdir / "word2vec")
        if baseline == "word2vec":
            model = AveragedWordVectors(trained.vectors)
        else:
            lines = (part for doc in training_lines(encoder, data) for part in doc.split("\n"))
            reference = (line for line in lines if line.strip())
            model = AveragedWordVectors(
                trained.vectors,
                weighting="sif",
                remove_components=1,
                reference_texts=itertools.islice(reference, SIF_REFERENCE_LINES),
            )
        headline = {key.split("/")[0] for key, _ in HEADLINE}
        word_evaluators = [
            e
            for e in word_trainer.build_evaluators(
                word_config, trained.world_files, trained.vectors
            )
            if e.name in headline
        ]
        extra, _ = run_evaluators(word_evaluators, trained.vectors)
    results, markdown = run_evaluators(evaluators, model)
    results.update(extra)
    finite = {k: (v if math.isfinite(v) else None) for k, v in results.items()}
    (workdir / "results.json").write_text(json.dumps(finite, indent=2, sort_keys=True) + "\n")
    (workdir / "results.md").write_text(markdown)
    return results


def overlap_row(results: dict[str, float | None]) -> dict[str, float | None]:
    """The word-overlap baseline of the word-sense evaluators, under their metrics' keys."""
    return {
        key: results[source] for key, source in OVERLAP.items() if results.get(source) is not None
    }


def add_best_level(results: dict[str, float | None]) -> dict[str, float | None]:
    """level_probes/best/<probe>/<measure>: the best level's score, for one table column."""
    best: dict[str, float] = {}
    for key, value in results.items():
        parts = key.split("/")
        if parts[0] in PROBE_EVALUATORS and len(parts) == 4 and value is not None:
            column = f"{parts[0]}/best/{parts[2]}/{parts[3]}"
            best[column] = max(best.get(column, -math.inf), value)
    return {**results, **best}


def with_head_readings(per_method: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each method followed by one row per head level it was also read at (eval.head_levels):
    "<method> · head <level>", whose `<evaluator>/<metric>` are its runs' results at
    `<evaluator>@head_<level>/<metric>` (the columns the head's reading does not reach stay n/a)."""
    out: dict[str, list[dict]] = {}
    for method, runs in per_method.items():
        out[method] = runs
        order = {"token": 0, "span": 1, "sentence": 2, "document": 3}
        levels = sorted(
            {k.split("@head_")[1].split("/")[0] for r in runs for k in r if "@head_" in k},
            key=lambda level: (order.get(level, len(order)), level),
        )
        for level in levels:
            tag = f"@head_{level}/"
            out[f"{method} · head {level}"] = [
                {k.replace(tag, "/"): v for k, v in r.items() if tag in k} for r in runs
            ]
    return out


def aggregate(per_method: dict[str, list[dict]]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """{method: {metric: (mean, std, n)}} over seeds; missing or null values are skipped."""
    table = {}
    for method, runs in per_method.items():
        row = {}
        for key, _ in HEADLINE:
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
                row[key] = (float(np.mean(values)), std, len(values))
        table[method] = row
    return table


def budget_lines(config: CompareConfig, costs: dict[str, MethodCost]) -> list[str]:
    """One line per method: its steps, the data tokens they read (staged: plus its parent's)
    and the compute they cost."""
    if not costs:
        return []
    methods = methods_of(config)
    if config.token_budget > 0:
        head = f"Token budget {config.token_budget:,} data tokens per method (non-padding ids read)"
    else:
        head = "Steps per method"
    lines = [f"{head}; compute = XLA's count of a step's floating-point operations:"]
    for name, cost in costs.items():
        parent = methods[name].get("init_from")
        after = f", after {parent}" if parent else ""
        lines.append(
            f"- {name}: {cost.steps} steps × {cost.tokens_per_step:,.0f} tokens ≈ "
            f"{cost.steps * cost.tokens_per_step:,.0f}{after}; "
            f"{cost.flops_per_step / 1e9:,.2f} GFLOP a step, "
            f"{cost.steps * cost.flops_per_step / 1e12:,.2f} TFLOP in all"
        )
    return [*lines, ""]


def comparison_markdown(
    table: dict,
    config: CompareConfig,
    seconds: float,
    costs: dict[str, MethodCost] | None = None,
) -> str:
    columns = [(k, t) for k, t in HEADLINE if any(k in row for row in table.values())]
    best = {
        k: (min if k in LOWER_IS_BETTER else max)(
            (row[k][0] for row in table.values() if k in row), default=None
        )
        for k, _ in columns
    }
    enc = config.encoder
    lines = [
        f"# {config.name}",
        "",
        f"Data: {enc.data.source}"
        f"{f' ({enc.data.synthetic_tokens:,} tokens)' if enc.data.source == 'synthetic' else ''}; "
        f"encoder {enc.model.size}, "
        f"{'steps per method below' if config.token_budget > 0 else f'{enc.train.steps} steps'}, "
        f"batch {enc.train.batch_size} "
        f"sequences of {enc.data.max_len} / {enc.train.sentence_batch_size} sentence pairs; "
        f"seeds {config.seeds}; wall time {seconds / 60:.1f} min.",
        "Cells: mean ± standard deviation over seeds (n in brackets when fewer than all); best "
        "mean per column in bold. `probe` columns: linear-probe accuracy of the best embedding "
        "level (see each run's results.md for the level × probe matrix). Baselines: TF-IDF bag "
        "of words (IDF from the training documents; a word in context = its sentence's vector), "
        "averaged word2vec and SIF word2vec (a/(a+p(w)) weights, a = 1e-3, p from the training "
        "corpus, first principal component of 20,000 training lines removed; a word in context "
        "= its static vector), word2vec trained on the same data; word overlap = the word-sense "
        "evaluators' Jaccard baseline (threshold fitted on their tuning split)."
        + (
            " `· head <level>` rows: the same runs read through the multi-abstraction head "
            "(eval.head_levels): sentence evaluators embed each text at that level, "
            "word-in-context ones average the level's per-position predictions over the word "
            "(token and span levels only); n/a where a reading does not apply."
            if any(" · head " in method for method in table)
            else ""
        ),
        "",
        *budget_lines(config, costs or {}),
        "| method | " + " | ".join(title for _, title in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    n_seeds = len(seeds_of(config))
    for method, row in table.items():
        cells = []
        for key, _ in columns:
            if key not in row:
                cells.append("n/a")
                continue
            mean, std, n = row[key]
            cell = f"{mean:.3f} ± {std:.3f}" + (f" ({n})" if n < n_seeds else "")
            cells.append(f"**{cell}**" if best[key] is not None and mean == best[key] else cell)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(table: dict, path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "metric", "mean", "std", "n"])
        for method, row in table.items():
            for key, (mean, std, n) in row.items():
                writer.writerow([method, key, f"{mean:.6f}", f"{std:.6f}", n])


def plot_bars(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [(k, t) for k, t in HEADLINE if any(k in row for row in table.values())]
    methods = list(table)
    cols = 3
    rows = math.ceil(len(columns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, (key, title) in zip(axes.flat, columns, strict=False):
        means = [table[m][key][0] if key in table[m] else np.nan for m in methods]
        stds = [table[m][key][1] if key in table[m] else 0 for m in methods]
        ax.bar(range(len(methods)), means, yerr=stds, color="tab:blue", alpha=0.8, capsize=3)
        ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right", fontsize=7)
        ax.set_title(title)
    for ax in list(axes.flat)[len(columns) :]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(run_dirs: dict[str, list[Path]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (method, dirs) in enumerate(run_dirs.items()):
        for j, directory in enumerate(dirs):
            metrics = directory / "metrics.jsonl"
            if not metrics.exists():
                continue
            rows = [json.loads(line) for line in metrics.read_text().splitlines() if line]
            rows = [r for r in rows if "loss" in r]
            ax.plot(
                [r["step"] for r in rows],
                [r["loss"] for r in rows],
                color=colours[i % len(colours)],
                alpha=0.8,
                label=method if j == 0 else None,
            )
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (objective's own scale)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_comparison(config: CompareConfig, workdir: str | Path) -> dict:
    from research.config import objective_weights

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    methods = methods_of(config)
    seeds = seeds_of(config)
    runs = {
        name: encoder_run_config(config, name, seeds[0], spec) for name, spec in methods.items()
    }
    for run in runs.values():
        objective_weights(run.objective)
    costs = method_costs(config, runs, methods)
    (workdir / "config.json").write_text(config_lib.to_json(config) + "\n")
    started = time.time()
    per_method: dict[str, list[dict]] = {}
    run_dirs: dict[str, list[Path]] = {}
    total = len(methods) * len(seeds) + len(list(config.baselines)) * len(seeds)
    done = 0

    def run_dir(method: str, seed: int) -> Path:
        return workdir / "runs" / method.replace("+", "_plus_") / f"seed{seed}"

    for method, spec in methods.items():
        for seed in seeds:
            directory = run_dir(method, seed)
            run = encoder_run_config(config, method, seed, spec)
            run.train.steps = costs[method].steps
            if spec.get("init_from") is not None:
                run.train.init_from = str(run_dir(spec["init_from"], seed))
            done += 1
            print(
                f"[{done}/{total}] {method} seed {seed}, {run.train.steps} steps -> {directory}",
                file=sys.stderr,
            )
            results = run_encoder(run, directory)
            per_method.setdefault(method, []).append(add_best_level(results))
            run_dirs.setdefault(method, []).append(directory)
    for baseline in list(config.baselines):
        for seed in seeds:
            directory = workdir / "runs" / f"baseline_{baseline}" / f"seed{seed}"
            done += 1
            print(f"[{done}/{total}] baseline {baseline} seed {seed}", file=sys.stderr)
            word2vec_dir = workdir / "runs" / "word2vec" / f"seed{seed}"
            results = run_baseline(config, baseline, seed, directory, word2vec_dir)
            per_method.setdefault(f"baseline: {baseline}", []).append(add_best_level(results))
    per_method = with_head_readings(per_method)
    first = next(iter(methods))
    overlap = [overlap_row(r) for r in per_method.get(first, [])]
    if any(overlap):
        per_method["baseline: word overlap"] = overlap
    table = aggregate(per_method)
    markdown = comparison_markdown(table, config, time.time() - started, costs)
    (workdir / "comparison.md").write_text(markdown)
    write_csv(table, workdir / "comparison.csv")
    plot_bars(table, workdir / "plots" / "compare_metrics.png")
    plot_curves(run_dirs, workdir / "plots" / "training_curves.png")
    print(markdown)
    if config.log.wandb:
        log_comparison_to_wandb(config, workdir, table)
    return table


def comparison_rows(table: dict) -> tuple[list[str], list[list[Any]]]:
    """The comparison as one numeric table: a row per method; per headline metric its mean
    and std over seeds (None where the method has no value), and the fewest seeds of a cell."""
    keys = [(k, t) for k, t in HEADLINE if any(k in row for row in table.values())]
    columns = ["method", "seeds"] + [c for _, t in keys for c in (t, f"{t} std")]
    rows = []
    for method, row in table.items():
        cells: list[Any] = [method, min((row[k][2] for k, _ in keys if k in row), default=0)]
        for key, _ in keys:
            cells += [row[key][0], row[key][1]] if key in row else [None, None]
        rows.append(cells)
    return columns, rows


def log_comparison_to_wandb(config: CompareConfig, workdir: Path, table: dict) -> None:
    """One W&B run named `comparison` in the comparison's group (beside its training runs)
    holding the table and the two comparison plots."""
    from research.io.wandb_results import log_comparison
    from research.io.writers import WandbWriter

    writer = WandbWriter(
        config_lib.to_dict(config),
        workdir,
        project=config.log.wandb_project,
        group=config.log.wandb_group or config.name,
        name="comparison",
    )
    try:
        columns, rows = comparison_rows(table)
        plots = [
            workdir / "plots" / f"{name}.png" for name in ("compare_metrics", "training_curves")
        ]
        log_comparison(writer.run, columns, rows, plots)
    finally:
        writer.close()
