"""Level probes: k-NN and linear probes, probe files and the level x probe matrix."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from research.errors import UserError
from research.eval import EVALUATORS, make_evaluator, run_evaluators
from research.eval.classifiers import (
    chance_rate,
    fit_linear_probe,
    knn_predict,
    make_probe,
    probe_scores,
    stratified_folds,
)
from research.eval.plots import plot_probe_matrix
from research.eval.probes import (
    LevelEncoder,
    LevelProbes,
    as_level_encoder,
    best_levels,
    embed_level,
    ladder_probes,
    probe_matrix,
    topic_probe,
)

# ----------------------------------------------------------------------------- fixtures

# Lemma group -> the ladder of its lemmas; "fern" ladders are one step short of depth 3.
LADDERS = {
    "dog": "canine|mammal|animal",
    "cat": "feline|mammal|animal",
    "oak": "tree|plant|organism",
    "fern": "fern|plant",
}
TOPICS = ("water", "finance", "sports", "music")


def noise(text: str, dim: int, scale: float = 1.0) -> np.ndarray:
    """A fixed pseudo-random vector per text."""
    return np.random.default_rng(zlib.crc32(text.encode())).normal(0.0, scale, dim)


def write_ladder(path: Path, per_class: int = 24, test_every: int = 3) -> Path:
    """Lemmas w<i>_<class> with ladders nearest first; every third lemma is a test item."""
    lines = ["lemma\tpos\tladder_words\tsplit"]
    i = 0
    for name, ladder in LADDERS.items():
        for _ in range(per_class):
            split = "test" if i % test_every == 0 else ("dev" if i % test_every == 1 else "train")
            lines.append(f"w{i}x{name}\tn\t{ladder}\t{split}")
            i += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_documents(path: Path, per_topic: int = 20) -> Path:
    """Documents whose sentences name their topic; the first sentence is topic-free."""
    lines = []
    for i in range(per_topic * len(TOPICS)):
        topic = TOPICS[i % len(TOPICS)]
        sentences = [f"filler sentence {i}", f"about {topic} number {i}", "more"]
        lines.append(json.dumps({"doc_id": i, "topic": topic, "sentences": sentences}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def depth1_of(text: str) -> str | None:
    """The fixture lemma's depth-1 ancestor (from its name), None for other texts."""
    for name, ladder in LADDERS.items():
        if text.endswith("x" + name):
            return ladder.split("|")[0]
    return None


def topic_of(text: str) -> str | None:
    for topic in TOPICS:
        if f"about {topic} " in text:
            return topic
    return None


class TwoLevels:
    """Level "A" encodes a lemma's depth-1 ancestor, level "B" a document's topic, plus noise."""

    levels = ("A", "B")

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.depth1 = sorted({ladder.split("|")[0] for ladder in LADDERS.values()})

    def embed_level(self, texts: list[str], level: str) -> np.ndarray:
        self.calls.append((len(texts), level))
        out = []
        for text in texts:
            v = noise(text + level, 8, 0.3)
            if level == "A" and depth1_of(text) is not None:
                v[self.depth1.index(depth1_of(text))] += 3.0
            if level == "B" and topic_of(text) is not None:
                v[4 + TOPICS.index(topic_of(text))] += 3.0
            out.append(v)
        return np.array(out, dtype=np.float32)


class SentenceOnly:
    """A plain TextEncoder: one vector per text, encoding the depth-1 ancestor or the topic."""

    def __init__(self) -> None:
        self.inner = TwoLevels()

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_level(texts, "A") + self.inner.embed_level(texts, "B")

    def embed_spans(self, texts, spans):
        raise AssertionError("level probes embed whole texts")


def clusters(n_per: int, n_classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_classes, dim)) * 4
    labels = np.repeat(np.arange(n_classes), n_per)
    return centres[labels] + rng.normal(0, 1, (len(labels), dim)), labels


# ----------------------------------------------------------------------------- classifiers


def test_knn_and_linear_reach_one_on_separable_clusters() -> None:
    x_train, y_train = clusters(30, 4, 10, seed=0)
    x_test, y_test = clusters(15, 4, 10, seed=0)  # same centres, fresh points below
    x_test = x_test + np.random.default_rng(1).normal(0, 0.5, x_test.shape)
    assert np.mean(knn_predict(x_train, y_train, x_test) == y_test) == 1.0
    probe = fit_linear_probe(x_train, y_train, 4)
    assert np.mean(probe.predict(x_test) == y_test) == 1.0
    assert np.mean(probe.predict(x_train) == y_train) == 1.0


