"""Reproduction: word2vec analogy accuracy against dimensionality and training words.

Mikolov, Chen, Corrado, Dean 2013, "Efficient Estimation of Word Representations in Vector
Space", section 4.2 and Table 2: CBOW trained on growing subsets of Google News (24M to 783M
words) at 50 to 600 dimensions, 3 epochs of SGD from learning rate 0.025 decayed linearly to
about zero, scored on the Semantic-Syntactic Word Relationship (Google analogy) set restricted to
questions whose words are among the 30,000 most frequent. The paper's finding: "after some
point, adding more dimensions or adding more training data provides diminishing improvements. So,
we have to increase both vector dimensionality and the amount of the training data together."

Command (2-core CPU, the default grid: 41 minutes measured; README "Reproduction: word2vec"):
    python launch.py experiments/repro_word2vec_scaling.py --workdir runs/repro_w2v_scaling

Trains skip-gram and CBOW at dims {50, 100, 300} on nested prefixes of {1.8, 3.7, 7.4, 14.7} M
words of `word2vec.data.source` (the first N words, `data.max_tokens`; each prefix builds its own
vocabulary, as the paper's subsets did), plus extra seeds of the largest prefix at dim 100 for a
noise estimate, and writes into the workdir
  scaling.md / scaling.csv   accuracy (semantic, syntactic, total), coverage per cell; the grid
                             as the paper's Table 2; the seed spread
  plots/scaling.png          total accuracy against training words, a line per dim, a panel per
                             model, beside the paper's Table 2
  common_questions.tsv       the analogy questions every prefix covers (accuracy on a fixed set)
  runs/<model>/dim<d>/tokens<N>/seed<s>/   each cell's own word2vec run (resumable)
Re-running the same command completes a partial grid: finished cells are read back (with the
scores they were given, so a cell finished under another list of prefixes keeps the common-set
score of that grid's common set).

Protocol differences from the paper (kept to this codebase's word2vec): negative sampling (5
negatives) instead of hierarchical softmax; frequent-word subsampling 1e-3 (the paper had none);
window 5 for both models with word2vec's dynamic window (the paper: 4+4 words for CBOW, up to 10
for skip-gram); min_count 5 and no 1M-word vocabulary cap; mini-batch block SGD (1,024 centres a
step) instead of per-word Hogwild SGD; the learning rate decays to 1e-4, not zero. The corpus is
14.7 M words of dictionaries, Bibles, novels and software documentation, not Google News.

Sizes and lists are settable: --set models=[cbow] --set dims=[50,100] --set tokens=[1800000]
--set word2vec.train.epochs=1; the analogy file: --set word2vec.evals.google.path=FILE (the
Google set ships with gensim as questions-words.txt:
`python -c "from gensim.test.utils import datapath; print(datapath('questions-words.txt'))"`).
"""

import copy
import csv
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

from research import config as config_lib
from research.compare import _finished_results
from research.config import Config, LogConfig
from research.data import corpus as corpus_lib
from research.errors import UserError
from research.eval.analogy import read_analogies
from research.io.writers import git_commit

# The paper's Table 2 (CBOW, Google News, total accuracy in %, 30k-word questions).
PAPER_WORDS = [24e6, 49e6, 98e6, 196e6, 391e6, 783e6]
PAPER_TABLE2 = {
    50: [13.4, 15.7, 18.6, 19.1, 22.5, 23.2],
    100: [19.4, 23.1, 27.8, 28.7, 33.4, 32.2],
    300: [23.2, 29.2, 35.3, 38.6, 43.7, 45.9],
    600: [24.0, 30.1, 36.5, 40.8, 46.6, 50.4],
}
QUESTIONS = "../shared/data/word/questions_words.tsv"


