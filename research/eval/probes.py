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
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from research.errors import UserError
from research.eval import EvalResult, benchmark_lines
from research.eval.encoder_api import check_embeddings, embed_sentences, read_header_tsv
from research.eval.vectors import unit_rows

KNN_K = 5
TEST_SHARE = 0.3  # share of each label's items evaluated when the file has no split
KNN_CHUNK = 1024  # evaluated items scored at once: bounds the (items x train) cosine block

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


# ----------------------------------------------------------------------------- probe sets


@dataclass
class ProbeSet:
    """A labelled item set with its split: items with `test` True are evaluated.

    With `folds` set (cross-validation), every item is evaluated (`test` all True) by the probe
    fitted on the items of the other folds; without it, on the items whose `test` is False.
    """

    name: str  # "depth1", "topic", ...; a metric-name component
    source: str  # the file it came from, for messages and the markdown
    texts: list[str]
    labels: list[str]
    test: np.ndarray  # bool, per item: evaluated
    split_rule: str  # how train and test were chosen, in words
    skipped_short: int = 0  # items whose ladder is shorter than the depth
    skipped_rare: int = 0  # items whose label has too few training items
    folds: np.ndarray | None = None  # int fold per item (cross-validation), or None

    def __len__(self) -> int:
        return len(self.texts)

    def splits(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train mask, evaluated mask) pairs: one per fold, or the single split."""
        if self.folds is None:
            return [(~self.test, self.test)]
        return [(self.folds != f, self.folds == f) for f in np.unique(self.folds)]

    @property
    def classes(self) -> list[str]:
        trained = np.logical_or.reduce([train for train, _ in self.splits()])
        return sorted({label for label, t in zip(self.labels, trained, strict=True) if t})

    def encoded(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(label index per item, test mask, number of classes); classes are sorted names."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[y] for y in self.labels], dtype=np.int64), self.test, len(index)


def stratified_test_mask(labels: Sequence[str], seed: int, share: float = TEST_SHARE) -> np.ndarray:
    """Deterministic split: round(share * n) of each label's n items (shuffled) are test items.

    A label with a single item keeps it for training.
    """
    rng = np.random.default_rng([seed, 1])
    test = np.zeros(len(labels), dtype=bool)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    for label in sorted(by_label):
        items = np.array(by_label[label])
        n_test = min(int(round(share * len(items))), len(items) - 1)
        test[rng.permutation(items)[:n_test]] = True
    return test


def stratified_folds(labels: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold index per item: each label's items, shuffled from the seed, dealt to the folds in
    turn, continuing where the previous label stopped so that folds stay equal in size."""
    rng = np.random.default_rng([seed, 2])
    fold = np.zeros(len(labels), dtype=np.int64)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    dealt = 0
    for label in sorted(by_label):
        items = rng.permutation(np.array(by_label[label]))
        fold[items] = (dealt + np.arange(len(items))) % folds
        dealt += len(items)
    return fold


def sample_items(n: int, max_items: int | None, seed: int) -> np.ndarray:
    """Indices of up to `max_items` of n items, chosen from the seed, in increasing order."""
    if not max_items or max_items >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 0]).choice(n, size=max_items, replace=False))


def make_probe(
    name: str,
    source: str,
    texts: Sequence[str],
    labels: Sequence[str],
    splits: Sequence[str] | None,
    *,
    seed: int = 0,
    min_class_items: int = 2,
    skipped_short: int = 0,
    folds: int = 0,
) -> ProbeSet:
    """Choose train and test items (see the module docstring) and drop too-rare labels."""
    labels = list(labels)
    min_class_items = max(1, min_class_items)  # a label never trained on cannot be predicted
    if folds >= 2:
        return _cross_validation_probe(
            name, source, texts, labels, seed, min_class_items, skipped_short, folds
        )
    present = list(dict.fromkeys(splits)) if splits is not None else []
    evaluated = "test" if "test" in present else "dev" if "dev" in present else None
    if splits is not None and evaluated is not None:
        test = np.array([s == evaluated for s in splits], dtype=bool)
        others = ", ".join(s for s in present if s != evaluated) or "none"
        rule = f"split {evaluated!r} evaluated against the other items ({others})"
        if evaluated == "dev":
            rule += "; the file has no test split"
    else:
        test = stratified_test_mask(labels, seed)
        rule = (
            f"no test or dev split: {TEST_SHARE:.0%} of each label's items held out (seed {seed})"
        )
    train_counts = Counter(y for y, t in zip(labels, test, strict=True) if not t)
    keep = np.array([train_counts[y] >= min_class_items for y in labels], dtype=bool)
    probe = ProbeSet(
        name=name,
        source=source,
        texts=[t for t, k in zip(texts, keep, strict=True) if k],
        labels=[y for y, k in zip(labels, keep, strict=True) if k],
        test=test[keep],
        split_rule=rule,
        skipped_short=skipped_short,
        skipped_rare=int((~keep).sum()),
    )
    _check_probe(probe, min_class_items)
    return probe