def test_knn_and_linear_are_near_chance_on_random_labels() -> None:
    rng = np.random.default_rng(2)
    x_train, x_test = rng.normal(size=(300, 20)), rng.normal(size=(1000, 20))
    y_train, y_test = rng.integers(0, 4, 300), rng.integers(0, 4, 1000)
    knn = np.mean(knn_predict(x_train, y_train, x_test) == y_test)
    linear = np.mean(fit_linear_probe(x_train, y_train, 4).predict(x_test) == y_test)
    assert abs(knn - 0.25) < 0.07
    assert abs(linear - 0.25) < 0.07


def test_knn_majority_vote_and_tie_broken_by_the_nearest() -> None:
    angles = np.array([0.1, 0.2, 0.3, 0.4, 0.5])  # neighbours of the query at angle 0, in order
    train = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.array([[1], [5], [2], [1], [9]])
    query = np.array([[1.0, 0.0]])
    # Lengths differ on purpose: cosine ignores them.
    assert knn_predict(train, np.array([0, 1, 1, 0, 2]), query)[0] == 0  # 2-2 tie: nearest is 0
    assert knn_predict(train, np.array([1, 0, 0, 1, 2]), query)[0] == 1  # 2-2 tie: nearest is 1
    assert knn_predict(train, np.array([0, 1, 1, 2, 1]), query)[0] == 1  # 3 votes beat 1
    assert knn_predict(train, np.array([0, 1, 2, 3, 4]), query)[0] == 0  # all tied: the nearest
    assert knn_predict(train, np.array([0, 1, 1, 0, 2]), query, k=1)[0] == 0
    assert knn_predict(train[:2], np.array([3, 4]), query)[0] == 3  # k capped at 2 rows


def test_linear_probe_matches_a_hand_checkable_two_class_example() -> None:
    # Symmetric 1-D data: standardised x = +-1/sd, +-2/sd with sd = sqrt(2.5). By symmetry the
    # biases are equal and w1 = -w0 = d/2, where d minimises the binary logistic objective
    # mean(log(1 + exp(-y d z))) + (l2 / 2) * (d^2 / 2) with y = +-1.
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    l2 = 0.1
    probe = fit_linear_probe(x, y, 2, l2=l2, iterations=500)
    z = x[:, 0] / np.sqrt(2.5)
    signs = np.where(y == 1, 1.0, -1.0)
    grid = np.linspace(0.0, 10.0, 100_001)
    objective = [np.mean(np.log1p(np.exp(-signs * d * z))) + l2 * d * d / 4 for d in grid[::10]]
    coarse = grid[::10][int(np.argmin(objective))]
    fine = grid[(grid > coarse - 0.002) & (grid < coarse + 0.002)]
    d_best = fine[
        int(np.argmin([np.mean(np.log1p(np.exp(-signs * d * z))) + l2 * d * d / 4 for d in fine]))
    ]
    w = probe.weights[0]
    assert w[1] - w[0] == pytest.approx(d_best, abs=2e-3)
    assert w[1] == pytest.approx(-w[0], abs=1e-4)
    assert probe.bias[1] - probe.bias[0] == pytest.approx(0.0, abs=1e-4)
    assert probe.probabilities(np.array([[0.0]]))[0] == pytest.approx([0.5, 0.5], abs=1e-4)
    # P(class 1 | x = 2) is the logistic function of d * z.
    expected = 1.0 / (1.0 + np.exp(-d_best * 2.0 / np.sqrt(2.5)))
    assert probe.probabilities(np.array([[2.0]]))[0, 1] == pytest.approx(expected, abs=1e-3)
    assert probe.predict(np.array([[-0.1], [0.1], [-5.0], [5.0]])).tolist() == [0, 1, 0, 1]


