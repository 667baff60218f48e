"""Labelled item sets, their train/evaluation splits, and the classifiers scored on them.

This is the numeric half of the level probes (research.eval.probes): nothing here reads a file
or calls a model. A `ProbeSet` holds item texts, labels and which items are evaluated;
`make_probe` chooses the split (the file's split column, a deterministic stratified hold-out, or
stratified K-fold cross-validation) and drops labels too rare to learn; `probe_scores` fits a
k-NN classifier and a linear probe on each split's training items and scores the evaluated
ones; `chance_rate` is the majority-label baseline.

* **k-NN** (`knn_predict`): cosine similarity to the training items, majority vote of the k
  nearest, a tie between labels going to the label of the nearer neighbour.
* **Linear probe** (`fit_linear_probe`): multinomial logistic regression on standardised
  features, L2 penalty on the weights, a fixed number of full-batch accelerated gradient steps
  of fixed size 1/L, so the same data always give the same probe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from research.errors import UserError
from research.eval.vectors import unit_rows

KNN_K = 5
TEST_SHARE = 0.3  # share of each label's items evaluated when the file has no split
KNN_CHUNK = 1024  # evaluated items scored at once: bounds the (items x train) cosine block


# ----------------------------------------------------------------------------- splits


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
    """Choose train and test items (see the research.eval.probes module docstring) and drop
    too-rare labels."""
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
        return softmax(self.logits(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits."""
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
    dual: bool | None = None,
) -> LinearProbe:
    """Minimise mean cross-entropy + (l2 / 2) * ||W||^2 (the bias is not penalised).

    Features are standardised with the training mean and standard deviation (constant features
    are only centred). Nesterov-accelerated gradient descent with the fixed step 1/L, where
    L = 0.5 * max(λ_max(XᵀX / n), 1) + l2 bounds the curvature (softmax's Hessian is at most 1/2;
    the 1 is the bias column, orthogonal to the centred features), restarting the momentum when
    a step goes uphill. Deterministic: same data, same probe. With more dimensions than items
    (`dual` None = decide by the shapes) the same iterates are computed through the items'
    kernel.
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
    # The iterations run in float32: faster, and accuracy needs no more precision.
    xs = xs.astype(np.float32)
    onehot = np.zeros((n, n_classes), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0
    if dual is None:
        dual = dim > n
    if dual:
        # Every iterate lies in the span of the training rows (it starts at 0 and each gradient
        # is xsᵀ(...)), so W = xsᵀA and the same steps run on A (n x classes) with the kernel
        # K = xs xsᵀ: the same iterates, n x n instead of n x dim work per step (TF-IDF vectors
        # have 20,000 dimensions and probes a few thousand items).
        kernel = xs @ xs.T
        a, b = _accelerated_descent(
            lambda v: kernel @ v,
            lambda g, d: np.sum(g * (kernel @ d)),
            onehot,
            step,
            l2,
            iterations,
        )
        w = xs.T @ a
    else:
        w, b = _accelerated_descent(
            lambda v: xs @ v, lambda g, d: np.sum(g * d), onehot, step, l2, iterations, xs=xs
        )
    return LinearProbe(
        mean=mean, scale=scale, weights=w.astype(np.float64), bias=b.astype(np.float64)
    )


def _accelerated_descent(logits_of, inner, onehot, step, l2, iterations, xs=None):
    """Nesterov descent with restarts on (v, b), where logits = logits_of(v) + b. Primal: v = W
    and the gradient is xsᵀr + l2 W; dual: v = A (W = xsᵀA) and it is represented by r + l2 A.
    `inner(g, d)` is <gradient, step> in W's geometry (for the restart test)."""
    n, n_classes = onehot.shape
    rows = xs.shape[1] if xs is not None else n
    v = np.zeros((rows, n_classes), dtype=np.float32)
    b = np.zeros(n_classes, dtype=np.float32)
    v_prev, b_prev = v, b
    t = 0
    for _ in range(iterations):
        momentum = np.float32(t / (t + 3))
        vv, vb = v + momentum * (v - v_prev), b + momentum * (b - b_prev)
        residual = (softmax(logits_of(vv) + vb) - onehot) / n
        gv = (xs.T @ residual if xs is not None else residual) + np.float32(l2) * vv
        gb = residual.sum(axis=0)
        v_new, b_new = vv - np.float32(step) * gv, vb - np.float32(step) * gb
        # Restart (O'Donoghue & Candes 2015): the momentum pointed uphill.
        uphill = inner(gv, v_new - v) + np.sum(gb * (b_new - b)) > 0
        t = 0 if uphill else t + 1
        v_prev, b_prev, v, b = v, b, v_new, b_new
    return v, b


# ----------------------------------------------------------------------------- scores


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


__all__ = [
    "KNN_K",
    "TEST_SHARE",
    "LinearProbe",
    "ProbeSet",
    "chance_rate",
    "fit_linear_probe",
    "knn_predict",
    "make_probe",
    "probe_scores",
    "sample_items",
    "softmax",
    "stratified_folds",
    "stratified_test_mask",
]