def _cross_validation_probe(
    name: str,
    source: str,
    texts: Sequence[str],
    labels: list[str],
    seed: int,
    min_class_items: int,
    skipped_short: int,
    folds: int,
) -> ProbeSet:
    counts = Counter(labels)
    folds = min(folds, len(labels))
    # The fold holding most of a label's n items holds ceil(n / folds) of them.
    keep = np.array(
        [counts[y] - -(-counts[y] // folds) >= min_class_items for y in labels], dtype=bool
    )
    kept_labels = [y for y, k in zip(labels, keep, strict=True) if k]
    rule = (
        "leave-one-out"
        if folds >= len(kept_labels)
        else f"{folds}-fold cross-validation, stratified by label (seed {seed})"
    )
    probe = ProbeSet(
        name=name,
        source=source,
        texts=[t for t, k in zip(texts, keep, strict=True) if k],
        labels=kept_labels,
        test=np.ones(len(kept_labels), dtype=bool),
        split_rule=rule + ": every item evaluated once, by probes fitted on the other folds",
        skipped_short=skipped_short,
        skipped_rare=int((~keep).sum()),
        folds=stratified_folds(kept_labels, folds, seed),
    )
    _check_probe(probe, min_class_items)
    return probe


def _check_probe(probe: ProbeSet, min_class_items: int) -> None:
    source, name = probe.source, probe.name
    n_classes = len(probe.classes)
    hint = (
        f" ({probe.skipped_rare} items dropped: their label has fewer than {min_class_items} "
        f"training items; lower min_class_items or add items)"
        if probe.skipped_rare
        else ""
    )
    if n_classes < 2:
        raise UserError(
            f"{source}: probe {name!r} has {n_classes} label(s) among its training items{hint}; "
            f"a probe needs at least 2"
        )
    if not probe.test.any():
        raise UserError(
            f"{source}: probe {name!r} has no items to evaluate ({probe.split_rule}){hint}; "
            "add items"
        )


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
) -> list[ProbeSet]:
    """One probe per depth k (``depth<k>``) from a hierarchy ladder TSV (module docstring).

    The same items (after the `pos` filter and the `max_items` sample) feed every depth.
    """
    path = Path(path).expanduser()
    depths = _check_depths(depths)
    try:
        has_lemma = "\x00" in template.format("\x00")
    except (IndexError, KeyError, ValueError):
        has_lemma = False
    if not has_lemma:
        raise UserError(
            f"template {template!r} must contain '{{}}' where the lemma goes, e.g. 'the {{}}'"
        )
    required = ["lemma", "ladder_words"] + (["pos"] if pos else [])
    rows = read_header_tsv(path, required, LADDER_FORMAT)
    lemmas: list[str] = []
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
        lemmas.append(lemma)
        ladders.append(ladder)
    if not lemmas:
        raise UserError(f"{path}: no rows with pos {pos!r}; check the pos option")
    chosen = sample_items(len(lemmas), max_items, seed)
    probes = []
    for k in depths:
        kept = [i for i in chosen if len(ladders[i]) >= k]
        probes.append(
            make_probe(
                f"depth{k}",
                str(path),
                [template.format(lemmas[i]) for i in kept],
                [ladders[i][k - 1] for i in kept],
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


# ----------------------------------------------------------------------------- classifiers


def knn_predict(
    train: np.ndarray, train_labels: np.ndarray, queries: np.ndarray, k: int = KNN_K
) -> np.ndarray:
    """Label of each query by majority vote of its k nearest training rows in cosine.

    Neighbours are ordered by similarity (equal similarities by training-row order); a tie in
    votes goes to the label whose first neighbour is nearest. k is capped at the training size.
    """
    train_labels = np.asarray(train_labels)
    k = max(1, min(k, len(train_labels)))
    train_unit = unit_rows(np.asarray(train, dtype=np.float32))
    out = np.zeros(len(queries), dtype=train_labels.dtype)
    for start in range(0, len(queries), KNN_CHUNK):
        sims = unit_rows(np.asarray(queries[start : start + KNN_CHUNK], np.float32)) @ train_unit.T
        nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        votes = train_labels[nearest]  # (chunk, k), nearest first
        # counts[i, j]: votes for the label of neighbour j (itself included).
        counts = np.sum(votes[:, :, None] == votes[:, None, :], axis=2)
        # Most votes wins; among equal counts the earliest (nearest) slot wins.
        best = np.argmax(counts * (k + 1) - np.arange(k), axis=1)
        out[start : start + len(votes)] = votes[np.arange(len(votes)), best]
    return out


@dataclass
class LinearProbe:
    """A fitted multinomial logistic regression on standardised features."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D, C)
    bias: np.ndarray  # (C,)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.logits(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    # Shifted logits are floored at -80 so that exp never returns subnormal numbers (slow on
    # CPUs); exp(-80) ~ 2e-35 is already 0 next to the largest term's 1.
    z = np.exp(np.maximum(logits - logits.max(axis=1, keepdims=True), -80.0))
    return z / z.sum(axis=1, keepdims=True)


def fit_linear_probe(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int | None = None,
    *,
    l2: float = 1e-3,
    iterations: int = 300,
) -> LinearProbe:
    """Minimise mean cross-entropy + (l2 / 2) * ||W||^2 (the bias is not penalised).

    Features are standardised with the training mean and standard deviation (constant features
    are only centred). Nesterov-accelerated gradient descent with the fixed step 1/L, where
    L = 0.5 * max(λ_max(XᵀX / n), 1) + l2 bounds the curvature (softmax's Hessian is at most 1/2;
    the 1 is the bias column, orthogonal to the centred features), restarting the momentum when
    a step goes uphill. Deterministic: same data, same probe.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n, dim = x.shape
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 1e-9 * (1.0 + np.abs(mean)), std, 1.0)
    xs = (x - mean) / scale
    gram = xs.T @ xs if dim <= n else xs @ xs.T
    lam = float(np.linalg.eigvalsh(gram / n)[-1]) if gram.size else 0.0
    step = 1.0 / (0.5 * max(lam, 1.0) + l2)
    # The iterations run in float32: twice as fast, and accuracy needs no more precision.
    xs = xs.astype(np.float32)
    onehot = np.zeros((n, n_classes), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0

    def gradient(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        residual = (_softmax(xs @ w + b) - onehot) / n
        return xs.T @ residual + np.float32(l2) * w, residual.sum(axis=0)

    w = np.zeros((dim, n_classes), dtype=np.float32)
    b = np.zeros(n_classes, dtype=np.float32)
    w_prev, b_prev = w, b
    t = 0
    for _ in range(iterations):
        momentum = np.float32(t / (t + 3))
        vw, vb = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        gw, gb = gradient(vw, vb)
        w_new, b_new = vw - np.float32(step) * gw, vb - np.float32(step) * gb
        # Restart (O'Donoghue & Candes 2015): the momentum pointed uphill.
        uphill = np.sum(gw * (w_new - w)) + np.sum(gb * (b_new - b)) > 0
        t = 0 if uphill else t + 1
        w_prev, b_prev, w, b = w, b, w_new, b_new
    return LinearProbe(
        mean=mean, scale=scale, weights=w.astype(np.float64), bias=b.astype(np.float64)
    )


def probe_scores(
    vectors: np.ndarray,
    probe: ProbeSet,
    *,
    k: int = KNN_K,
    l2: float = 1e-3,
    iterations: int = 300,
) -> dict[str, float]:
    """k-NN and linear-probe accuracy over the probe's evaluated items (each by the probe fitted
    on its split's training items); `vectors` align with the probe's items."""
    labels, test, n_classes = probe.encoded()
    x = np.asarray(vectors, dtype=np.float64)
    knn_hits = linear_hits = 0
    for train, evaluated in probe.splits():
        knn = knn_predict(x[train], labels[train], x[evaluated], k)
        linear = fit_linear_probe(x[train], labels[train], n_classes, l2=l2, iterations=iterations)
        knn_hits += int(np.sum(knn == labels[evaluated]))
        linear_hits += int(np.sum(linear.predict(x[evaluated]) == labels[evaluated]))
    n = int(test.sum())
    return {"knn": knn_hits / n, "linear": linear_hits / n}


def chance_rate(probe: ProbeSet) -> float:
    """Accuracy on the evaluated items of always answering the most frequent training label.

    Under cross-validation, the most frequent label of all items: a per-fold majority would
    never be the held-out item's label in balanced classes (leave-one-out makes it a minority),
    scoring 0 rather than the 1/classes a label-blind guess gets.
    """
    labels, test, _ = probe.encoded()
    if probe.folds is not None:
        return float(np.bincount(labels).max() / len(labels))
    hits = 0
    for train, evaluated in probe.splits():
        majority = np.argmax(np.bincount(labels[train]))  # the first of equally frequent labels
        hits += int(np.sum(labels[evaluated] == majority))
    return hits / int(test.sum())


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


def plot_probe_matrix(matrix: dict, path: str | Path, title: str = "") -> Path:
    """Heatmap of `probe_matrix`: rows levels, columns probes, colour the linear-probe accuracy.

    Cells print the linear and k-NN accuracies; column labels give the chance rate. Parent
    directories are created.
    """
    # Imported here so that importing the evaluator registry does not load matplotlib.
    import matplotlib.pyplot as plt

    import research.eval.plots  # noqa: F401  (selects the file-only Agg backend)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    levels, probes = matrix["levels"], matrix["probes"]
    linear = np.asarray(matrix["linear"], dtype=np.float64).reshape(len(levels), len(probes))
    knn = np.asarray(matrix["knn"], dtype=np.float64).reshape(len(levels), len(probes))
    fig, ax = plt.subplots(
        figsize=(2.0 + 1.6 * max(len(probes), 1), 1.6 + 0.8 * max(len(levels), 1))
    )
    image = ax.imshow(
        np.nan_to_num(linear, nan=0.0), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto"
    )
    for i in range(len(levels)):
        for j in range(len(probes)):
            v = linear[i, j]
            text = "n/a" if np.isnan(v) else f"{v:.2f}"
            text += f"\nk-NN {knn[i, j]:.2f}" if np.isfinite(knn[i, j]) else "\nk-NN n/a"
            colour = "black" if np.isfinite(v) and v >= 0.6 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour)
    ax.set_xticks(range(len(probes)))
    ax.set_xticklabels(
        [f"{p}\nchance {c:.2f}" for p, c in zip(probes, matrix["chance"], strict=True)],
        fontsize=9,
    )
    ax.set_yticks(range(len(levels)))
    ax.set_yticklabels(levels, fontsize=9)
    ax.set_xlabel("probe")
    ax.set_ylabel("level")
    fig.colorbar(image, ax=ax, label="linear-probe accuracy")
    ax.set_title(title or "Level × probe: linear-probe accuracy (k-NN below)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
            plot_probe_matrix(matrix, self.plot, title=f"{self.name}: level × probe")
            markdown += f"\nHeatmap: `{self.plot}`.\n"
        return EvalResult(metrics=metrics, markdown=markdown)


__all__ = [
    "KNN_K",
    "LevelEncoder",
    "LevelProbes",
    "LinearProbe",
    "ProbeSet",
    "SentenceLevel",
    "as_level_encoder",
    "best_levels",
    "chance_rate",
    "embed_level",
    "fit_linear_probe",
    "knn_predict",
    "ladder_probes",
    "make_probe",
    "matrix_markdown",
    "plot_probe_matrix",
    "probe_matrix",
    "probe_scores",
    "stratified_folds",
    "topic_probe",
]