def test_linear_probe_is_deterministic_and_handles_constant_features() -> None:
    x, y = clusters(10, 3, 4, seed=3)
    x = np.concatenate([x, np.full((len(x), 1), 7.0)], axis=1)  # a constant column
    a, b = fit_linear_probe(x, y, 3), fit_linear_probe(x, y, 3)
    assert np.array_equal(a.weights, b.weights)
    assert np.all(np.isfinite(a.weights))
    assert np.mean(a.predict(x) == y) == 1.0


def test_chance_rate_is_the_majority_training_label_on_test_items() -> None:
    probe = make_probe(
        "p", "f", list("abcdefgh"), list("xxxyyxyy"), list("tttttsss"), min_class_items=1
    )  # no test/dev split names -> a stratified split; set the mask by hand below
    probe.test = np.array([0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    # training labels x x x y y: majority x; test labels x y y -> 1/3
    assert chance_rate(probe) == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------- probe files


def test_ladder_probes_labels_depths_and_short_ladders(tmp_path: Path) -> None:
    path = tmp_path / "hierarchy.tsv"
    path.write_text(
        "lemma\tpos\tladder_words\tsplit\n"
        + "".join(f"dog{i}\tn\tdog|mammal|animal|entity\ttrain\n" for i in range(3))
        + "".join(f"cat{i}\tn\tcat|mammal|animal|entity\ttrain\n" for i in range(3))
        + "".join(f"oak{i}\tn\toak|tree|plant\ttrain\n" for i in range(3))
        + "".join(f"fern{i}\tn\tfern|plant\ttrain\n" for i in range(2))
        + "run\tv\tmove|act\ttrain\n"
        + "dog9\tn\tdog|mammal|animal|entity\ttest\n"
        + "oak9\tn\toak|tree|plant\ttest\n"
        + "fern9\tn\tfern|plant\tdev\n",
        encoding="utf-8",
    )
    d1, d2, d3 = ladder_probes(path, (1, 2, 3), template="the {}", min_class_items=1)
    assert [p.name for p in (d1, d2, d3)] == ["depth1", "depth2", "depth3"]
    assert d1.texts[0] == "the dog0" and d1.labels[0] == "dog"
    assert dict(zip(d2.texts, d2.labels, strict=True))["the cat1"] == "mammal"
    assert dict(zip(d3.texts, d3.labels, strict=True))["the oak2"] == "plant"
    # Test items are evaluated against train + dev.
    assert [t for t, x in zip(d1.texts, d1.test, strict=True) if x] == ["the dog9", "the oak9"]
    assert "fern9" in " ".join(d1.texts)
    assert "'test'" in d1.split_rule and "dev" in d1.split_rule
    # 15 items; depth 3 skips the 2-step ladders (3 ferns, run).
    assert (len(d1), len(d2), len(d3)) == (15, 15, 11)
    assert (d1.skipped_short, d2.skipped_short, d3.skipped_short) == (0, 0, 4)
    # At depth 4 only the 4-step ladders are left, all ending in "entity": one label.
    with pytest.raises(UserError, match="'depth4' has 1 label"):
        ladder_probes(path, (4,), min_class_items=1)
    nouns = ladder_probes(path, (1,), pos="n", min_class_items=1)[0]
    assert "run" not in nouns.texts and len(nouns) == 14
    # min_class_items drops labels too rare among the training items (train + dev), counted.
    d1_rare = ladder_probes(path, (1,), min_class_items=3)[0]
    assert set(d1_rare.labels) == {"dog", "cat", "oak", "fern"} and d1_rare.skipped_rare == 1


def test_ladder_probes_count_from_the_root_and_read_label_columns(tmp_path: Path) -> None:
    path = tmp_path / "hierarchy.tsv"
    rows = [
        ("dog", "noun.animal", "dog|mammal|animal|organism|entity"),
        ("cat", "noun.animal", "cat|mammal|animal|organism|entity"),
        ("oak", "noun.plant", "oak|tree|plant|organism|entity"),
        ("fern", "noun.plant", "fern|plant|organism|entity"),
        ("rock", "noun.object", "rock|material|substance|entity"),
        ("sand", "noun.object", "sand|material|substance|entity"),
    ]
    path.write_text(
        "lemma\tlexname\tladder_words\n"
        + "".join(f"{w}{i}\t{lex}\t{ladder}\n" for w, lex, ladder in rows for i in range(2)),
        encoding="utf-8",
    )
    root2, root3, lexname = ladder_probes(
        path, (), root_depths=(2, 3), label_columns="lexname", min_class_items=1
    )
    assert [p.name for p in (root2, root3, lexname)] == ["root2", "root3", "lexname"]
    by_text = dict(zip(root2.texts, root2.labels, strict=True))
    # Counted from the root: root1 = entity, root2 = organism or substance.
    assert by_text["dog0"] == by_text["fern1"] == "organism" and by_text["sand0"] == "substance"
    assert dict(zip(root3.texts, root3.labels, strict=True))["fern0"] == "plant"
    assert dict(zip(root3.texts, root3.labels, strict=True))["dog0"] == "animal"
    assert dict(zip(lexname.texts, lexname.labels, strict=True))["oak1"] == "noun.plant"
    assert len(lexname) == len(rows) * 2 and set(lexname.labels) == {
        "noun.animal", "noun.plant", "noun.object"
    }  # fmt: skip
    with pytest.raises(UserError, match="supersense"):
        ladder_probes(path, (1,), label_columns=["supersense"], min_class_items=1)


def test_ladder_probe_with_one_class_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "h.tsv"
    path.write_text(
        "lemma\tladder_words\n" + "".join(f"a{i}\tx|top\n" for i in range(4)), encoding="utf-8"
    )
    with pytest.raises(UserError, match="at least 2"):
        ladder_probes(path, (1,), min_class_items=1)


def test_ladder_without_split_uses_a_deterministic_stratified_split(tmp_path: Path) -> None:
    path = tmp_path / "h.tsv"
    rows = [f"{c}{i}\t{c}|top" for c in ("a", "b") for i in range(10)]
    path.write_text("lemma\tladder_words\n" + "\n".join(rows) + "\n", encoding="utf-8")
    first = ladder_probes(path, (1,), seed=5)[0]
    again = ladder_probes(path, (1,), seed=5)[0]
    other = ladder_probes(path, (1,), seed=6)[0]
    assert np.array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)
    for label in ("a", "b"):  # 3 of each label's 10 items held out
        held = [x for y, x in zip(first.labels, first.test, strict=True) if y == label]
        assert sum(held) == 3
    assert "30%" in first.split_rule


def test_ladder_dev_is_evaluated_when_there_is_no_test_split(tmp_path: Path) -> None:
    path = tmp_path / "h.tsv"
    rows = [f"{c}{i}\t{c}|top\t{'dev' if i < 2 else 'train'}" for c in "ab" for i in range(5)]
    path.write_text("lemma\tladder_words\tsplit\n" + "\n".join(rows) + "\n", encoding="utf-8")
    probe = ladder_probes(path, (1,))[0]
    assert int(probe.test.sum()) == 4
    assert "no test split" in probe.split_rule


def test_max_items_samples_deterministically_in_file_order(tmp_path: Path) -> None:
    path = write_ladder(tmp_path / "h.tsv", per_class=30)
    a = ladder_probes(path, (1, 2), max_items=40, seed=1, min_class_items=1)
    b = ladder_probes(path, (1, 2), max_items=40, seed=1, min_class_items=1)
    assert a[0].texts == b[0].texts and len(a[0]) == 40
    assert a[0].texts == a[1].texts  # the same items at every depth
    order = [int(t[1:].split("x")[0]) for t in a[0].texts]
    assert order == sorted(order)
    assert ladder_probes(path, (1,), max_items=40, seed=2, min_class_items=1)[0].texts != a[0].texts


def test_topic_probe_from_jsonl(tmp_path: Path) -> None:
    path = write_documents(tmp_path / "documents.jsonl", per_topic=10)
    probe = topic_probe(path)
    assert probe.name == "topic" and len(probe) == 40
    assert probe.texts[1] == "filler sentence 1 about finance number 1 more"
    assert probe.labels[:4] == list(TOPICS)
    assert int(probe.test.sum()) == 12  # 3 of each topic's 10
    first = topic_probe(path, max_sentences=1)
    assert first.texts[0] == "filler sentence 0"
    sampled = topic_probe(path, max_items=20, seed=3)
    assert len(sampled) == 20
    assert sampled.texts == topic_probe(path, max_items=20, seed=3).texts
    # A "split" field in every record is used like the TSV's column.
    with_split = tmp_path / "split.jsonl"
    records = [
        {"topic": TOPICS[i % 2], "sentences": [f"s {i}"], "split": "test" if i < 4 else "train"}
        for i in range(12)
    ]
    with_split.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    assert topic_probe(with_split).test.tolist() == [True] * 4 + [False] * 8


# ----------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lemma\tladder\nx\ta|b\n", r"h\.tsv:1: header lacks column\(s\) ladder_words"),
        ("lemma\tladder_words\nx\ta|b\ny\t\n", r"h\.tsv:3: empty ladder_words"),
        ("lemma\tladder_words\nx\ta||b\n", r"h\.tsv:2: .*empty ancestor"),
        ("lemma\tladder_words\n\ta|b\n", r"h\.tsv:2: empty lemma"),
        ("lemma\tladder_words\nx\ta|b\textra\n", r"h\.tsv:2: 3 tab-separated cells"),
        ("", "empty file"),
    ],
)
def test_malformed_ladder_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "h.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=match):
        ladder_probes(path, (1,))


