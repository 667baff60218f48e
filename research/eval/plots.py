"""Plots of evaluation results, written to files (the Agg backend: no display needed).

The classic word2vec picture (`plot_analogy_pairs`): word pairs in a 2-D PCA of the unit vectors,
one arrow per pair. If a model learned a relation (male -> female, country -> capital), the
arrows are roughly parallel and of similar length: that is what makes king - man + woman land
near queen. `plot_probe_matrix` draws the level x probe accuracy matrix of research.eval.probes.

Importing this module loads matplotlib, so evaluators import it inside the function that draws.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display: runs on headless machines and in tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from research.eval.analogy import read_analogies  # noqa: E402
from research.eval.vectors import WordVectors  # noqa: E402

# Section names that suggest a male/female relation, the most legible picture.
GENDER_HINTS = ("family", "male", "female", "gender")


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first two principal components; also return explained fractions."""
    centred = points - points.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:  # fewer than two components (one word, or 1-D vectors)
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    return coords, np.pad(explained, (0, 2 - len(explained)))


def _wrap(text: str, width: int = 90) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(lines + [line])


def plot_analogy_pairs(
    vectors: WordVectors,
    pairs: Sequence[tuple[str, str]],
    path: str | Path,
    title: str = "Word pairs in the embedding (PCA of unit vectors)",
) -> Path:
    """Draw each in-vocabulary pair as an arrow first -> second; list skipped (OOV) pairs.

    Words are matched exactly, else case-insensitively. Parent directories are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept: list[tuple[int, int]] = []
    skipped: list[str] = []
    for first, second in pairs:
        i, j = vectors.lookup(first), vectors.lookup(second)
        if i is None or j is None:
            skipped.append(f"{first}\u2192{second}")
        else:
            kept.append((i, j))

    fig, ax = plt.subplots(figsize=(8, 6.5))
    if kept:
        rows = list(dict.fromkeys(r for pair in kept for r in pair))
        coords, explained = pca_2d(vectors.unit()[rows].astype(np.float64))
        where = {r: coords[k] for k, r in enumerate(rows)}
        ax.scatter(coords[:, 0], coords[:, 1], s=18, color="tab:blue", zorder=3)
        for r in rows:
            ax.annotate(
                vectors.words[r], where[r], xytext=(4, 4), textcoords="offset points", fontsize=9
            )
        for i, j in kept:
            ax.annotate(
                "",
                xy=where[j],
                xytext=where[i],
                arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.7, "lw": 1.2},
            )
        ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
        ax.margins(0.12)
    else:
        ax.text(
            0.5,
            0.5,
            "no pair has both words in the vocabulary",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
    subtitle = f"{len(kept)} pair(s)"
    if skipped:
        subtitle += f"; skipped, out of vocabulary: {', '.join(skipped)}"
    ax.set_title(f"{title}\n{_wrap(subtitle)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def pairs_from_analogy_file(
    path: str | Path, vectors: WordVectors, max_pairs: int = 8
) -> list[tuple[str, str]]:
    """Pick up to `max_pairs` distinct (a, b) / (c, d) pairs with both words in the vocabulary.

    Pairs come from one section, so they share a relation: a gender-like section if there is one
    (named "family" or containing "male", "female", "gender"), else the first section; when that
    section has no in-vocabulary pair, the next section in file order is tried. Words are
    returned as spelled in the vocabulary.
    """
    questions = read_analogies(path)
    sections = list(dict.fromkeys(questions.sections))
    preferred = [s for s in sections if any(h in s.lower() for h in GENDER_HINTS)]
    for section in preferred + [s for s in sections if s not in preferred]:
        found: dict[tuple[str, str], None] = {}
        for name, (a, b, c, d) in zip(questions.sections, questions.words, strict=True):
            if name != section:
                continue
            for first, second in ((a, b), (c, d)):
                i, j = vectors.lookup(first), vectors.lookup(second)
                if i is not None and j is not None and i != j:
                    found.setdefault((vectors.words[i], vectors.words[j]), None)
            if len(found) >= max_pairs:
                break
        if found:
            return list(found)[:max_pairs]
    return []


def plot_probe_matrix(matrix: dict, path: str | Path, title: str = "") -> Path:
    """Heatmap of `probe_matrix`: rows levels, columns probes, colour the linear-probe accuracy.

    Cells print the linear and k-NN accuracies; column labels give the chance rate. Parent
    directories are created.
    """
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


def plot_loss(workdir: Path) -> None:
    """plots/loss.png: the training loss and learning rate from metrics.jsonl."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("loss") is not None]
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, loss_axis = plt.subplots(figsize=(6, 3.5))
    loss_axis.plot(steps, [r["loss"] for r in rows], color="tab:blue")
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("loss per pair", color="tab:blue")
    lr_axis = loss_axis.twinx()
    lr_axis.plot(steps, [r["learning_rate"] for r in rows], color="tab:orange", alpha=0.6)
    lr_axis.set_ylabel("learning rate", color="tab:orange")
    fig.tight_layout()
    (workdir / "plots").mkdir(exist_ok=True)
    fig.savefig(workdir / "plots" / "loss.png", dpi=120)
    plt.close(fig)
