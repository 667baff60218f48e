"""One word, many senses: its contextual vectors in a 2-D PCA, coloured by sense, and a metric.

File format: a TSV with a header naming at least the columns ``lemma sense topic start end
sentence`` (by name; other columns ignored), one example sentence per line, where
``sentence[start:end]`` is the lemma's occurrence (character offsets, end exclusive) and
``sense`` names its meaning (e.g. a WordNet synset); ``topic`` is a free-text gloss of the sense
shown in the legend (may be empty). Cells are split on tabs only.

A model that separates senses puts a word's occurrences in clusters by meaning. The number for
results tables is the leave-one-out nearest-centroid accuracy: each occurrence is assigned the
sense whose centroid (mean of unit vectors, the occurrence itself left out) is nearest in cosine,
next to the majority-sense baseline it must beat.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, parse_span, read_header_tsv
from research.eval.encoder_api import TextEncoder, embed_spans
from research.eval.vectors import unit_rows

SENSE_COLUMNS = ("lemma", "sense", "topic", "start", "end", "sentence")
FORMAT = (
    "polysemy format: a TSV with header 'lemma sense topic start end sentence', "
    "sentence[start:end] being the lemma's occurrence"
)


@dataclass(frozen=True)
class SenseExample:
    lemma: str
    sense: str
    topic: str
    span: tuple[int, int]
    sentence: str


def read_sense_examples(path: str | Path) -> list[SenseExample]:
    """Parse and check the file; malformed rows are UserErrors naming file:line."""
    path = Path(path).expanduser()
    out: list[SenseExample] = []
    for line_no, row in read_header_tsv(path, SENSE_COLUMNS, FORMAT):
        where = f"{path}:{line_no}"
        lemma, sense = row["lemma"].strip(), row["sense"].strip()
        if not lemma or not sense:
            raise UserError(f"{where}: empty lemma or sense; expected the {FORMAT}")
        sentence = row["sentence"]
        span = parse_span(sentence, row["start"], row["end"], where, FORMAT)
        out.append(SenseExample(lemma, sense, row["topic"].strip(), span, sentence))
    return out


def choose_lemma(examples: Sequence[SenseExample], lemma: str | None) -> str:
    """`lemma` if the file has it; None picks the lemma with most examples (first on ties)."""
    counts = Counter(e.lemma for e in examples)
    if lemma is None:
        return max(counts, key=lambda w: counts[w])  # max keeps the first of equal counts
    if lemma not in counts:
        common = ", ".join(w for w, _ in counts.most_common(10))
        raise UserError(
            f"no examples of {lemma!r} in the file; lemmas with most examples: {common}"
        )
    return lemma


def _loo_centroid_similarities(
    vectors: np.ndarray, senses: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cosine of each row with every sense centroid, its own sense's centroid leaving it out.

    Returns (similarities (N, S), labels (N,), examples per sense (S,)).
    """
    unit = unit_rows(np.asarray(vectors, dtype=np.float64)).astype(np.float64)
    names, labels = np.unique(np.asarray(senses), return_inverse=True)
    counts = np.bincount(labels, minlength=len(names)).astype(np.float64)
    sums = np.zeros((len(names), unit.shape[1]))
    np.add.at(sums, labels, unit)
    sims = unit @ unit_rows(sums / counts[:, None]).astype(np.float64).T
    own = sums[labels] - unit  # own-sense sum without the row itself
    own_centroid = own / np.maximum(counts[labels] - 1, 1)[:, None]
    sims[np.arange(len(unit)), labels] = np.sum(unit * unit_rows(own_centroid), axis=1)
    return sims, labels, counts


# Similarities closer than this are a tie: identical vectors (a static word vector, a constant
# encoder) must score chance, not whatever rounding in the leave-one-out centroid favours.
TIE_TOLERANCE = 1e-9


