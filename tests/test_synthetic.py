"""The synthetic world: deterministic, well-formed, and its gold data matches its corpus.

Whether word2vec actually learns the planted structure is checked by the training tests (and was
measured with gensim when the generator was tuned); these tests stay fast and dependency-free.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from research.data import synthetic
from research.errors import UserError

N_TOKENS = 20_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> synthetic.WorldFiles:
    return synthetic.generate_world(tmp_path_factory.mktemp("world"), n_tokens=N_TOKENS, seed=0)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _all_files(files: synthetic.WorldFiles) -> list[Path]:
    return [files.corpus, files.analogy, files.similarity, files.manifest]


def test_files_are_named_for_the_data_pipeline(world: synthetic.WorldFiles) -> None:
    assert [p.name for p in _all_files(world)] == [
        "corpus.txt",
        "analogy.tsv",
        "similarity.tsv",
        "manifest.json",
    ]
    assert all(p.is_file() for p in _all_files(world))
    assert not list(world.corpus.parent.glob("*.tmp"))


def test_same_seed_gives_identical_bytes(world: synthetic.WorldFiles, tmp_path: Path) -> None:
    again = synthetic.generate_world(tmp_path, n_tokens=N_TOKENS, seed=0)
    for a, b in zip(_all_files(world), _all_files(again), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_different_seed_gives_different_corpus(world: synthetic.WorldFiles, tmp_path: Path) -> None:
    other = synthetic.generate_world(tmp_path, n_tokens=N_TOKENS, seed=1)
    assert other.corpus.read_bytes() != world.corpus.read_bytes()


def test_corpus_is_lowercase_words_one_document_per_line(world: synthetic.WorldFiles) -> None:
    text = world.corpus.read_text()
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz \n")
    assert text.endswith("\n")
    docs = text.splitlines()
    line = re.compile(r"[a-z]+( [a-z]+)*")
    assert all(line.fullmatch(d) for d in docs)
    lengths = [len(d.split()) for d in docs]
    low, high = synthetic.DOC_WORDS
    assert max(lengths) <= high
    assert min(lengths[:-1]) >= low  # only the last document may be cut short


def test_token_count_and_manifest_match_the_corpus(world: synthetic.WorldFiles) -> None:
    manifest = json.loads(world.manifest.read_text())
    words = world.corpus.read_text().split()
    assert manifest["generator_version"] == synthetic.GENERATOR_VERSION
    assert manifest["seed"] == 0
    assert manifest["n_tokens_requested"] == N_TOKENS
    assert manifest["n_tokens_written"] == len(words)
    assert abs(len(words) - N_TOKENS) <= 0.02 * N_TOKENS
    assert manifest["n_documents"] == len(world.corpus.read_text().splitlines())
    assert manifest["vocab_size"] == len(set(words))
    assert ["man", "woman"] in manifest["plot_pairs"]
    assert ["king", "queen"] in manifest["plot_pairs"]


def test_analogy_file_format(world: synthetic.WorldFiles) -> None:
    header = world.analogy.read_text().splitlines()[0]
    assert header == "section\ttype\ta\tb\tc\td"
    rows = _rows(world.analogy)
    assert all(r["type"] in ("semantic", "syntactic") for r in rows)
    assert all(len({r["a"], r["b"], r["c"], r["d"]}) == 4 for r in rows)
    sections = Counter(r["section"] for r in rows)
    assert len(sections) >= 4
    assert {"capital-common-countries", "family", "gram8-plural", "gram7-past-tense"} <= set(
        sections
    )
    row = {"section": "capital-common-countries", "type": "semantic"}
    assert {**row, "a": "athens", "b": "greece", "c": "berlin", "d": "germany"} in rows


def test_analogies_are_all_ordered_pairs_of_the_manifest_relations(
    world: synthetic.WorldFiles,
) -> None:
    relations = json.loads(world.manifest.read_text())["relations"]
    rows = _rows(world.analogy)
    for section, info in relations.items():
        pairs = {tuple(p) for p in info["pairs"]}
        got = [r for r in rows if r["section"] == section]
        assert len(got) == min(len(pairs) * (len(pairs) - 1), synthetic.MAX_QUESTIONS_PER_SECTION)
        assert all((r["a"], r["b"]) in pairs and (r["c"], r["d"]) in pairs for r in got)
        assert all(r["type"] == info["type"] for r in got)


def test_similarity_file_is_graded(world: synthetic.WorldFiles) -> None:
    assert world.similarity.read_text().splitlines()[0] == "word1\tword2\tscore"
    rows = _rows(world.similarity)
    assert len(rows) >= 100
    scores = [float(r["score"]) for r in rows]
    assert all(0.0 <= s <= 10.0 for s in scores)
    assert len(set(scores)) >= 4
    by_pair = {(r["word1"], r["word2"]): float(r["score"]) for r in rows}
    assert by_pair[("river", "stream")] > by_pair[("river", "lake")] > 5.0
    assert len(set(by_pair)) == len(rows)  # no duplicate pairs
    assert all(a != b for a, b in by_pair)


def test_every_gold_word_occurs_in_the_corpus(world: synthetic.WorldFiles) -> None:
    counts = Counter(world.corpus.read_text().split())
    gold = {r[k] for r in _rows(world.analogy) for k in "abcd"}
    gold |= {r[k] for r in _rows(world.similarity) for k in ("word1", "word2")}
    assert min(counts[w] for w in gold) >= 5  # survives the usual min_count even at 20k tokens


def test_every_word_has_one_role() -> None:
    roles = synthetic.reserved_words()  # raises on a clash
    world = synthetic.build_world(0)
    contexts = [w for r in world.relations for c in r.contexts for w in c]
    for level in ("synonym", "group", "domain"):
        contexts += {w for s in world.similarity for w in s.contexts[level]}
    assert len(contexts) == len(set(contexts))
    assert not set(contexts) & set(roles)


def test_relation_sentences_mark_one_side_only() -> None:
    """The planted signal: a sentence about x never holds y or y's side markers, and vice versa."""
    world = synthetic.build_world(0)
    rng = np.random.default_rng(0)
    for relation in world.relations:
        side_words: list[set[str]] = [set(), set()]
        for _, a, b in relation.spec.markers:
            side_words[0] |= set(a)
            side_words[1] |= set(b)
        for x, y in relation.spec.pairs:
            side_words[0].add(x)
            side_words[1].add(y)
        tagged = synthetic.relation_sentences(rng, relation, 200)
        for sentence, topic in zip(tagged.sentences, tagged.topics.tolist(), strict=True):
            instance, side = divmod(topic, 2)
            words = set(sentence)
            assert relation.spec.pairs[instance][side] in words
            assert not words & side_words[1 - side]
            own = set(relation.contexts[instance])
            others = {w for c in relation.contexts for w in c} - own
            assert not words & others


def test_tiny_worlds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        synthetic.generate_world(tmp_path, n_tokens=100)