@dataclasses.dataclass
class ScalingConfig:
    name: str = "repro_word2vec_scaling"
    models: list[str] = dataclasses.field(default_factory=lambda: ["skipgram", "cbow"])
    dims: list[int] = dataclasses.field(default_factory=lambda: [50, 100, 300])
    # Nested prefixes of word2vec.data.source, in words (data.max_tokens of each cell).
    tokens: list[int] = dataclasses.field(
        default_factory=lambda: [1_800_000, 3_700_000, 7_400_000, 14_700_000]
    )
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0])  # every cell
    # More seeds for the largest prefix at dim `noise_dim` (every model): the noise estimate.
    noise_seeds: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    noise_dim: int = 100
    analogy: str = "google"  # the word2vec.evals entry (kind analogy) the tables report
    word2vec: Config = dataclasses.field(default_factory=Config)  # settings shared by all cells
    log: LogConfig = dataclasses.field(default_factory=lambda: LogConfig(progress=False))


def get_config() -> ScalingConfig:
    config = ScalingConfig()
    w2v = config.word2vec
    w2v.name = config.name
    w2v.data.source = str(Path("~/.cache/strata-bench-corpus/corpus.txt").expanduser())
    w2v.data.window = 5
    w2v.data.negatives = 5
    w2v.data.sample = 1e-3
    w2v.data.min_count = 5
    w2v.train.epochs = 3  # the paper's, for Table 2
    w2v.train.learning_rate = 0.025  # the paper's starting rate, decayed linearly
    w2v.train.checkpoint_every = 20_000
    w2v.eval.default_suite = False
    w2v.eval.neighbours = ["king", "france", "good", "run"]
    w2v.evals = {"google": {"kind": "analogy", "path": QUESTIONS, "restrict_vocab": 30_000}}
    return config


@dataclasses.dataclass(frozen=True)
class Cell:
    model: str
    dim: int
    tokens: int
    seed: int

    def directory(self, workdir: Path) -> Path:
        return (
            workdir
            / "runs"
            / self.model
            / f"dim{self.dim}"
            / f"tokens{self.tokens}"
            / (f"seed{self.seed}")
        )


def words_label(tokens: float) -> str:
    return f"{tokens / 1e6:.1f}M" if tokens >= 1e5 else f"{tokens / 1e3:.0f}k"


def cells_of(config: ScalingConfig) -> list[Cell]:
    """Smallest prefix first, so that a partial grid already spans every model and dim."""
    checks = [
        (config.models, "models"),
        (config.dims, "dims"),
        (config.tokens, "tokens"),
        (config.seeds, "seeds"),
    ]
    for values, key in checks:
        if not values:
            raise UserError(f"{key} is empty; give at least one value, e.g. --set {key}=[...]")
    for model in config.models:
        if model not in ("skipgram", "cbow"):
            raise UserError(f"models: {model!r} is not a word2vec model; choose skipgram, cbow")
    if any(t <= 0 for t in config.tokens) or any(d <= 0 for d in config.dims):
        raise UserError("tokens and dims must be positive (tokens = words of each prefix)")
    largest = max(config.tokens)
    cells = []
    for tokens in sorted(set(config.tokens)):
        for model in config.models:
            for dim in sorted(set(config.dims)):
                seeds = list(config.seeds)
                if tokens == largest and dim == config.noise_dim:
                    seeds += [s for s in config.noise_seeds if s not in seeds]
                cells += [Cell(model, dim, tokens, seed) for seed in seeds]
    return cells


def cell_config(config: ScalingConfig, cell: Cell) -> Config:
    run = copy.deepcopy(config.word2vec)
    run.name = (
        f"{config.name}/{cell.model}/dim{cell.dim}/{words_label(cell.tokens)}/seed{cell.seed}"
    )
    run.model.kind = cell.model  # type: ignore[assignment]
    run.model.dim = cell.dim
    run.data.max_tokens = cell.tokens
    run.train.seed = cell.seed
    run.log = dataclasses.replace(config.log, wandb_group=config.log.wandb_group or config.name)
    return run


def analogy_entry(config: ScalingConfig) -> dict:
    entry = config.word2vec.evals.get(config.analogy)
    if not entry or entry.get("kind") != "analogy" or not entry.get("path"):
        raise UserError(
            f"analogy={config.analogy!r} names no analogy evaluator with a path in word2vec.evals; "
            f"add one: --set word2vec.evals.{config.analogy}.kind=analogy "
            f"--set word2vec.evals.{config.analogy}.path=questions-words.txt"
        )
    return entry


