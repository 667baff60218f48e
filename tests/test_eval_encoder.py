"""Contextual evaluators (sense, STS, retrieval, polysemy) with tiny fake encoders and fixtures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from research.errors import UserError
from research.eval import EVALUATORS, make_evaluator, run_evaluators
from research.eval.encoder_api import (
    TextEncoder,
    cosine_matrix,
    embed_sentences,
    embed_spans,
    paired_cosine,
)
from research.eval.polysemy import (
    nearest_centroid_accuracy,
    nearest_centroid_predictions,
    plot_polysemy,
    read_sense_examples,
    sense_separation,
)
from research.eval.retrieval import Retrieval, gold_ranks, retrieval_metrics
from research.eval.sense import (
    WIC_COLUMNS,
    WordSense,
    accuracy_at,
    best_threshold,
    overlap_scores,
    read_sense_pairs,
    roc_auc,
)
from research.eval.sts import SentenceSimilarity, parse_hub_name, read_sts_file


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- fake encoders


class TableEncoder:
    """Vectors looked up by the whole text; spans must cover `target` when it is given."""

    def __init__(self, table: dict[str, list[float]], target: str | None = None):
        self.table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}
        self.target = target
        self.calls: list[int] = []

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self.table[t] for t in texts])

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        if self.target is not None:
            assert all(t[s:e] == self.target for t, (s, e) in zip(texts, spans, strict=True))
        return self.embed_sentences(texts)


class BagOfWords:
    """Counts of a fixed vocabulary; span vectors count only the sentence's context words."""

    def __init__(self, vocab: list[str]):
        self.index = {w: i for i, w in enumerate(vocab)}

    def _vector(self, words: list[str]) -> np.ndarray:
        v = np.zeros(len(self.index), dtype=np.float32)
        for w in words:
            if w in self.index:
                v[self.index[w]] += 1
        return v

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(re.findall(r"\w+", t.lower())) for t in texts])

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        return np.stack(
            [self._vector(re.findall(r"\w+", (t[:s] + " " + t[e:]).lower()))
             for t, (s, e) in zip(texts, spans, strict=True)]
        )  # fmt: skip


def unit_at_cosine(c: float) -> list[float]:
    """A 2-D unit vector whose cosine with (1, 0) is c."""
    return [c, float(np.sqrt(1 - c * c))]


def test_fakes_satisfy_the_protocol():
    assert isinstance(TableEncoder({}), TextEncoder)
    assert isinstance(BagOfWords(["a"]), TextEncoder)


def test_embed_helpers_embed_each_distinct_text_once():
    model = TableEncoder({"a": [1, 0], "b": [0, 2]})
    out = embed_sentences(model, ["a", "b", "a", "a"])
    assert model.calls == [2]
    assert out.shape == (4, 2) and out.dtype == np.float32
    spans = embed_spans(model, ["a", "b", "a"], [(0, 1), (0, 1), (0, 1)])
    assert spans.tolist() == [[1, 0], [0, 2], [1, 0]] and model.calls[-1] == 2
    assert paired_cosine(np.array([[1, 0], [0, 0]]), np.array([[2, 0], [1, 1]])).tolist() == [1, 0]
    assert cosine_matrix(np.array([[1.0, 0]]), np.array([[0, 3.0], [-1, 0]])).tolist() == [[0, -1]]


def test_embed_helpers_reject_wrong_shapes():
    class Broken:
        def embed_sentences(self, texts):
            return np.zeros((len(texts) + 1, 3))

        def embed_spans(self, texts, spans):
            return np.zeros(len(texts))

    with pytest.raises(ValueError, match="shape"):
        embed_sentences(Broken(), ["a"])
    with pytest.raises(ValueError, match="shape"):
        embed_spans(Broken(), ["a"], [(0, 1)])


# ----------------------------------------------------------------------------- word sense

WIC_HEADER = "\t".join(WIC_COLUMNS)


def wic_row(i: int, split: str, label: int, s1: str, s2: str, start2: int = 0) -> str:
    cells = [f"p{i}", split, "bank", "n", str(label), "0", "bank.n.01", "bank.n.02", "noun.group",
             "noun.object", "0", "4", str(start2), str(start2 + 4), s1, s2]  # fmt: skip
    return "\t".join(cells)