def nearest_centroid_predictions(vectors: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    """Leave-one-out nearest-centroid sense of each row (index into the sorted senses), or -1.

    Rows whose sense has no other example cannot be judged and get -1. Centroids are means of
    unit vectors; similarity is the cosine with the centroid. Ties go to the first sense.
    """
    sims, labels, counts = _loo_centroid_similarities(vectors, senses)
    top = sims.max(axis=1, keepdims=True)
    predictions = np.argmax(sims >= top - TIE_TOLERANCE, axis=1)
    predictions[counts[labels] < 2] = -1
    return predictions


def nearest_centroid_accuracy(vectors: np.ndarray, senses: Sequence[str]) -> tuple[float, int]:
    """(leave-one-out nearest-centroid accuracy, rows judged); NaN with fewer than two senses.

    A row tied between k senses scores 1/k when its sense is among them: the expected accuracy
    of breaking the tie at random, so indistinguishable vectors score chance.
    """
    if len(set(senses)) < 2:
        return float("nan"), 0
    sims, labels, counts = _loo_centroid_similarities(vectors, senses)
    judged = counts[labels] >= 2
    if not judged.any():
        return float("nan"), 0
    top = sims.max(axis=1, keepdims=True)
    tied = sims >= top - TIE_TOLERANCE
    credit = tied[np.arange(len(labels)), labels] / tied.sum(axis=1)
    return float(np.mean(credit[judged])), int(judged.sum())


def _judged_groups(
    examples: Sequence[SenseExample], lemma: str | None
) -> dict[str, list[SenseExample]]:
    """Examples per lemma, keeping lemmas with at least two senses (all of them, or `lemma`)."""
    groups: dict[str, list[SenseExample]] = {}
    for e in examples:
        if lemma is None or e.lemma == lemma:
            groups.setdefault(e.lemma, []).append(e)
    return {w: g for w, g in groups.items() if len({e.sense for e in g}) >= 2}


def separation_metrics(
    model: TextEncoder, examples: Sequence[SenseExample], lemma: str | None = None
) -> dict[str, float]:
    """`sense_separation` on parsed examples."""
    if lemma is not None:
        lemma = choose_lemma(examples, lemma)
    groups = _judged_groups(examples, lemma)
    if not groups:
        which = f"lemma {lemma!r} has" if lemma else "no lemma has"
        raise UserError(
            f"{which} examples of two or more senses{'' if lemma else ' in the file'}; "
            f"sense separation needs them"
        )
    flat = [e for g in groups.values() for e in g]
    vectors = embed_spans(model, [e.sentence for e in flat], [e.span for e in flat])
    correct = judged = majority = start = 0
    for group in groups.values():
        senses = [e.sense for e in group]
        block = vectors[start : start + len(group)]
        start += len(group)
        _, labels = np.unique(np.asarray(senses), return_inverse=True)
        predictions = nearest_centroid_predictions(block, senses)
        ok = predictions >= 0
        judged += int(ok.sum())
        correct += int(np.sum(predictions[ok] == labels[ok]))
        if ok.any():
            majority += int(np.bincount(labels[ok]).max())
    return {
        "accuracy": correct / judged if judged else float("nan"),
        "majority_baseline": majority / judged if judged else float("nan"),
        "lemmas": len(groups),
        "examples": judged,
    }


def sense_separation(
    model: TextEncoder, path: str | Path, lemma: str | None = None
) -> dict[str, float]:
    """Nearest-centroid (leave-one-out) sense accuracy, pooled over lemmas with 2+ senses.

    Returns ``accuracy``, ``majority_baseline`` (share of judged occurrences in their lemma's
    most frequent sense), ``lemmas`` and ``examples`` (occurrences judged: those whose sense
    has another example). `lemma` restricts it to one word.
    """
    return separation_metrics(model, read_sense_examples(path), lemma)


def _snippet(example: SenseExample, width: int = 36) -> str:
    s, e = example.span
    left = example.sentence[max(0, s - width // 2) : s]
    right = example.sentence[e : e + width // 2]
    return f"{'…' if s > width // 2 else ''}{left}[{example.sentence[s:e]}]{right}…"


def plot_polysemy(
    model: TextEncoder, path: str | Path, lemma: str | None, out_path: str | Path
) -> Path:
    """Scatter one lemma's contextual vectors (PCA of unit vectors), one colour per sense.

    `lemma` None picks the lemma with most examples. Each sense's most central example is
    annotated with a snippet of its sentence; the title gives the nearest-centroid accuracy.
    Parent directories of `out_path` are created.
    """
    # Imported here so that importing the evaluator registry does not load matplotlib.
    import matplotlib.pyplot as plt

    from research.eval.plots import pca_2d  # selects the file-only Agg backend

    examples = read_sense_examples(path)
    lemma = choose_lemma(examples, lemma)
    chosen = [e for e in examples if e.lemma == lemma]
    vectors = embed_spans(model, [e.sentence for e in chosen], [e.span for e in chosen])
    coords, explained = pca_2d(unit_rows(vectors).astype(np.float64))
    senses = [e.sense for e in chosen]
    accuracy, judged = nearest_centroid_accuracy(vectors, senses)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    order = list(dict.fromkeys(senses))
    cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    for k, sense in enumerate(order):
        rows = [i for i, s in enumerate(senses) if s == sense]
        topic = next((chosen[i].topic for i in rows if chosen[i].topic), "")
        label = f"{sense} ({topic}), n={len(rows)}" if topic else f"{sense}, n={len(rows)}"
        colour = cmap(k % cmap.N)
        ax.scatter(coords[rows, 0], coords[rows, 1], s=26, color=colour, label=label, zorder=3)
        centre = coords[rows].mean(axis=0)
        central = rows[int(np.argmin(np.linalg.norm(coords[rows] - centre, axis=1)))]
        ax.annotate(
            _snippet(chosen[central]), coords[central], xytext=(5, 5),
            textcoords="offset points", fontsize=7, color=colour,
        )  # fmt: skip
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    ax.legend(fontsize=8, loc="best", title="sense")
    ax.margins(0.15)
    score = (
        f"nearest-centroid sense accuracy {accuracy:.2f} (leave-one-out, {judged} judged)"
        if judged else "one sense only: no separation score"
    )  # fmt: skip
    ax.set_title(
        f"{lemma!r} in context: {len(chosen)} occurrences, {len(order)} senses\n{score}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


@dataclass
class SenseSeparation:
    """Evaluator: leave-one-out nearest-centroid sense accuracy on a polysemy file."""

    reads: ClassVar[str] = "spans"  # what it embeds: one vector per word in context

    name: str
    path: str | Path
    lemma: str | None = None
    examples: list[SenseExample] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.examples = read_sense_examples(self.path)  # fail early on a malformed file

    def run(self, model: TextEncoder) -> EvalResult:
        try:
            metrics = separation_metrics(model, self.examples, self.lemma)
        except UserError as err:
            raise UserError(f"{self.path}: {err}") from None
        markdown = (
            f"### {self.name}: sense separation ({Path(self.path).name})\n\n"
            f"Leave-one-out nearest-centroid sense accuracy {metrics['accuracy']:.4f} over "
            f"{metrics['examples']} occurrences of {metrics['lemmas']} lemma(s); "
            f"majority-sense baseline {metrics['majority_baseline']:.4f}.\n"
        )
        return EvalResult(metrics=metrics, markdown=markdown)
