"""Word sense in context: is the target word used in the same sense in two sentences?

File format: the WiC-style TSV of this project (``wordnet/wordnet_wic_pairs.tsv``), a header line
naming at least the columns ``id split lemma pos label coarse_diff synset1 synset2 lexname1
lexname2 start1 end1 start2 end2 sentence1 sentence2`` (read by name; extra columns are ignored),
then one pair per line. ``label`` is 1 for the same sense, 0 for different senses;
``sentence1[start1:end1]`` and ``sentence2[start2:end2]`` are the target word (character
offsets, end exclusive). Cells are split on tabs only, never unquoted.

The score of a pair is the cosine of the two contextual vectors of the target word. The
threshold above which a pair is called "same sense" is chosen to maximise accuracy on the tuning
split (``dev``) and then applied unchanged to the evaluation split (``test`` when the file has
one, else ``dev`` itself, which the markdown flags as optimistic). ROC-AUC needs no threshold.
Every number comes with the word-overlap baseline it must beat: the Jaccard similarity of the two
sentences' lowercase word sets, thresholded on the tuning split in the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, average_ranks, parse_span, read_header_tsv
from research.eval.encoder_api import TextEncoder, embed_spans, paired_cosine

WIC_COLUMNS = (
    "id", "split", "lemma", "pos", "label", "coarse_diff", "synset1", "synset2", "lexname1",
    "lexname2", "start1", "end1", "start2", "end2", "sentence1", "sentence2",
)  # fmt: skip
FORMAT = (
    "WiC-style pairs format: a TSV with header '" + " ".join(WIC_COLUMNS) + "', label 0/1, "
    "character offsets [start, end) of the target word in each sentence"
)
_WORD = re.compile(r"\w+")


@dataclass
class SensePairs:
    """Pairs in file order."""

    splits: list[str]
    labels: np.ndarray  # int, 0 / 1
    sentences1: list[str]
    spans1: list[tuple[int, int]]
    sentences2: list[str]
    spans2: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.splits)

    def select(self, split: str) -> SensePairs:
        keep = [i for i, s in enumerate(self.splits) if s == split]
        return SensePairs(
            [self.splits[i] for i in keep],
            self.labels[keep],
            [self.sentences1[i] for i in keep],
            [self.spans1[i] for i in keep],
            [self.sentences2[i] for i in keep],
            [self.spans2[i] for i in keep],
        )


def read_sense_pairs(path: str | Path) -> SensePairs:
    """Parse and check a WiC-style file; malformed rows are UserErrors naming file:line."""
    path = Path(path).expanduser()
    out = SensePairs([], np.zeros(0, dtype=np.int64), [], [], [], [])
    labels: list[int] = []
    for line_no, row in read_header_tsv(path, WIC_COLUMNS, FORMAT):
        where = f"{path}:{line_no}"
        label = row["label"].strip()
        if label not in ("0", "1"):
            raise UserError(f"{where}: label {label!r} is not 0 or 1; expected the {FORMAT}")
        split = row["split"].strip()
        if not split:
            raise UserError(f"{where}: empty split; expected the {FORMAT}")
        span1 = parse_span(row["sentence1"], row["start1"], row["end1"], where, FORMAT)
        span2 = parse_span(row["sentence2"], row["start2"], row["end2"], where, FORMAT)
        out.splits.append(split)
        labels.append(int(label))
        out.sentences1.append(row["sentence1"])
        out.spans1.append(span1)
        out.sentences2.append(row["sentence2"])
        out.spans2.append(span2)
    out.labels = np.array(labels, dtype=np.int64)
    return out


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties 1/2.

    Computed from average ranks (Mann-Whitney U); NaN when either class is absent.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = float(average_ranks(scores)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def accuracy_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Accuracy of predicting label 1 exactly when score >= threshold."""
    if len(scores) == 0:
        return float("nan")
    predicted = np.asarray(scores) >= threshold
    return float(np.mean(predicted == np.asarray(labels).astype(bool)))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy): the threshold maximising accuracy of `score >= threshold`.

    Candidates are the midpoints between consecutive distinct scores, plus one below the
    smallest (all "same") and one above the largest (all "different"); the lowest of equally
    good candidates wins.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(labels).astype(bool)
    if len(scores) == 0:
        raise ValueError("no scores to choose a threshold from")
    values, inverse = np.unique(scores, return_inverse=True)
    pos_counts = np.bincount(inverse, weights=positive, minlength=len(values))
    neg_counts = np.bincount(inverse, weights=~positive, minlength=len(values))
    # Candidate i calls "same" every distinct value from index i on (i = 0 .. len(values)).
    pos_before = np.concatenate(([0.0], np.cumsum(pos_counts)))
    neg_before = np.concatenate(([0.0], np.cumsum(neg_counts)))
    correct = (pos_before[-1] - pos_before) + neg_before
    best = int(np.argmax(correct))
    if best == 0:
        threshold = values[0] - 1.0
    elif best == len(values):
        threshold = values[-1] + 1.0
    else:
        threshold = (values[best - 1] + values[best]) / 2.0
    return float(threshold), float(correct[best] / len(scores))