# (split, label, sentence1, sentence2, cosine of the target word's two vectors)
WIC_PAIRS = [
    ("dev", 1, "bank river water", "bank river mud", 0.9),  # word overlap 2/4
    ("dev", 1, "bank money cash", "bank money loan", 0.8),  # 2/4
    ("dev", 0, "bank river fish", "bank loan rate", 0.2),  # 1/5
    ("dev", 0, "bank shore sand", "bank fee card", 0.4),  # 1/5
    ("test", 1, "bank a b", "bank c d", 0.5),  # 1/5
    ("test", 1, "bank e f", "bank g h", 0.45),  # 1/5
    ("test", 0, "bank i j k", "bank i j l", 0.1),  # 3/5
    ("test", 0, "bank m n o", "bank m n p", 0.2),  # 3/5
    ("train", 1, "bank q", "bank r", -1.0),  # never used: only dev tunes, only test scores
]


def wic_fixture(tmp_path: Path, pairs=WIC_PAIRS) -> tuple[Path, TableEncoder]:
    lines = [WIC_HEADER] + [
        wic_row(i, split, label, s1, s2) for i, (split, label, s1, s2, _) in enumerate(pairs)
    ]
    table = {}
    for _, _, s1, s2, cos in pairs:
        table[s1], table[s2] = [1.0, 0.0], unit_at_cosine(cos)
    return write(tmp_path / "wic.tsv", "\n".join(lines) + "\n"), TableEncoder(table, "bank")


def test_roc_auc_matches_hand_computed_value_with_ties():
    # Positives 0.4, 0.8 vs negatives 0.1, 0.4, 0.4: wins 1 + 3, ties 2 x 1/2 -> 5 / 6.
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.4])
    labels = np.array([0, 1, 0, 1, 0])
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)
    assert roc_auc(np.array([1.0, 2.0]), np.array([0, 1])) == 1.0
    assert roc_auc(np.array([1.0, 2.0]), np.array([1, 0])) == 0.0
    assert roc_auc(np.array([3.0, 3.0]), np.array([1, 0])) == 0.5
    assert np.isnan(roc_auc(np.array([1.0, 2.0]), np.array([1, 1])))


def test_best_threshold_maximises_accuracy_at_a_midpoint():
    threshold, acc = best_threshold(np.array([0.9, 0.8, 0.2, 0.4]), np.array([1, 1, 0, 0]))
    assert threshold == pytest.approx(0.6) and acc == 1.0
    # All positive is best: the threshold sits below every score.
    threshold, acc = best_threshold(np.array([0.3, 0.5, 0.1]), np.array([1, 1, 1]))
    assert threshold < 0.1 and acc == 1.0
    # All negative is best: above every score.
    threshold, acc = best_threshold(np.array([0.3, 0.5]), np.array([0, 0]))
    assert threshold > 0.5 and acc == 1.0
    # Ties in scores move together; 2 of 3 right either way, the lowest candidate wins.
    threshold, acc = best_threshold(np.array([0.5, 0.5, 0.7]), np.array([1, 0, 1]))
    assert acc == pytest.approx(2 / 3) and threshold < 0.5
    assert accuracy_at(np.array([0.5, 0.5, 0.7]), np.array([1, 0, 1]), 0.6) == pytest.approx(2 / 3)


def test_overlap_scores_are_jaccard_of_lowercase_word_sets():
    scores = overlap_scores(
        ["The bank of the river.", "Bank it!", "a"], ["the BANK said no", "bank it", "b"]
    )
    # {the, bank, of, river} vs {the, bank, said, no}: 2 shared of 6; identical sets; disjoint.
    assert scores.tolist() == pytest.approx([2 / 6, 1.0, 0.0])