def test_ladder_option_errors(tmp_path: Path) -> None:
    path = write_ladder(tmp_path / "h.tsv")
    with pytest.raises(UserError, match="no rows with pos 'v'"):
        ladder_probes(path, (1,), pos="v")
    for template in ("no placeholder", "{lemma}", "{1}"):
        with pytest.raises(UserError, match="template"):
            ladder_probes(path, (1,), template=template)
    assert ladder_probes(path, (1,), template="a {0}.")[0].texts[0] == "a w0xdog."
    with pytest.raises(UserError, match="depths"):
        ladder_probes(path, (0,))
    with pytest.raises(UserError, match="does not exist"):
        ladder_probes(tmp_path / "missing.tsv", (1,))


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"topic": "a", "sentences": ["x"]', r"d\.jsonl:2: not JSON"),
        ('["a", ["x"]]', r"d\.jsonl:2: not a JSON object"),
        ('{"sentences": ["x"]}', r'd\.jsonl:2: missing or empty "topic"'),
        ('{"topic": "a"}', r'd\.jsonl:2: "sentences" is missing'),
        ('{"topic": "a", "sentences": "x y"}', r'd\.jsonl:2: "sentences" is missing'),
        ('{"topic": "a", "sentences": ["", " "]}', r"d\.jsonl:2: the document's sentences"),
    ],
)
def test_malformed_documents(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"topic": "a", "sentences": ["ok"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=match):
        topic_probe(path)


def test_documents_with_one_topic_or_none_are_user_errors(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_text('{"topic": "a", "sentences": ["x"]}\n' * 5, encoding="utf-8")
    with pytest.raises(UserError, match="at least 2"):
        topic_probe(one)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(UserError, match="no documents"):
        topic_probe(empty)


# ----------------------------------------------------------------------------- the matrix


def test_two_level_encoder_gives_the_expected_diagonal(tmp_path: Path) -> None:
    ladder = write_ladder(tmp_path / "hierarchy.tsv")
    documents = write_documents(tmp_path / "documents.jsonl")
    probes = ladder_probes(ladder, (1,)) + [topic_probe(documents)]
    model = TwoLevels()
    matrix = probe_matrix(model, probes)
    assert matrix["levels"] == ["A", "B"] and matrix["probes"] == ["depth1", "topic"]
    knn, linear = np.array(matrix["knn"]), np.array(matrix["linear"])
    assert knn[0, 0] == 1.0 and linear[0, 0] == 1.0  # A on depth1
    assert knn[1, 1] == 1.0 and linear[1, 1] == 1.0  # B on topic
    assert linear[1, 0] < 0.6 and linear[0, 1] < 0.6  # off the diagonal: noise only
    assert knn[1, 0] < 0.6 and knn[0, 1] < 0.6
    assert best_levels(matrix) == {"depth1": ["A"], "topic": ["B"]}
    assert best_levels(matrix, "knn") == {"depth1": ["A"], "topic": ["B"]}
    assert matrix["chance"] == [pytest.approx(0.25), pytest.approx(0.25)]
    # Each level embeds every distinct text once.
    assert model.calls == [(96 + 80, "A"), (96 + 80, "B")]
    json.dumps(matrix)  # JSON-ready


def test_evaluator_metrics_markdown_and_heatmap(tmp_path: Path) -> None:
    ladder = write_ladder(tmp_path / "hierarchy.tsv")
    documents = write_documents(tmp_path / "documents.jsonl")
    plot = tmp_path / "plots" / "level_probe_matrix.png"
    evaluator = make_evaluator(
        "level_probes",
        name="probes",
        ladder=str(ladder),
        documents=str(documents),
        depths=[1, 2, 3],
        plot=str(plot),
    )
    assert isinstance(evaluator, LevelProbes)
    results, markdown = run_evaluators([evaluator], TwoLevels())
    assert results["probes/A/depth1/knn"] == 1.0
    assert results["probes/A/depth1/linear"] == 1.0
    assert results["probes/B/topic/linear"] == 1.0
    assert results["probes/topic/chance"] == pytest.approx(0.25)
    assert results["probes/depth2/chance"] == pytest.approx(0.5)
    assert results["probes/depth1/items"] == 96 and isinstance(results["probes/depth1/items"], int)
    assert results["probes/depth3/skipped_short"] == 24  # the ferns
    assert results["probes/topic/items"] == 80
    for level in ("A", "B"):
        for probe in ("depth1", "depth2", "depth3", "topic"):
            for measure in ("knn", "linear"):
                assert 0.0 <= results[f"probes/{level}/{probe}/{measure}"] <= 1.0
    assert "| level | depth1 | depth2 | depth3 | topic |" in markdown
    assert "| A | **1.0000 / 1.0000** |" in markdown
    assert "depth1: A (k-NN: A)" in markdown and "topic: B (k-NN: B)" in markdown
    assert "24 items skipped (ladder too short)" in markdown
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_probe_matrix_writes_a_png_with_nan_cells(tmp_path: Path) -> None:
    matrix = {
        "levels": ["token", "span", "sentence", "document"],
        "probes": ["depth1", "topic"],
        "knn": [[0.9, 0.1], [0.5, 0.2], [0.3, float("nan")], [0.2, 0.8]],
        "linear": [[0.95, 0.2], [0.6, 0.3], [0.4, float("nan")], [0.1, 0.9]],
        "chance": [0.1, 0.25],
    }
    path = plot_probe_matrix(matrix, tmp_path / "deep" / "m.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_text_encoder_is_probed_as_the_sentence_level(tmp_path: Path) -> None:
    ladder = write_ladder(tmp_path / "hierarchy.tsv")
    evaluator = LevelProbes(name="p", ladder=str(ladder), depths=(1, 2))
    result = evaluator.run(SentenceOnly())
    assert set(result.metrics) >= {
        "sentence/depth1/knn",
        "sentence/depth1/linear",
        "sentence/depth2/linear",
        "depth1/chance",
        "depth1/items",
    }
    assert result.metrics["sentence/depth1/linear"] == 1.0
    assert "One level (sentence)" in result.markdown


def test_level_encoder_wrapping_and_embedding() -> None:
    wrapped = as_level_encoder(SentenceOnly())
    assert isinstance(wrapped, LevelEncoder) and wrapped.levels == ("sentence",)
    model = TwoLevels()
    assert as_level_encoder(model) is model
    vectors = embed_level(model, ["a", "b", "a"], "A")
    assert vectors.shape == (3, 8) and np.array_equal(vectors[0], vectors[2])
    assert model.calls == [(2, "A")]
    with pytest.raises(ValueError, match="only the level 'sentence'"):
        wrapped.embed_level(["x"], "token")
    with pytest.raises(TypeError, match="neither"):
        as_level_encoder(object())

    class BadLevels(TwoLevels):
        levels = "A"

    with pytest.raises(TypeError, match="tuple of level names"):
        as_level_encoder(BadLevels())

    class WrongShape(TwoLevels):
        def embed_level(self, texts, level):
            return np.zeros((len(texts) + 1, 4))

    with pytest.raises(ValueError, match="shape"):
        embed_level(WrongShape(), ["a"], "A")


def test_probe_scores_on_a_tiny_probe() -> None:
    probe = make_probe(
        "p", "f", ["a1", "a2", "a3", "b1", "b2", "b3"], list("aaabbb"), list("ttsttt"),
        min_class_items=1,
    )  # fmt: skip
    probe.test = np.array([0, 0, 1, 0, 0, 1], dtype=bool)
    vectors = np.array([[1, 0], [1, 0.1], [1, 0.05], [0, 1], [0.1, 1], [0.05, 1]], np.float32)
    assert probe_scores(vectors, probe) == {"knn": 1.0, "linear": 1.0}


def test_stratified_folds_deal_each_label_across_folds() -> None:
    labels = ["a"] * 4 + ["b"] * 7 + ["c"] * 2
    fold = stratified_folds(labels, 3, seed=0)
    assert np.array_equal(fold, stratified_folds(labels, 3, seed=0))
    assert not np.array_equal(fold, stratified_folds(labels, 3, seed=1))
    assert sorted(np.bincount(fold).tolist()) == [4, 4, 5]  # 13 items, folds equal within one
    for label in "abc":  # each label's items spread as evenly as the folds allow
        counts = np.bincount(fold[[y == label for y in labels]], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_cross_validation_evaluates_every_item_once(tmp_path: Path) -> None:
    path = write_ladder(tmp_path / "h.tsv", per_class=6)
    depth1 = ladder_probes(path, (1,), folds=4)[0]
    assert depth1.test.all() and len(depth1) == 24  # the file's split is ignored
    assert "4-fold cross-validation" in depth1.split_rule
    splits = depth1.splits()
    assert len(splits) == 4
    evaluated = np.sum([e for _, e in splits], axis=0)
    assert evaluated.tolist() == [1] * 24  # each item in exactly one evaluated fold
    for train, held in splits:
        assert not np.any(train & held) and np.all(train | held)
    assert depth1.classes == sorted({"canine", "feline", "tree", "fern"})
    # Leave-one-out when the folds reach the item count. Chance is the overall majority's
    # share: per fold, balanced labels would make the held-out label never the majority.
    loo = make_probe("p", "f", list("abcdef"), list("xxyyzz"), None, folds=99, min_class_items=1)
    assert loo.split_rule.startswith("leave-one-out") and len(loo.splits()) == 6
    assert chance_rate(loo) == pytest.approx(1 / 3)
    # A label left with too few training items in some fold is dropped, counted.
    # (4 items over 3 folds leave >= 2 to train on; 2 items leave 1.)
    rare = make_probe("p", "f", list("abcdefghij"), list("xxxxzzzzyy"), None, folds=3)
    assert rare.labels == list("xxxxzzzz") and rare.skipped_rare == 2


def test_cross_validated_scores_match_fold_by_fold_fits() -> None:
    x, y = clusters(8, 3, 4, seed=4)
    labels = [str(v) for v in y]
    probe = make_probe("p", "f", [f"t{i}" for i in range(len(y))], labels, None, folds=4)
    codes, _, n_classes = probe.encoded()
    knn_hits = linear_hits = 0
    for f in range(4):
        train, held = probe.folds != f, probe.folds == f
        knn_hits += np.sum(knn_predict(x[train], codes[train], x[held]) == codes[held])
        fitted = fit_linear_probe(x[train], codes[train], n_classes)
        linear_hits += np.sum(fitted.predict(x[held]) == codes[held])
    scores = probe_scores(x, probe)
    assert scores == {"knn": knn_hits / len(y), "linear": linear_hits / len(y)}


def test_evaluator_option_errors(tmp_path: Path) -> None:
    assert EVALUATORS["level_probes"] is LevelProbes
    with pytest.raises(UserError, match="nothing to probe"):
        make_evaluator("level_probes", name="p")
    ladder = write_ladder(tmp_path / "h.tsv")
    with pytest.raises(UserError, match="valid options: ladder, documents, depths"):
        make_evaluator("level_probes", name="p", ladder=str(ladder), k_neighbours=3)
    with pytest.raises(UserError, match="max_items"):
        LevelProbes(name="p", ladder=str(ladder), max_items=-1)
    with pytest.raises(UserError, match="depths"):
        LevelProbes(name="p", ladder=str(ladder), depths="1")
    with pytest.raises(UserError, match="l2"):
        LevelProbes(name="p", ladder=str(ladder), l2=-1.0)
    for folds in (1, -2, 2.5, True):
        with pytest.raises(UserError, match="folds must be 0"):
            LevelProbes(name="p", ladder=str(ladder), folds=folds)
