"""Sentence similarity: Spearman rho between human scores and the cosine of sentence vectors.

Two sources:

* a local file in the STS Benchmark format (``sts-train.csv``, ``sts-dev.csv``,
  ``sts-test.csv``): tab-separated, no header, columns read by position ``genre, file, year, id,
  score, sentence1, sentence2`` and possibly extra source columns after them. Sentences contain
  unbalanced quote characters, so lines are split on tabs only, never unquoted as CSV;
* a hub dataset ``hf:NAME[:CONFIG[:SPLIT]]`` with columns ``sentence1``, ``sentence2`` and
  ``score`` (``label`` is accepted when there is no ``score``), loaded with
  ``datasets.load_dataset``, e.g. ``hf:sentence-transformers/stsb`` (CONFIG may be left empty:
  ``hf:sentence-transformers/stsb::test``). The default split is ``validation``: the test split
  of a benchmark is for the final evaluation, so it must be asked for by name. MTEB's STS sets
  have this layout: ``hf:mteb/stsbenchmark-sts::test``, ``hf:mteb/sts12-sts::test`` ...
  ``hf:mteb/sts16-sts::test``, ``hf:mteb/sickr-sts::test``, ``hf:mteb/biosses-sts::test``
  (STS12-15, SICK-R and BIOSSES have only a test split; scores 0-5, SICK-R 1-5, BIOSSES 0-4:
  rank and linear correlations do not depend on the scale);
* a local ``.jsonl`` / ``.json`` / ``.parquet`` file (``.gz`` allowed) in that layout, e.g. a
  downloaded MTEB file, loaded through ``datasets`` exactly as the hub datasets are.

The data are read when the evaluator is made, so a missing file or an unreachable hub fails
before training starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from research.errors import UserError
from research.eval.common import EvalResult, benchmark_lines, pearson, spearman
from research.eval.encoder_api import TextEncoder, embed_sentences, paired_cosine
from research.eval.geometry import alignment, positive_pairs, uniformity

FORMAT = (
    "STS Benchmark format: tab-separated 'genre file year id score sentence1 sentence2' lines "
    "(no header, extra columns after sentence2 allowed), a .jsonl/.parquet file with columns "
    "sentence1, sentence2, score, or a hub name hf:NAME[:CONFIG[:SPLIT]]"
)
HUB_PREFIX = "hf:"
DEFAULT_HUB_SPLIT = "validation"


@dataclass
class ScoredPairs:
    scores: np.ndarray  # float64 gold scores
    sentences1: list[str]
    sentences2: list[str]


def read_sts_file(path: str | Path) -> ScoredPairs:
    """Parse an STS Benchmark file by column position; blank lines are skipped."""
    path = Path(path).expanduser()
    scores: list[float] = []
    s1: list[str] = []
    s2: list[str] = []
    for line_no, line in benchmark_lines(path, FORMAT):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 7:
            raise UserError(
                f"{path}:{line_no}: {len(cols)} tab-separated columns, at least 7 needed; "
                f"expected the {FORMAT}"
            )
        try:
            score = float(cols[4])
        except ValueError:
            score = float("nan")
        if not np.isfinite(score):
            raise UserError(
                f"{path}:{line_no}: score (5th column) {cols[4]!r} is not a number; "
                f"expected the {FORMAT}"
            )
        if not cols[5].strip() or not cols[6].strip():
            raise UserError(f"{path}:{line_no}: empty sentence; expected the {FORMAT}")
        scores.append(score)
        s1.append(cols[5])
        s2.append(cols[6])
    if not scores:
        raise UserError(f"{path}: no sentence pairs (empty file?); expected the {FORMAT}")
    return ScoredPairs(np.array(scores, dtype=np.float64), s1, s2)


def parse_hub_name(source: str) -> tuple[str, str | None, str]:
    """'hf:NAME[:CONFIG[:SPLIT]]' -> (NAME, CONFIG or None, SPLIT or the default split)."""
    parts = source[len(HUB_PREFIX) :].split(":")
    if not parts[0] or len(parts) > 3:
        raise UserError(
            f"malformed hub name {source!r}; expected hf:NAME[:CONFIG[:SPLIT]], "
            f"e.g. hf:sentence-transformers/stsb"
        )
    name = parts[0]
    config = parts[1] if len(parts) > 1 and parts[1] else None
    split = parts[2] if len(parts) > 2 and parts[2] else DEFAULT_HUB_SPLIT
    return name, config, split


def _is_unreachable(err: BaseException) -> bool:
    """True for errors that mean the hub could not be contacted (offline mode, no network)."""
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    names = " ".join(cls.__name__ for cls in type(err).__mro__).lower()
    return any(word in names for word in ("offline", "connection", "timeout"))


def _offline_env() -> bool:
    flags = (os.environ.get(v, "") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def _import_datasets(source: str):
    try:
        import datasets  # heavy; only hub and json/parquet sources need it
    except ImportError:
        raise UserError(
            f"{source}: the 'datasets' package is not installed; pip install datasets, or pass "
            f"a local STS Benchmark file"
        ) from None
    return datasets


def read_sts_hub(source: str) -> ScoredPairs:
    """Load hf:NAME[:CONFIG[:SPLIT]] via `datasets`; failures become one-line UserErrors."""
    name, config, split = parse_hub_name(source)
    datasets = _import_datasets(source)
    try:
        data = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # whatever the hub client raises becomes one line
        if _is_unreachable(err) or (_offline_env() and not isinstance(err, ValueError)):
            raise UserError(
                f"cannot reach the hub for {name}; pass a local path or go online"
            ) from None
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(
            f"cannot load hub dataset {source!r} ({first}); check NAME, CONFIG and SPLIT "
            f"(hf:NAME[:CONFIG[:SPLIT]]) or pass a local STS Benchmark file"
        ) from None
    return pairs_from_dataset(data, f"hub dataset {source!r}")


def read_sts_table(path: str | Path) -> ScoredPairs:
    """A local .jsonl / .json / .parquet file (optionally .gz) in the hub layout (columns
    sentence1, sentence2, score), loaded with `datasets` as the hub path loads hub datasets:
    MTEB's STS sets downloaded as files read the same as their hf: names."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"benchmark file {path} does not exist; pass a file in the {FORMAT}")
    builder = "parquet" if ".parquet" in path.suffixes else "json"
    datasets = _import_datasets(str(path))
    datasets.disable_progress_bars()
    try:
        data = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as err:  # a malformed file becomes one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(
            f"{path}: cannot read it as {builder} ({first}); expected the {FORMAT}"
        ) from None
    return pairs_from_dataset(data, str(path))