def test_word_sense_threshold_is_chosen_on_dev_and_applied_to_test(tmp_path):
    path, model = wic_fixture(tmp_path)
    result = make_evaluator("word_sense", name="wic", path=str(path)).run(model)
    m = result.metrics
    # Dev cosines 0.9, 0.8 (same) vs 0.2, 0.4 (different): threshold 0.6, perfect on dev.
    assert m["threshold"] == pytest.approx(0.6, abs=1e-6)
    # On test the same-sense cosines are 0.5 and 0.45, below 0.6: half right, though the test
    # pairs alone would be perfectly separable (ROC-AUC 1).
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(1.0)
    assert (m["pairs"], m["tune_pairs"], m["eval_on_test"]) == (4, 4, 1)
    # Overlap: dev 0.5 (same) vs 0.2 (different) -> threshold 0.35; test is reversed -> 0.
    assert m["baseline_overlap_accuracy"] == pytest.approx(0.0)
    assert m["baseline_overlap_roc_auc"] == pytest.approx(0.0)
    assert m["baseline_majority_accuracy"] == pytest.approx(0.5)
    assert "Evaluation split: **test**" in result.markdown
    assert "word overlap" in result.markdown


def test_word_sense_without_test_split_scores_dev_and_says_so(tmp_path):
    dev_only = [p for p in WIC_PAIRS if p[0] != "test"]
    path, model = wic_fixture(tmp_path, dev_only)
    result = WordSense("wic", path).run(model)
    assert result.metrics["accuracy"] == 1.0 and result.metrics["eval_on_test"] == 0
    assert "no test split" in result.markdown and "**dev**" in result.markdown
    with pytest.raises(UserError, match="no 'validation' rows.*splits present: dev, train"):
        WordSense("wic", path, tune_split="validation")
    with pytest.raises(UserError, match="no 'test' rows"):
        WordSense("wic", path, eval_split="test")


def test_word_sense_reads_offsets_of_the_target_word(tmp_path):
    line = wic_row(0, "dev", 1, "the bank", "a bank here", start2=2)
    line = line.replace("\t0\t4\t2\t6\t", "\t4\t8\t2\t6\t")
    path = write(tmp_path / "w.tsv", f"{WIC_HEADER}\n{line}\n")
    pairs = read_sense_pairs(path)
    assert pairs.spans1 == [(4, 8)] and pairs.spans2 == [(2, 6)]
    assert pairs.sentences1[0][4:8] == "bank" and pairs.labels.tolist() == [1]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("id\tsplit\tlemma\n", 1, "lacks column"),
        (f"{WIC_HEADER}\n{wic_row(0, 'dev', 2, 'bank a', 'bank b')}\n", 2, "not 0 or 1"),
        (
            f"{WIC_HEADER}\n{wic_row(0, 'dev', 1, 'bank a', 'bank b')}\n"
            f"{wic_row(1, 'dev', 1, 'bank a', 'ban', start2=0)}\n",
            3,
            "outside the sentence",
        ),
        (f"{WIC_HEADER}\n\n{wic_row(0, 'dev', 1, 'bank a', 'bank b')}\textra\n", 3, "cells"),
        (
            f"{WIC_HEADER}\n"
            + wic_row(0, "dev", 1, "bank a", "bank b").replace("\t0\t4", "\tx\t4"),
            2,
            "not integers",
        ),
    ],
)
def test_malformed_wic_files_name_file_and_line(tmp_path, body, line, message):
    path = write(tmp_path / "bad.tsv", body)
    with pytest.raises(UserError, match=message) as err:
        WordSense("wic", path)
    assert f"{path}:{line}:" in str(err.value)


# ----------------------------------------------------------------------------- STS

STS_VOCAB = ["w1", "w2", "w3", "w4", "x1", "x2", "x3", "x4"]


def sts_line(score: float, s1: str, s2: str, extra: str = "") -> str:
    return "\t".join(["main-news", "headlines", "2016", "0001", f"{score:.3f}", s1, s2]) + extra


def test_sts_spearman_with_a_fake_encoder(tmp_path):
    # Sentence 2 shares k of 4 words with sentence 1; the gold score is k, so bag-of-words
    # cosine (k / 4) ranks the pairs exactly as the gold scores do.
    lines = [
        sts_line(
            float(k),
            "w1 w2 w3 w4",
            " ".join(["w1", "w2", "w3", "w4"][:k] + ["x1", "x2", "x3", "x4"][k:]),
        )  # fmt: skip
        for k in (2, 0, 4, 1, 3)
    ]
    path = write(tmp_path / "sts-dev.csv", "\n".join(lines) + "\n")
    m = make_evaluator("sentence_similarity", name="sts", path=path).run(BagOfWords(STS_VOCAB))
    assert m.metrics["spearman"] == pytest.approx(1.0)
    assert m.metrics["pearson"] == pytest.approx(1.0)
    assert m.metrics["pairs"] == 5