def write_common_questions(config: ScalingConfig, path: Path) -> tuple[int, dict[int, dict]]:
    """The questions whose four words are among the `restrict_vocab` most frequent words of
    every prefix: accuracy on them compares prefixes on one fixed set. Returns (how many, each
    prefix's corpus statistics)."""
    entry = analogy_entry(config)
    questions = read_analogies(entry["path"])
    limit = entry.get("restrict_vocab", 30_000) or None
    stats: dict[int, dict] = {}
    covered = np.ones(len(questions.words), dtype=bool)
    for tokens in sorted(set(config.tokens)):
        data = dataclasses.replace(config.word2vec.data, max_tokens=tokens)
        corpus = corpus_lib.prepare_corpus(data, progress=config.log.progress)
        stats[tokens] = {"raw_tokens": corpus.meta["raw_tokens"], "vocab": corpus.vocab_size}
        known = {w.lower() for w in corpus.words[:limit]}
        covered &= np.array([all(w in known for w in q) for q in questions.words])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["section", "type", "a", "b", "c", "d"])
        for i in np.flatnonzero(covered):
            writer.writerow([questions.sections[i], questions.kinds[i], *questions.words[i]])
    return int(covered.sum()), stats


def row_of(cell: Cell, results: dict, analogy: str, stats: dict) -> dict:
    def get(key: str) -> float:
        value = results.get(f"{key}")
        return math.nan if value is None else float(value)

    return {
        "model": cell.model,
        "dim": cell.dim,
        "tokens": cell.tokens,
        "raw_tokens": stats.get("raw_tokens", cell.tokens),
        "vocab": stats.get("vocab", 0),
        "seed": cell.seed,
        "semantic": get(f"{analogy}/semantic_accuracy"),
        "syntactic": get(f"{analogy}/syntactic_accuracy"),
        "total": get(f"{analogy}/accuracy"),
        "coverage": get(f"{analogy}/coverage"),
        "common_total": get(f"{analogy}_common/accuracy"),
    }


def pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}"


def mean_std(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{100 * np.mean(values):.1f} ± {100 * std:.1f}"


def scaling_markdown(config: ScalingConfig, rows: list[dict], n_common: int, seconds: float) -> str:
    w2v = config.word2vec
    entry = analogy_entry(config)
    tokens = sorted(set(config.tokens))
    first = [r for r in rows if r["seed"] in config.seeds]
    lines = [
        f"# {config.name}",
        "",
        f"Data: nested prefixes of {w2v.data.source} (the first N words; each prefix builds its "
        f"own vocabulary, min_count {w2v.data.min_count}). word2vec: window {w2v.data.window}, "
        f"{w2v.data.negatives} negatives, sample {w2v.data.sample}, {w2v.train.epochs} epochs, "
        f"learning rate {w2v.train.learning_rate} decayed linearly to "
        f"{w2v.train.min_learning_rate}, batch {w2v.train.batch_size}. Analogies: "
        f"{Path(entry['path']).name}, 3CosAdd, candidates and questions restricted to the "
        f"{entry.get('restrict_vocab', 30_000)} most frequent words of each run's vocabulary. "
        f"Seeds {config.seeds} (grid), {sorted(set(config.seeds) | set(config.noise_seeds))} "
        f"at the largest prefix and dim {config.noise_dim}. Commit {git_commit()[:7]}; wall "
        f"time of this invocation {seconds / 60:.1f} min.",
        "",
        "Accuracy in % over the covered questions; coverage = covered / all questions; common = "
        f"accuracy on the {n_common} questions that every prefix covers.",
    ]
    for model in config.models:
        lines += [
            "",
            f"## {model}: total accuracy (%), as the paper's Table 2",
            "",
            "| dim \\ training words | " + " | ".join(words_label(t) for t in tokens) + " |",
            "|---|" + "---|" * len(tokens),
        ]
        for dim in sorted(set(config.dims)):
            cells = []
            for t in tokens:
                match = [r for r in first if (r["model"], r["dim"], r["tokens"]) == (model, dim, t)]
                cells.append(mean_std([r["total"] for r in match]).split(" ± ")[0] if match else "")
            lines.append(f"| {dim} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every cell",
        "",
        "| model | dim | training words | vocabulary | seed | semantic | syntactic | total | "
        "coverage | common |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dim']} | {r['raw_tokens']:,} | {r['vocab']:,} | {r['seed']} | "
            f"{pct(r['semantic'])} | {pct(r['syntactic'])} | {pct(r['total'])} | "
            f"{pct(r['coverage'])} | {pct(r['common_total'])} |"
        )
    largest = max(tokens)
    noisy = [r for r in rows if r["tokens"] == largest and r["dim"] == config.noise_dim]
    if noisy:
        lines += [
            "",
            f"## Seed spread: {words_label(largest)} words, dim {config.noise_dim} "
            "(mean ± std over seeds, %)",
            "",
            "| model | seeds | semantic | syntactic | total | common |",
            "|---|---|---|---|---|---|",
        ]
        for model in config.models:
            mine = [r for r in noisy if r["model"] == model]
            if mine:
                cols = [mean_std([r[k] for r in mine]) for k in ("semantic", "syntactic", "total")]
                cols.append(mean_std([r["common_total"] for r in mine]))
                seeds = ",".join(str(r["seed"]) for r in mine)
                lines.append(f"| {model} | {seeds} | " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})