def pairs_from_dataset(data, what: str) -> ScoredPairs:
    """The pairs of a `datasets.Dataset` with columns sentence1, sentence2 and score (or label).

    Scores are kept on the dataset's own scale (MTEB: STS12-16 and STS-B 0-5, SICK-R 1-5,
    BIOSSES 0-4); Spearman and Pearson do not depend on it.
    """
    columns = list(data.column_names)
    score_col = "score" if "score" in columns else "label" if "label" in columns else None
    if score_col is None or "sentence1" not in columns or "sentence2" not in columns:
        raise UserError(
            f"{what} has columns {', '.join(columns)}; expected sentence1, sentence2 and score"
        )
    try:
        scores = np.asarray(data[score_col], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{what}: column {score_col!r} holds values that are not numbers") from None
    if len(scores) == 0:
        raise UserError(f"{what} has no rows")
    if not np.all(np.isfinite(scores)) or (score_col == "label" and np.all(scores < 0)):
        raise UserError(f"{what} has missing scores (a hidden test split?)")
    return ScoredPairs(scores, list(data["sentence1"]), list(data["sentence2"]))


TABLE_SUFFIXES = (".jsonl", ".json", ".parquet")


def read_scored_pairs(source: str | Path) -> ScoredPairs:
    """A hub dataset when `source` starts with 'hf:', a local file in the hub layout when it
    ends in .jsonl, .json or .parquet (optionally .gz), else an STS Benchmark file."""
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        return read_sts_hub(source)
    suffixes = [s for s in Path(source).suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in TABLE_SUFFIXES:
        return read_sts_table(source)
    return read_sts_file(source)


def unique_rows(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """The rows of `vectors` for the first occurrence of each distinct text."""
    first = {text: i for i, text in reversed(list(enumerate(texts)))}
    return vectors[sorted(first.values())]


@dataclass
class SentenceSimilarity:
    """Evaluator: Spearman rho (and Pearson r) of sentence-vector cosines against gold scores."""

    reads: ClassVar[str] = "sentences"  # what it embeds: one vector per text

    name: str
    path: str | Path
    data: ScoredPairs = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.data = read_scored_pairs(self.path)

    def run(self, model: TextEncoder) -> EvalResult:
        d = self.data
        n = len(d.scores)
        vectors = embed_sentences(model, d.sentences1 + d.sentences2)
        cosines = paired_cosine(vectors[:n], vectors[n:]).astype(np.float64)
        positives = positive_pairs(d.scores)
        metrics: dict[str, float] = {
            "spearman": spearman(d.scores, cosines),
            "pearson": pearson(d.scores, cosines),
            "pairs": n,
            # SimCSE's geometry of the space (lower is better for both): see eval/geometry.py.
            "alignment": alignment(vectors[:n][positives], vectors[n:][positives]),
            "uniformity": uniformity(unique_rows(vectors, d.sentences1 + d.sentences2)),
        }
        return EvalResult(metrics=metrics)