def test_sts_file_with_extra_columns_and_quotes_parses(tmp_path):
    source = "\tEurope Media Monitor (http://emm.newsbrief.eu)\tEurope Media Monitor"
    text = "\n".join(
        [
            sts_line(5, 'He said "yes', "He said yes"),
            sts_line(1.5, "A man plays.", 'A "quoted" cat', extra=source),
            "",
        ]
    )
    data = read_sts_file(write(tmp_path / "sts.csv", text))
    assert data.scores.tolist() == [5.0, 1.5]
    assert data.sentences1 == ['He said "yes', "A man plays."]
    assert data.sentences2 == ["He said yes", 'A "quoted" cat']


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (sts_line(1, "a", "b") + "\nmain\tfile\t2012\t1\t3.0\tone sentence\n", 2, "at least 7"),
        (sts_line(1, "a", "b").replace("1.000", "high"), 1, "not a number"),
        ("", None, "no sentence pairs"),
    ],
)
def test_malformed_sts_files_are_user_errors(tmp_path, body, line, message):
    path = write(tmp_path / "bad.csv", body)
    with pytest.raises(UserError, match=message) as err:
        SentenceSimilarity("sts", path)
    if line is not None:
        assert f"{path}:{line}:" in str(err.value)


def test_sts_hub_names_parse():
    assert parse_hub_name("hf:sentence-transformers/stsb") == (
        "sentence-transformers/stsb",
        None,
        "validation",
    )
    assert parse_hub_name("hf:glue:stsb:test") == ("glue", "stsb", "test")
    assert parse_hub_name("hf:org/ds::train") == ("org/ds", None, "train")
    with pytest.raises(UserError, match="malformed hub name"):
        parse_hub_name("hf:")


def test_sts_hub_name_offline_is_a_one_line_user_error(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as err:
        SentenceSimilarity("sts", "hf:strata-tests/no-such-sts-set")
    message = str(err.value)
    assert message == (
        "cannot reach the hub for strata-tests/no-such-sts-set; pass a local path or go online"
    )


# ----------------------------------------------------------------------------- retrieval

RETRIEVAL_TABLE = {
    "cat": [1, 0, 0],
    "dog": [0, 1, 0],
    "car": [0, 0, 1],
    "a small pet that purrs": [1, 0.5, 0.1],  # cat first
    "a pet that barks": [1, 0.6, 0],  # dog second, after cat
    "a vehicle with wheels": [0.5, 0.4, 0.3],  # car third
    "a feline": [0.9, 0, 0.2],  # cat first again
}


def retrieval_fixture(tmp_path: Path) -> Path:
    rows = [
        ("a small pet that purrs", "cat"),
        ("a pet that barks", "dog"),
        ("a vehicle with wheels", "car"),
        ("a feline", "cat"),
    ]
    text = "id\tquery\ttarget\n" + "".join(f"{i}\t{q}\t{t}\n" for i, (q, t) in enumerate(rows))
    return write(tmp_path / "retrieval.tsv", text)


def test_retrieval_recall_and_mrr_by_hand(tmp_path):
    evaluator = make_evaluator(
        "retrieval", name="toy", path=retrieval_fixture(tmp_path), ks=[1, 2, 10]
    )
    result = evaluator.run(TableEncoder(RETRIEVAL_TABLE))
    m = result.metrics
    # Gold ranks 1, 2, 3, 1 among the 3 distinct targets.
    assert evaluator.ranks(TableEncoder(RETRIEVAL_TABLE)).tolist() == [1, 2, 3, 1]
    assert m["recall@1"] == pytest.approx(2 / 4)
    assert m["recall@2"] == pytest.approx(3 / 4)
    assert m["recall@10"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1) / 4)
    assert (m["queries"], m["candidates"]) == (4, 3)
    assert "4 queries" in result.markdown