def plot_scaling(config: ScalingConfig, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(config.models) + 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8), squeeze=False)
    first = [r for r in rows if r["seed"] in config.seeds]
    for ax, model in zip(axes[0], config.models, strict=False):
        for dim in sorted(set(config.dims)):
            mine = sorted(
                (r for r in first if r["model"] == model and r["dim"] == dim),
                key=lambda r: r["tokens"],
            )
            ax.plot(
                [r["raw_tokens"] for r in mine],
                [100 * r["total"] for r in mine],
                marker="o",
                label=f"dim {dim}",
            )
        ax.set_title(f"{model} (this corpus)")
    ax = axes[0][-1]
    for dim, values in PAPER_TABLE2.items():
        ax.plot(PAPER_WORDS, values, marker="s", linestyle="--", label=f"dim {dim}")
    ax.set_title("paper, Table 2 (CBOW, Google News)")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("training words")
        ax.set_ylabel("analogy accuracy, total (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(config: ScalingConfig, workdir: str | Path, **hooks) -> list[dict]:
    """Train and score every cell (finished ones are read back), then write the tables and plot.

    `hooks` (an experiment's optimizer/schedule) reach every cell's trainer."""
    from research.train import word2vec as word_trainer

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cells = cells_of(config)
    analogy_entry(config)
    (workdir / "config.json").write_text(config_lib.to_json(config) + "\n")
    started = time.time()
    common = workdir / "common_questions.tsv"
    n_common, stats = write_common_questions(config, common)
    evals = dict(config.word2vec.evals)
    if n_common:
        evals[f"{config.analogy}_common"] = {**analogy_entry(config), "path": str(common)}
    rows = []
    for k, cell in enumerate(cells, 1):
        directory = cell.directory(workdir)
        label = f"{cell.model} dim {cell.dim}, {words_label(cell.tokens)} words, seed {cell.seed}"
        results = _finished_results(directory)
        if results is None:
            print(f"[{k}/{len(cells)}] {label} -> {directory}", file=sys.stderr)
            run_config = cell_config(config, cell)
            run_config.evals = evals
            cell_started = time.time()
            results = word_trainer.train_and_evaluate(run_config, directory, **hooks)
            took = f", {(time.time() - cell_started) / 60:.1f} min"
        else:
            took = " (finished earlier)"
        row = row_of(cell, results, config.analogy, stats[cell.tokens])
        rows.append(row)
        print(
            f"[{k}/{len(cells)}] {label}: total {pct(row['total'])}% (semantic "
            f"{pct(row['semantic'])}, syntactic {pct(row['syntactic'])}), coverage "
            f"{pct(row['coverage'])}%{took}",
            file=sys.stderr,
        )
    markdown = scaling_markdown(config, rows, n_common, time.time() - started)
    (workdir / "scaling.md").write_text(markdown)
    write_csv(rows, workdir / "scaling.csv")
    plot_scaling(config, rows, workdir / "plots" / "scaling.png")
    print(markdown)
    return rows
