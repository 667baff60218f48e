"""Level probes: how well does each embedding level predict each kind of label?

A multi-abstraction model embeds text at several levels (``token``, ``span``, ``sentence``,
``document``); a plain encoder has one. Each level is probed with labelled item sets, and the
result is a level × probe matrix of accuracies. The research claim it tests is a diagonal (each
level best on its own probe); the evaluator reports what is measured, column by column.

Models: anything with ``levels`` and ``embed_level(texts, level) -> (N, D)`` (the
`LevelEncoder` protocol below). A `TextEncoder` (``embed_sentences``) is wrapped by
`as_level_encoder` into a one-level encoder whose level is ``sentence``, so every model can be
probed.

Probes (file formats):

* **Hierarchy depth k** (probes ``depth1``, ``depth2``, ...): a TSV with a header naming at least
  ``lemma`` and ``ladder_words`` (``pos`` when a part-of-speech filter is set; ``split``
  optional), as ``wordnet/wordnet_hypernym_ladder_core.tsv`` and the synthetic world's
  ``hierarchy.tsv``. ``ladder_words`` lists the ancestors nearest first, separated by ``|``
  (``mammal|animal|entity``). The item text is ``template.format(lemma)`` and its label at depth
  k is the k-th ancestor; items whose ladder is shorter than k are skipped and counted.
* **Coarser hierarchy classes** (probes ``root2``, ``root3``, ...: ``root_depths``): the same
  ladders counted from the root, the label at root depth k being the k-th ancestor from the top
  (``ladder[-k]``: for WordNet nouns root1 is always ``entity``, root2 ``object`` or
  ``abstraction``, ...), so a few common classes instead of thousands of rare nearest
  ancestors; and (probe ``<column>``: ``label_columns``) any other column of the ladder TSV as
  the label, such as WordNet's ``lexname`` (its 45 lexicographer files, the "supersenses":
  ``noun.animal``, ``verb.motion``, ...).
* **Document topic** (probe ``topic``): JSONL, one object per line with ``"topic"`` (a string)
  and ``"sentences"`` (a list of strings), as the synthetic world's ``documents.jsonl``; an
  optional ``"split"`` is used like the TSV's. The item text is the first ``max_sentences``
  sentences joined by spaces (0, the default, keeps them all: the synthetic world mixes
  topic-free paragraphs in around the topical one, so a short prefix often holds no topic word).

Splits (``folds`` = 0, the default): with a split column, items of the ``test`` split are
evaluated against every other item (``train`` + ``dev``); a file without test rows (the shipped
WordNet files keep the test split back) evaluates ``dev`` against the rest, and the markdown says
so; without split information the items are split 70/30 per label, deterministically from the
seed. Labels with fewer than ``min_class_items`` training items are dropped with their items
(counted): no classifier can learn a class it has not seen, and WordNet's depth-1 labels are
mostly singletons.

Cross-validation (``folds`` = K >= 2): the file's split is ignored and every item is evaluated
once, by probes fitted on the other K - 1 folds (stratified: each label's items, shuffled from
the seed, are dealt to the folds in turn; K >= the item count is leave-one-out). Small probe sets
need it: the synthetic world's hierarchy has 48 members of which its test split holds 10, so one
item moved an accuracy by 0.1; scored over all 48 it moves it by 0.02 (SentEval scores its
datasets without splits the same way). A label keeps its items only if every fold leaves it at
least ``min_class_items`` training items. ``max_items`` samples items (deterministically, file
order kept) before either protocol.

Measures per (level, probe), on the evaluated items only:

* **k-NN accuracy**: cosine similarity to the training items, majority vote of the k = 5 nearest,
  a tie between labels going to the label of the nearer neighbour.
* **Linear-probe accuracy**: multinomial logistic regression on features standardised with the
  training statistics, L2 penalty on the weights, fitted by a fixed number of full-batch
  accelerated gradient steps of fixed size 1/L (L the smoothness constant), so the same data
  always give the same probe.
* **Chance**: accuracy of always answering the most frequent training label (under
  cross-validation: the most frequent label of all items).

This module holds the model side, the file readers, the matrix and the evaluator; the splits and
classifiers are in research.eval.classifiers, the heatmap in research.eval.plots.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from research.errors import UserError
from research.eval.classifiers import (
    KNN_K,
    ProbeSet,
    chance_rate,
    make_probe,
    probe_scores,
    sample_items,
)
from research.eval.common import EvalResult, benchmark_lines, read_header_tsv
from research.eval.encoder_api import check_embeddings, embed_sentences

LADDER_FORMAT = (
    "hierarchy ladder format: a TSV with a header naming 'lemma' and 'ladder_words' (and 'pos' "
    "when filtering by part of speech; 'split' optional), ladder_words being the ancestors "
    "nearest first separated by '|', e.g. mammal|animal|entity"
)
TOPIC_FORMAT = (
    'documents format: JSONL, one object per line with "topic" (a non-empty string) and '
    '"sentences" (a non-empty list of strings)'
)


# ----------------------------------------------------------------------------- the model side


@runtime_checkable
class LevelEncoder(Protocol):
    levels: tuple[str, ...]  # e.g. ("token", "span", "sentence", "document") or ("default",)

    def embed_level(self, texts: list[str], level: str) -> np.ndarray:
        """(N, D): one vector per text at `level`."""
        ...


class SentenceLevel:
    """A TextEncoder seen as a LevelEncoder with the single level ``sentence``."""

    levels: tuple[str, ...] = ("sentence",)

    def __init__(self, model: object):
        self.model = model

    def embed_level(self, texts: list[str], level: str) -> np.ndarray:
        if level != "sentence":
            raise ValueError(f"a sentence encoder has only the level 'sentence', not {level!r}")
        return embed_sentences(self.model, texts)  # type: ignore[arg-type]


def as_level_encoder(model: object) -> LevelEncoder:
    """`model` itself if it is a LevelEncoder, else a TextEncoder wrapped as level "sentence"."""
    if callable(getattr(model, "embed_level", None)) and hasattr(model, "levels"):
        levels = model.levels  # type: ignore[attr-defined]
        if (
            isinstance(levels, str)
            or not levels
            or not all(isinstance(level, str) and level for level in levels)
        ):
            raise TypeError(f"the model's levels must be a tuple of level names, got {levels!r}")
        return model  # type: ignore[return-value]
    if callable(getattr(model, "embed_sentences", None)):
        return SentenceLevel(model)
    raise TypeError(
        f"{type(model).__name__} is neither a LevelEncoder (levels, embed_level) nor a "
        f"TextEncoder (embed_sentences)"
    )


def embed_level(model: LevelEncoder, texts: Sequence[str], level: str) -> np.ndarray:
    """(len(texts), D) float32 vectors at `level`; each distinct text is embedded once."""
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = check_embeddings(
        model.embed_level(distinct, level), len(distinct), f"texts at level {level!r}"
    )
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[t] for t in texts]]


# ----------------------------------------------------------------------------- probe files


def _check_depths(depths: object) -> tuple[int, ...]:
    values = (depths,) if isinstance(depths, int) else depths
    try:
        out = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        out = ()
    if not out or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in out):
        raise UserError(f"depths must be positive integers, e.g. [1, 2, 3], got {depths!r}")
    return tuple(dict.fromkeys(out))


def ladder_probes(
    path: str | Path,
    depths: Sequence[int] = (1, 2, 3),
    *,
    template: str = "{}",
    pos: str = "",
    max_items: int | None = 2000,
    seed: int = 0,
    min_class_items: int = 2,
    folds: int = 0,
    root_depths: Sequence[int] = (),
    label_columns: Sequence[str] = (),
) -> list[ProbeSet]:
    """One probe per depth k (``depth<k>``), per root depth k (``root<k>``) and per label column
    from a hierarchy ladder TSV (module docstring).

    The same items (after the `pos` filter and the `max_items` sample) feed every probe.
    """
    path = Path(path).expanduser()
    # No nearest-first depth is fine when root depths or label columns give the probes.
    depths = _check_depths(depths) if depths or not (root_depths or label_columns) else ()
    try:
        has_lemma = "\x00" in template.format("\x00")
    except (IndexError, KeyError, ValueError):
        has_lemma = False
    if not has_lemma:
        raise UserError(
            f"template {template!r} must contain '{{}}' where the lemma goes, e.g. 'the {{}}'"
        )
    root_depths = _check_depths(root_depths) if root_depths else ()
    label_columns = [label_columns] if isinstance(label_columns, str) else list(label_columns)
    required = ["lemma", "ladder_words"] + (["pos"] if pos else []) + label_columns
    rows = read_header_tsv(path, required, LADDER_FORMAT)
    lemmas: list[str] = []
    column_labels: dict[str, list[str]] = {column: [] for column in label_columns}
    ladders: list[list[str]] = []
    splits: list[str] | None = [] if "split" in rows[0][1] else None
    for line_no, row in rows:
        where = f"{path}:{line_no}"
        if pos and row["pos"].strip() != pos:
            continue
        lemma, cell = row["lemma"].strip(), row["ladder_words"].strip()
        if not lemma:
            raise UserError(f"{where}: empty lemma; expected the {LADDER_FORMAT}")
        if not cell:
            raise UserError(
                f"{where}: empty ladder_words for {lemma!r}; expected the {LADDER_FORMAT}"
            )
        ladder = [w.strip() for w in cell.split("|")]
        if not all(ladder):
            raise UserError(
                f"{where}: ladder_words {cell!r} has an empty ancestor; expected the "
                f"{LADDER_FORMAT}"
            )
        if splits is not None:
            split = row["split"].strip()
            if not split:
                raise UserError(f"{where}: empty split; expected the {LADDER_FORMAT}")
            splits.append(split)
        for column in label_columns:
            label = row[column].strip()
            if not label:
                raise UserError(f"{where}: empty {column} for {lemma!r}; every row needs one")
            column_labels[column].append(label)
        lemmas.append(lemma)
        ladders.append(ladder)
    if not lemmas:
        raise UserError(f"{path}: no rows with pos {pos!r}; check the pos option")
    chosen = sample_items(len(lemmas), max_items, seed)
    # (probe name, label of item i or None when its ladder is too short)
    labellers = [(f"depth{k}", lambda i, k=k: ladders[i][k - 1]) for k in depths]
    labellers += [(f"root{k}", lambda i, k=k: ladders[i][-k]) for k in root_depths]
    labellers += [(c, lambda i, c=c: column_labels[c][i]) for c in label_columns]
    lengths = {f"depth{k}": k for k in depths} | {f"root{k}": k for k in root_depths}
    probes = []
    for name, label_of in labellers:
        kept = [i for i in chosen if len(ladders[i]) >= lengths.get(name, 0)]
        probes.append(
            make_probe(
                name,
                str(path),
                [template.format(lemmas[i]) for i in kept],
                [label_of(i) for i in kept],
                None if splits is None else [splits[i] for i in kept],
                seed=seed,
                min_class_items=min_class_items,
                skipped_short=len(chosen) - len(kept),
                folds=folds,
            )
        )
    return probes


def topic_probe(
    path: str | Path,
    *,
    max_sentences: int = 0,
    max_items: int | None = 2000,
    seed: int = 0,
    min_class_items: int = 2,
    folds: int = 0,
) -> ProbeSet:
    """The ``topic`` probe from a documents JSONL (module docstring)."""
    path = Path(path).expanduser()
    texts: list[str] = []
    topics: list[str] = []
    splits: list[str] = []
    for line_no, line in benchmark_lines(path, TOPIC_FORMAT):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{where}: not JSON ({err.msg}); expected the {TOPIC_FORMAT}") from None
        except (ValueError, RecursionError) as err:  # nested too deeply, a 5000-digit number
            raise UserError(
                f"{where}: JSON this reader cannot take ({str(err)[:100]}); expected the "
                f"{TOPIC_FORMAT}"
            ) from None
        if not isinstance(record, dict):
            raise UserError(f"{where}: not a JSON object; expected the {TOPIC_FORMAT}")
        topic, sentences = record.get("topic"), record.get("sentences")
        if not isinstance(topic, str) or not topic.strip():
            raise UserError(f'{where}: missing or empty "topic"; expected the {TOPIC_FORMAT}')
        if (
            not isinstance(sentences, list)
            or not sentences
            or not all(isinstance(s, str) for s in sentences)
        ):
            raise UserError(
                f'{where}: "sentences" is missing or not a non-empty list of strings; '
                f"expected the {TOPIC_FORMAT}"
            )
        text = " ".join(s.strip() for s in sentences[: max_sentences or None] if s.strip())
        if not text:
            raise UserError(
                f"{where}: the document's sentences are empty; expected the {TOPIC_FORMAT}"
            )
        split = record.get("split")
        texts.append(text)
        topics.append(topic.strip())
        splits.append(split.strip() if isinstance(split, str) else "")
    if not texts:
        raise UserError(f"{path}: no documents; expected the {TOPIC_FORMAT}")
    chosen = sample_items(len(texts), max_items, seed)
    has_splits = all(splits)
    return make_probe(
        "topic",
        str(path),
        [texts[i] for i in chosen],
        [topics[i] for i in chosen],
        [splits[i] for i in chosen] if has_splits else None,
        seed=seed,
        min_class_items=min_class_items,
        folds=folds,
    )


# ----------------------------------------------------------------------------- the matrix


def probe_matrix(
    model: object,
    probes: Sequence[ProbeSet],
    *,
    k: int = KNN_K,
    l2: float = 1e-3,
    iterations: int = 300,
) -> dict:
    """Accuracy of every level of `model` (a LevelEncoder or TextEncoder) on every probe.

    Returns a JSON-ready dict: ``levels`` and ``probes`` (names), ``knn`` and ``linear``
    (lists of rows, one per level, one value per probe), and per probe ``chance``, ``items``
    (training + evaluated), ``test_items``, ``classes``, ``skipped_short``, ``skipped_rare``
    and ``split`` (the split rule in words). Each distinct text is embedded once per level.
    """
    encoder = as_level_encoder(model)
    levels = list(encoder.levels)
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ValueError(f"probe names must be distinct, got {names}")
    texts = list(dict.fromkeys(t for p in probes for t in p.texts))
    knn: list[list[float]] = []
    linear: list[list[float]] = []
    for level in levels:
        vectors = embed_level(encoder, texts, level)
        row = {t: i for i, t in enumerate(texts)}
        scores = [
            probe_scores(vectors[[row[t] for t in p.texts]], p, k=k, l2=l2, iterations=iterations)
            for p in probes
        ]
        knn.append([s["knn"] for s in scores])
        linear.append([s["linear"] for s in scores])
    return {
        "levels": levels,
        "probes": names,
        "knn": knn,
        "linear": linear,
        "chance": [chance_rate(p) for p in probes],
        "items": [len(p) for p in probes],
        "test_items": [int(p.test.sum()) for p in probes],
        "classes": [len(p.classes) for p in probes],
        "skipped_short": [p.skipped_short for p in probes],
        "skipped_rare": [p.skipped_rare for p in probes],
        "split": [p.split_rule for p in probes],
    }


def best_levels(matrix: dict, measure: str = "linear") -> dict[str, list[str]]:
    """Per probe, the level(s) with the highest `measure` ("linear" or "knn"); ties all listed."""
    values = np.asarray(matrix[measure], dtype=np.float64)
    out: dict[str, list[str]] = {}
    for j, probe in enumerate(matrix["probes"]):
        column = values[:, j]
        top = np.nanmax(column) if np.isfinite(column).any() else np.nan
        out[probe] = [level for level, v in zip(matrix["levels"], column, strict=True) if v == top]
    return out


def matrix_markdown(matrix: dict, heading: str) -> str:
    """The level × probe table (cells "k-NN / linear") and each probe column's best level."""
    levels, probes = matrix["levels"], matrix["probes"]
    knn = np.asarray(matrix["knn"], dtype=np.float64).reshape(len(levels), len(probes))
    linear = np.asarray(matrix["linear"], dtype=np.float64).reshape(len(levels), len(probes))
    best_linear = best_levels(matrix, "linear")
    best_knn = best_levels(matrix, "knn")
    lines = [
        heading,
        "",
        "Accuracy on each probe's evaluated items, cells **k-NN / linear** (k-NN: cosine, "
        f"{KNN_K} nearest; linear: multinomial logistic regression); the best level of each "
        "column by linear-probe accuracy is in bold.",
        "",
        "| level | " + " | ".join(probes) + " |",
        "|---|" + "---|" * len(probes),
    ]
    for i, level in enumerate(levels):
        cells = []
        for j, probe in enumerate(probes):
            cell = f"{knn[i, j]:.4f} / {linear[i, j]:.4f}"
            if len(levels) > 1 and level in best_linear[probe]:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    lines.append("| chance (majority) | " + " | ".join(f"{c:.4f}" for c in matrix["chance"]) + " |")
    lines.append(
        "| items (evaluated) / classes | "
        + " | ".join(
            f"{n} ({t}) / {c}"
            for n, t, c in zip(
                matrix["items"], matrix["test_items"], matrix["classes"], strict=True
            )
        )
        + " |"
    )
    lines.append("")
    if len(levels) > 1:
        wins = [
            f"{p}: {', '.join(best_linear[p])} (k-NN: {', '.join(best_knn[p])})" for p in probes
        ]
        lines.append("Best level per probe, linear (k-NN): " + "; ".join(wins) + ".")
        winners = {level for p in probes for level in best_linear[p]}
        never = [level for level in levels if level not in winners]
        if never:
            lines.append(f"Levels best on no probe (linear): {', '.join(never)}.")
        lines.append("")
    else:
        lines += [f"One level ({levels[0]}): no comparison between levels.", ""]
    notes = []
    for j, probe in enumerate(probes):
        note = f"{probe}: {matrix['split'][j]}"
        if matrix["skipped_short"][j]:
            note += f"; {matrix['skipped_short'][j]} items skipped (ladder too short)"
        if matrix["skipped_rare"][j]:
            note += f"; {matrix['skipped_rare'][j]} items dropped (label too rare in training)"
        notes.append(f"- {note}")
    lines += ["Items:", "", *notes, ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the evaluator


@dataclass
class LevelProbes:
    """Evaluator: k-NN and linear-probe accuracy of every level on hierarchy-depth and topic
    probes; metrics ``<level>/<probe>/knn``, ``<level>/<probe>/linear``, ``<probe>/chance``,
    ``<probe>/items`` (and ``/test_items``, ``/classes``, ``/skipped_short``,
    ``/skipped_rare``). `plot`, when set, is where the heatmap is written.
    """

    name: str
    ladder: str | Path = ""
    documents: str | Path = ""
    depths: Sequence[int] = (1, 2, 3)
    root_depths: Sequence[int] = ()  # probes root<k>: ancestors counted from the root
    label_columns: Sequence[str] = ()  # probes named after other ladder columns (lexname)
    template: str = "{}"
    max_items: int = 2000
    seed: int = 0
    plot: str | Path = ""
    pos: str = ""
    max_sentences: int = 0
    min_class_items: int = 2
    folds: int = 0  # 0: the file's split; K >= 2: K-fold cross-validation (module docstring)
    k: int = KNN_K
    l2: float = 1e-3
    iterations: int = 300
    probes: list[ProbeSet] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.ladder and not self.documents:
            raise UserError(
                f"level probes {self.name!r}: set ladder (a hierarchy TSV) and/or documents "
                f"(a documents JSONL); there is nothing to probe"
            )
        if (
            not isinstance(self.folds, int)
            or isinstance(self.folds, bool)
            or self.folds < 0
            or self.folds == 1
        ):
            raise UserError(
                f"level probes {self.name!r}: folds must be 0 (the file's split) or an integer "
                f">= 2 (cross-validation), got {self.folds!r}"
            )
        for option in ("max_items", "max_sentences"):
            value = getattr(self, option)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise UserError(
                    f"level probes {self.name!r}: {option} must be an integer >= 0 (0 = all), "
                    f"got {value!r}"
                )
        for option in ("min_class_items", "k", "iterations"):
            value = getattr(self, option)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(
                    f"level probes {self.name!r}: {option} must be a positive integer, "
                    f"got {value!r}"
                )
        if not isinstance(self.l2, (int, float)) or self.l2 < 0:
            raise UserError(f"level probes {self.name!r}: l2 must be >= 0, got {self.l2!r}")
        self.depths = _check_depths(self.depths)
        self.probes = []
        if self.ladder:
            self.probes += ladder_probes(
                self.ladder,
                self.depths,
                template=self.template,
                pos=self.pos,
                max_items=self.max_items,
                seed=self.seed,
                min_class_items=self.min_class_items,
                folds=self.folds,
                root_depths=self.root_depths,
                label_columns=self.label_columns,
            )
        if self.documents:
            self.probes.append(
                topic_probe(
                    self.documents,
                    max_sentences=self.max_sentences,
                    max_items=self.max_items,
                    seed=self.seed,
                    min_class_items=self.min_class_items,
                    folds=self.folds,
                )
            )

    def run(self, model: object) -> EvalResult:
        matrix = probe_matrix(model, self.probes, k=self.k, l2=self.l2, iterations=self.iterations)
        metrics: dict[str, float] = {}
        for i, level in enumerate(matrix["levels"]):
            for j, probe in enumerate(matrix["probes"]):
                metrics[f"{level}/{probe}/knn"] = matrix["knn"][i][j]
                metrics[f"{level}/{probe}/linear"] = matrix["linear"][i][j]
        for j, probe in enumerate(matrix["probes"]):
            metrics[f"{probe}/chance"] = matrix["chance"][j]
            for count in ("items", "test_items", "classes", "skipped_short", "skipped_rare"):
                if count == "skipped_short" and probe == "topic":
                    continue
                metrics[f"{probe}/{count}"] = int(matrix[count][j])
        sources = ", ".join(Path(p).name for p in (self.ladder, self.documents) if p)
        markdown = matrix_markdown(matrix, f"### {self.name}: level probes ({sources})")
        if self.plot:
            # Imported here so that importing the evaluator registry does not load matplotlib.
            from research.eval.plots import plot_probe_matrix

            plot_probe_matrix(matrix, self.plot, title=f"{self.name}: level × probe")
            markdown += f"\nHeatmap: `{self.plot}`.\n"
        return EvalResult(metrics=metrics, markdown=markdown)


__all__ = [
    "LADDER_FORMAT",
    "TOPIC_FORMAT",
    "LevelEncoder",
    "LevelProbes",
    "SentenceLevel",
    "as_level_encoder",
    "best_levels",
    "embed_level",
    "ladder_probes",
    "matrix_markdown",
    "probe_matrix",
    "topic_probe",
]