def test_retrieval_ranks_ties_pessimistically():
    scores = np.array([[0.5, 0.5, 0.5], [0.9, 0.1, 0.9]])
    assert gold_ranks(scores, np.array([0, 1])).tolist() == [3, 3]
    assert retrieval_metrics(np.array([1, 4]), (1, 5)) == {
        "recall@1": 0.5, "recall@5": 1.0, "mrr": pytest.approx(0.625)
    }  # fmt: skip


def test_retrieval_reads_def2word_columns_and_split(tmp_path):
    header = "lemma\tpos\tsynset\tlexname\tzipf\tdefinition\tsplit\n"
    rows = [
        ("cat", "n", "a small pet that purrs", "dev"),
        ("dog", "n", "a pet that barks", "dev"),
        ("car", "n", "a vehicle with wheels", "train"),
        ("cat", "v", "a feline", "dev"),
    ]
    body = "".join(f"{w}\t{p}\t{w}.{p}.01\tnoun.animal\t4.5\t{d}\t{s}\n" for w, p, d, s in rows)
    path = write(tmp_path / "def2word.tsv", header + body)
    model = TableEncoder(RETRIEVAL_TABLE)
    dev = Retrieval("d2w", path, query_column="definition", target_column="lemma", split="dev")
    m = dev.run(model).metrics
    assert (m["queries"], m["candidates"]) == (3, 2)  # car is in train only
    assert m["recall@1"] == pytest.approx(2 / 3)  # the barking pet is nearer cat than dog
    every = Retrieval("d2w", path, query_column="definition", target_column="lemma")
    assert every.run(model).metrics["candidates"] == 3
    with pytest.raises(UserError, match="lacks column.*query") as err:
        Retrieval("d2w", path)
    assert f"{path}:1:" in str(err.value)
    with pytest.raises(UserError, match="splits present: dev, train"):
        Retrieval("d2w", path, query_column="definition", target_column="lemma", split="test")
    with pytest.raises(UserError, match="ks must be positive"):
        Retrieval("d2w", path, query_column="definition", target_column="lemma", ks=[0])


def test_malformed_retrieval_rows_name_the_line(tmp_path):
    path = write(tmp_path / "r.tsv", "query\ttarget\nsome text\tcat\n\t dog\n")
    with pytest.raises(UserError, match="empty 'query' cell") as err:
        Retrieval("r", path)
    assert f"{path}:3:" in str(err.value)


# ----------------------------------------------------------------------------- polysemy

POLYSEMY_ROWS = [
    ("bank", "bank.n.01", "river", "the bank of the river was muddy"),
    ("bank", "bank.n.01", "river", "we sat on the grassy bank by the water"),
    ("bank", "bank.n.01", "river", "fish swam near the river bank"),
    ("bank", "bank.n.02", "finance", "the bank raised its interest rates"),
    ("bank", "bank.n.02", "finance", "she deposited money at the bank"),
    ("bank", "bank.n.02", "finance", "the bank approved the loan"),
    ("bass", "bass.n.01", "fish", "he caught a bass"),
    ("bass", "bass.n.07", "music", "the bass was too loud"),
]
# Context words of each sense point one way; the rest of the sentence adds a little noise.
RIVER_WORDS = {"river", "water", "muddy", "grassy", "fish"}
MONEY_WORDS = {"money", "loan", "interest", "rates", "deposited"}


def polysemy_fixture(tmp_path: Path) -> Path:
    lines = ["lemma\tsense\ttopic\tstart\tend\tsentence"]
    for lemma, sense, topic, sentence in POLYSEMY_ROWS:
        start = sentence.index(lemma)
        lines.append(f"{lemma}\t{sense}\t{topic}\t{start}\t{start + len(lemma)}\t{sentence}")
    return write(tmp_path / "polysemy.tsv", "\n".join(lines) + "\n")


class SenseEncoder:
    """A span's vector points to "river" or "money" by its context words, plus a little noise."""

    def embed_sentences(self, texts):
        raise AssertionError("sense evaluators embed spans, not sentences")

    def embed_spans(self, texts, spans):
        out = []
        for text, (s, e) in zip(texts, spans, strict=True):
            assert text[s:e] in ("bank", "bass")
            words = set(re.findall(r"\w+", (text[:s] + " " + text[e:]).lower()))
            noise = np.random.default_rng(len(text)).normal(0, 0.1, 2)
            out.append([len(words & RIVER_WORDS), len(words & MONEY_WORDS), 0.5] + [*noise])
        return np.array(out, dtype=np.float32)