def word_set(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def overlap_scores(sentences1: list[str], sentences2: list[str]) -> np.ndarray:
    """Jaccard similarity of the lowercase word (\\w+) sets of each pair of sentences."""
    out = np.zeros(len(sentences1), dtype=np.float64)
    for i, (a, b) in enumerate(zip(sentences1, sentences2, strict=True)):
        wa, wb = word_set(a), word_set(b)
        union = wa | wb
        out[i] = len(wa & wb) / len(union) if union else 0.0
    return out


def thresholded_metrics(
    tune_scores: np.ndarray, tune_labels: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> dict[str, float]:
    """Threshold chosen on the tuning scores, accuracy and ROC-AUC on the evaluation scores."""
    threshold, tune_accuracy = best_threshold(tune_scores, tune_labels)
    return {
        "accuracy": accuracy_at(scores, labels, threshold),
        "roc_auc": roc_auc(scores, labels),
        "threshold": threshold,
        "tune_accuracy": tune_accuracy,
    }


def span_cosines(model: TextEncoder, pairs: SensePairs) -> np.ndarray:
    """Cosine of the target word's two contextual vectors, per pair."""
    n = len(pairs)
    vectors = embed_spans(model, pairs.sentences1 + pairs.sentences2, pairs.spans1 + pairs.spans2)
    return paired_cosine(vectors[:n], vectors[n:]).astype(np.float64)


@dataclass
class WordSense:
    """Evaluator: same-vs-different sense accuracy and ROC-AUC of target-word cosines.

    `tune_split` picks the threshold; `eval_split` is scored (default: "test" if the file has
    it, else the tuning split).
    """

    reads: ClassVar[str] = "spans"  # what it embeds: one vector per word in context

    name: str
    path: str | Path
    tune_split: str = "dev"
    eval_split: str | None = None
    pairs: SensePairs = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pairs = read_sense_pairs(self.path)
        present = list(dict.fromkeys(self.pairs.splits))
        if self.tune_split not in present:
            raise UserError(
                f"{self.path}: no {self.tune_split!r} rows to choose the threshold on (splits "
                f"present: {', '.join(present)}); add them or set tune_split to one of those"
            )
        if self.eval_split is None:
            self.eval_split = "test" if "test" in present else self.tune_split
        elif self.eval_split not in present:
            raise UserError(
                f"{self.path}: no {self.eval_split!r} rows to evaluate (splits present: "
                f"{', '.join(present)}); set eval_split to one of those"
            )

    def run(self, model: TextEncoder) -> EvalResult:
        assert self.eval_split is not None
        tune = self.pairs.select(self.tune_split)
        evaluated = self.pairs.select(self.eval_split)
        same = self.eval_split == self.tune_split
        tune_cos = span_cosines(model, tune)
        eval_cos = tune_cos if same else span_cosines(model, evaluated)
        model_m = thresholded_metrics(tune_cos, tune.labels, eval_cos, evaluated.labels)
        base_m = thresholded_metrics(
            overlap_scores(tune.sentences1, tune.sentences2),
            tune.labels,
            overlap_scores(evaluated.sentences1, evaluated.sentences2),
            evaluated.labels,
        )
        majority = float(max(np.mean(evaluated.labels), 1 - np.mean(evaluated.labels)))
        metrics: dict[str, float] = {
            "accuracy": model_m["accuracy"],
            "roc_auc": model_m["roc_auc"],
            "threshold": model_m["threshold"],
            "pairs": len(evaluated),
            "tune_pairs": len(tune),
            "eval_on_test": int(self.eval_split == "test"),
            "baseline_overlap_accuracy": base_m["accuracy"],
            "baseline_overlap_roc_auc": base_m["roc_auc"],
            "baseline_majority_accuracy": majority,
        }
        return EvalResult(metrics=metrics, markdown=self._markdown(model_m, base_m, majority))

    def _markdown(
        self, model_m: dict[str, float], base_m: dict[str, float], majority: float
    ) -> str:
        n_eval = int(np.sum(np.array(self.pairs.splits) == self.eval_split))
        n_tune = int(np.sum(np.array(self.pairs.splits) == self.tune_split))
        lines = [
            f"### {self.name}: word sense in context ({Path(self.path).name})",
            "",
            f"Evaluation split: **{self.eval_split}** ({n_eval} pairs); cosine threshold chosen "
            f"on **{self.tune_split}** ({n_tune} pairs).",
        ]
        if "test" not in self.pairs.splits and self.eval_split != self.tune_split:
            lines.append(
                f"The file has no test split (withheld by the data's authors for blind "
                f"evaluation): {self.eval_split} is reported."
            )
        if self.eval_split == self.tune_split:
            lines.append(
                f"The file has no test split, so accuracy is measured on the {self.tune_split} "
                f"pairs the threshold was tuned on (optimistic); ROC-AUC uses no threshold."
            )
        lines += [
            "",
            "| scorer | accuracy | ROC-AUC | threshold |",
            "|---|---|---|---|",
            f"| model (target-word cosine) | {model_m['accuracy']:.4f} | "
            f"{model_m['roc_auc']:.4f} | {model_m['threshold']:.4f} |",
            f"| baseline: word overlap (Jaccard) | {base_m['accuracy']:.4f} | "
            f"{base_m['roc_auc']:.4f} | {base_m['threshold']:.4f} |",
            f"| baseline: majority class | {majority:.4f} | 0.5000 | - |",
            "",
        ]
        return "\n".join(lines)