def test_nearest_centroid_accuracy_leaves_each_point_out():
    vectors = np.array([[1, 0.1], [1, -0.1], [0.1, 1], [-0.1, 1], [1, 0]], dtype=np.float32)
    senses = ["a", "a", "b", "b", "c"]
    # Left out, each "a" point is compared with the other "a" point (cosine 0.98) and with
    # "c" at (1, 0) (cosine 0.995), so it goes to "c"; "c" alone cannot be judged (-1).
    assert nearest_centroid_predictions(vectors, senses).tolist() == [2, 2, 1, 1, -1]
    assert nearest_centroid_accuracy(vectors, senses) == (0.5, 4)
    assert nearest_centroid_accuracy(vectors[:4], senses[:4]) == (1.0, 4)
    accuracy, judged = nearest_centroid_accuracy(vectors[:2], ["a", "a"])
    assert np.isnan(accuracy) and judged == 0


def test_sense_separation_on_separable_senses(tmp_path):
    path = polysemy_fixture(tmp_path)
    metrics = sense_separation(SenseEncoder(), path, "bank")
    assert metrics == {"accuracy": 1.0, "majority_baseline": 0.5, "lemmas": 1, "examples": 6}
    # All lemmas: "bass" has two senses of one example each, so nothing of it can be judged.
    pooled = sense_separation(SenseEncoder(), path)
    assert (pooled["lemmas"], pooled["examples"], pooled["accuracy"]) == (2, 6, 1.0)
    result = make_evaluator("sense_separation", name="poly", path=path).run(SenseEncoder())
    assert result.metrics["accuracy"] == 1.0 and "majority-sense baseline" in result.markdown


def test_plot_polysemy_writes_a_png_for_the_most_frequent_lemma(tmp_path):
    path = polysemy_fixture(tmp_path)
    out = plot_polysemy(SenseEncoder(), path, None, tmp_path / "plots" / "bank.png")
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserError, match="no examples of 'plant'"):
        plot_polysemy(SenseEncoder(), path, "plant", tmp_path / "x.png")


def test_malformed_polysemy_file_names_the_line(tmp_path):
    path = write(
        tmp_path / "p.tsv",
        "lemma\tsense\ttopic\tstart\tend\tsentence\nbank\ts1\tt\t0\t4\tbank\nbank\ts2\tt\t3\t9\tbank\n",
    )
    with pytest.raises(UserError, match="outside the sentence") as err:
        read_sense_examples(path)
    assert f"{path}:3:" in str(err.value)


# ----------------------------------------------------------------------------- registry


def test_contextual_evaluators_are_registered_and_run_together(tmp_path):
    assert {"word_sense", "sentence_similarity", "retrieval", "sense_separation"} <= set(EVALUATORS)
    assert {"word_similarity", "analogy", "nearest_neighbours"} <= set(EVALUATORS)
    evaluators = [make_evaluator("retrieval", name="toy", path=retrieval_fixture(tmp_path))]
    results, markdown = run_evaluators(evaluators, TableEncoder(RETRIEVAL_TABLE))
    assert results["toy/queries"] == 4 and isinstance(results["toy/queries"], int)
    assert results["toy/recall@1"] == pytest.approx(0.5)
    assert "### toy: retrieval" in markdown
    with pytest.raises(UserError, match="valid options: path, query_column"):
        make_evaluator("retrieval", name="toy", path="x.tsv", column="q")


def test_identical_vectors_score_chance_in_sense_separation():
    """A static word vector is the same in every sentence: rounding must not fake separation."""
    from research.eval.polysemy import nearest_centroid_accuracy

    vector = np.random.default_rng(0).normal(size=(1, 8))
    accuracy, judged = nearest_centroid_accuracy(np.tile(vector, (90, 1)), ["a"] * 45 + ["b"] * 45)
    assert judged == 90 and accuracy == pytest.approx(0.5)
