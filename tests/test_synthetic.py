"""The synthetic world: deterministic, well-formed, and its gold data matches its corpus.

Whether word2vec actually learns the planted structure is checked by the training tests (and was
measured with gensim when the generator was tuned); these tests stay fast and dependency-free.
"""

from __future__ import annotations

import csv
import dataclasses
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
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _all_files(files: synthetic.WorldFiles) -> list[Path]:
    return [getattr(files, f.name) for f in dataclasses.fields(files)]


def _documents(files: synthetic.WorldFiles) -> list[dict]:
    return [json.loads(line) for line in files.documents.read_text().splitlines()]


def test_files_are_named_for_the_data_pipeline(world: synthetic.WorldFiles) -> None:
    assert [p.name for p in _all_files(world)] == [
        "corpus.txt",
        "analogy.tsv",
        "similarity.tsv",
        "manifest.json",
        "documents.jsonl",
        "wic.tsv",
        "sts-dev.csv",
        "sts-test.csv",
        "retrieval.tsv",
        "polysemy.tsv",
        "hierarchy.tsv",
    ]
    assert all(p.is_file() for p in _all_files(world))
    assert not list(world.corpus.parent.glob("*.tmp"))
    manifest = json.loads(world.manifest.read_text())
    assert manifest["files"] == {
        f.name: getattr(world, f.name).name for f in dataclasses.fields(world)
    }


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
    assert min(lengths) >= 10 and max(lengths) <= 250


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
    gold |= {r["lemma"] for r in _rows(world.wic)}
    assert min(counts[w] for w in gold) >= 5  # survives the usual min_count even at 20k tokens
    assert min(counts[w] for w in _topic_of_word(world)) >= 1  # topic words are drawn at random


def test_every_word_has_one_role() -> None:
    roles = synthetic.reserved_words()  # raises on a clash
    world = synthetic.build_world(0)
    contexts = [w for r in world.relations for c in r.contexts for w in c]
    for level in ("synonym", "group", "domain"):
        contexts += {w for s in world.similarity for w in s.contexts[level]}
    assert len(contexts) == len(set(contexts))
    assert not set(contexts) & set(roles)
    members = [m.word for m in world.hierarchy]
    assert members and all(roles[w] == "hierarchy:member" for w in members)
    for category, (verbs, nouns) in synthetic.CATEGORY_CONTEXTS.items():
        assert roles[category] == "hierarchy:category"
        assert all(roles[w] == f"hierarchy:{category}" for w in verbs + nouns)


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


# --------------------------------------------------------------------------------------------
# Version 2: topics, polysemy, sentence boundaries and sentence-level gold files.
# --------------------------------------------------------------------------------------------

WORDNET_WIC_COLUMNS = (
    "id split lemma pos label coarse_diff synset1 synset2 lexname1 lexname2 "
    "start1 end1 start2 end2 sentence1 sentence2"
).split()


def _manifest(files: synthetic.WorldFiles) -> dict:
    return json.loads(files.manifest.read_text())


def _topic_of_word(files: synthetic.WorldFiles) -> dict[str, str]:
    words = _manifest(files)["topic_words"]
    return {w: t for t, parts in words.items() for ws in parts.values() for w in ws}


def _target_at(sentence: str, start: int, end: int, lemma: str) -> None:
    """The offsets cover exactly the lemma, as a whole word, and it occurs once."""
    assert sentence[start:end] == lemma
    assert start == 0 or sentence[start - 1] == " "
    assert end == len(sentence) or sentence[end] == " "
    assert sentence.split().count(lemma) == 1


def test_manifest_lists_topics_and_polysemous_words(world: synthetic.WorldFiles) -> None:
    manifest = _manifest(world)
    topics = manifest["topics"]
    assert len(topics) >= 6 and len(set(topics)) == len(topics)
    assert {"water", "finance"} <= set(topics)
    poly = manifest["polysemous"]
    assert len(poly) >= 6
    assert poly["bank"] == {"river": "water", "money": "finance"}
    for senses in poly.values():
        assert len(senses) == 2
        assert set(senses.values()) <= set(topics)
        assert len(set(senses.values())) == 2
    assert set(manifest["topic_words"]) == set(topics)


def test_documents_jsonl_agrees_with_the_corpus(world: synthetic.WorldFiles) -> None:
    docs = _documents(world)
    lines = world.corpus.read_text().splitlines()
    assert len(docs) == len(lines) == _manifest(world)["n_documents"]
    topics = set(_manifest(world)["topics"])
    sentence = re.compile(r"[a-z]+( [a-z]+)*")
    for i, (doc, line) in enumerate(zip(docs, lines, strict=True)):
        assert set(doc) == {"doc_id", "topic", "sentences"}
        assert doc["doc_id"] == i
        assert doc["topic"] in topics
        assert doc["sentences"] and all(sentence.fullmatch(s) for s in doc["sentences"])
        assert " ".join(doc["sentences"]) == line


def test_documents_hold_their_topic_and_senses_follow_it(world: synthetic.WorldFiles) -> None:
    """Topic words in a document are all of its topic, a topical run of 2+ sentences is in every
    document, and every polysemous word is used in the sense of the document's topic."""
    topic_of = _topic_of_word(world)
    poly = _manifest(world)["polysemous"]
    senses_seen: set[tuple[str, str]] = set()
    for doc in _documents(world):
        topical = 0
        for s in doc["sentences"]:
            words = s.split()
            found = {topic_of[w] for w in words if w in topic_of}
            assert found <= {doc["topic"]}
            topical += bool(found)
            for lemma in set(words) & set(poly):
                assert found == {doc["topic"]}  # the sentence itself disambiguates
                assert doc["topic"] in poly[lemma].values()
                senses_seen.add((lemma, doc["topic"]))
        assert topical >= 2
    assert senses_seen == {(lemma, t) for lemma, s in poly.items() for t in s.values()}


def test_wic_file_format(world: synthetic.WorldFiles) -> None:
    lines = world.wic.read_text().splitlines()
    assert lines[0].split("\t") == WORDNET_WIC_COLUMNS
    assert all(len(line.split("\t")) == len(WORDNET_WIC_COLUMNS) for line in lines)
    rows = _rows(world.wic)
    assert len({r["id"] for r in rows}) == len(rows)
    poly = _manifest(world)["polysemous"]
    topic_of = _topic_of_word(world)
    for r in rows:
        lemma = r["lemma"]
        assert r["pos"] == "n"
        for k in "12":
            sentence, start, end = r[f"sentence{k}"], int(r[f"start{k}"]), int(r[f"end{k}"])
            _target_at(sentence, start, end, lemma)
            stem, sense = r[f"synset{k}"].split(".")
            assert stem == lemma and poly[lemma][sense] == r[f"lexname{k}"]
            # Context words (the target removed) name the sense's topic, and only it.
            context = (sentence[:start] + sentence[end:]).split()
            assert {topic_of[w] for w in context if w in topic_of} == {r[f"lexname{k}"]}
        same = r["synset1"] == r["synset2"]
        assert r["label"] == str(int(same))
        assert r["coarse_diff"] == str(int(not same))


def test_wic_splits_are_balanced_and_overlap_matched(world: synthetic.WorldFiles) -> None:
    """Every split and lemma has equal labels with identical word-overlap histograms, so
    overlap alone cannot tell same-sense from different-sense pairs."""
    rows = _rows(world.wic)
    by_split = Counter(r["split"] for r in rows)
    assert set(by_split) == {"train", "dev", "test"}
    assert all(n >= 200 for n in by_split.values())
    poly = _manifest(world)["polysemous"]
    for split in by_split:
        for lemma in poly:
            hist: dict[str, Counter] = {"0": Counter(), "1": Counter()}
            for r in rows:
                if r["split"] == split and r["lemma"] == lemma:
                    a, b = set(r["sentence1"].split()), set(r["sentence2"].split())
                    hist[r["label"]][round(len(a & b) / len(a | b) / 0.05 + 1e-9, 6) // 1] += 1
            assert sum(hist["0"].values()) == sum(hist["1"].values()) > 0
            assert hist["0"] == hist["1"], (split, lemma)


def test_polysemy_examples(world: synthetic.WorldFiles) -> None:
    assert world.polysemy.read_text().splitlines()[0] == "lemma\tsense\ttopic\tstart\tend\tsentence"
    rows = _rows(world.polysemy)
    poly = _manifest(world)["polysemous"]
    topic_of = _topic_of_word(world)
    counts = Counter((r["lemma"], r["sense"]) for r in rows)
    assert set(counts) == {(lemma, s) for lemma, senses in poly.items() for s in senses}
    assert min(counts.values()) >= 40
    frames: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for r in rows:
        assert poly[r["lemma"]][r["sense"]] == r["topic"]
        _target_at(r["sentence"], int(r["start"]), int(r["end"]), r["lemma"])
        words = r["sentence"].split()
        assert {topic_of[w] for w in words if w in topic_of} == {r["topic"]}
        frame = tuple("_" if w in topic_of else w for w in words)
        frames.setdefault((r["lemma"], r["sense"]), set()).add(frame)
    for lemma, senses in poly.items():  # the senses share their templates
        first, second = (frames[(lemma, s)] for s in senses)
        assert first == second


def _sts(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_sts_files_are_graded_in_the_benchmark_format(world: synthetic.WorldFiles) -> None:
    topic_of = _topic_of_word(world)
    for path in (world.sts_dev, world.sts_test):
        rows = _sts(path)
        assert len(rows) >= 300
        assert all(len(r) == 7 for r in rows)  # genre file year id score sentence1 sentence2
        assert all(re.fullmatch(r"[0-5]\.\d{3}", r[4]) and float(r[4]) <= 5 for r in rows)
        kinds: dict[str, list[float]] = {}
        for _genre, kind, _year, _id, score, a, b in rows:
            kinds.setdefault(kind, []).append(float(score))
            topics = [{topic_of[w] for w in s.split() if w in topic_of} for s in (a, b)]
            assert all(len(t) == 1 for t in topics)
            assert (topics[0] == topics[1]) == (kind != "other-topic")
        assert set(kinds) == {"paraphrase", "same-topic", "other-topic"}
        assert min(kinds["paraphrase"]) >= 4.5
        assert 2.0 <= min(kinds["same-topic"]) and max(kinds["same-topic"]) <= 3.0
        assert max(kinds["other-topic"]) <= 1.0
        assert len({float(r[4]) for r in rows}) >= 6
    assert world.sts_dev.read_text() != world.sts_test.read_text()


def test_retrieval_pairs_are_paraphrases(world: synthetic.WorldFiles) -> None:
    lines = world.retrieval.read_text().splitlines()
    assert lines[0] == "query\ttarget"
    assert all(len(line.split("\t")) == 2 for line in lines)
    rows = _rows(world.retrieval)
    assert len(rows) >= 200
    assert len({r["target"] for r in rows}) == len(rows)  # a clean candidate pool
    topic_of = _topic_of_word(world)
    for r in rows:
        assert r["query"] != r["target"]
        content = [sorted(w for w in r[k].split() if w in topic_of) for k in ("query", "target")]
        assert content[0] == content[1]  # same proposition, other frame and synonyms


# --------------------------------------------------------------------------------------------
# Version 3: the category hierarchy.
# --------------------------------------------------------------------------------------------

WORDNET_LADDER_COLUMNS = (
    "lemma pos synset lexname topic_domain zipf semcor_count n_senses depth ladder_words "
    "ladder_synsets full_chain_words full_chain_synsets split"
).split()


def _leaves(tree: dict, path: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """member -> its path from the root down, from the manifest's nested tree."""
    out: dict[str, tuple[str, ...]] = {}
    for name, child in tree.items():
        if isinstance(child, dict):
            out.update(_leaves(child, (*path, name)))
        else:
            out.update({m: (*path, name) for m in child})
    return out


def test_hierarchy_tree_has_three_levels_below_the_root(world: synthetic.WorldFiles) -> None:
    tree = _manifest(world)["hierarchy"]
    assert list(tree) == ["entity"]
    tops = tree["entity"]
    assert len(tops) >= 3
    for mids in tops.values():
        assert len(mids) >= 2
        for leaves in mids.values():
            assert len(leaves) >= 2
            assert all(isinstance(m, list) and len(m) >= 4 for m in leaves.values())
    paths = _leaves(tree)
    assert {len(p) for p in paths.values()} == {4}  # root, top, mid, leaf
    categories = {c for p in paths.values() for c in p[1:]}
    contexts = _manifest(world)["hierarchy_contexts"]
    assert set(contexts) == categories
    owned = [w for c in contexts.values() for w in c["verbs"] + c["nouns"]]
    assert len(owned) == len(set(owned))
    assert not set(owned) & (set(paths) | categories)


def test_hierarchy_file_has_the_wordnet_ladder_columns(world: synthetic.WorldFiles) -> None:
    lines = world.hierarchy.read_text().splitlines()
    assert lines[0].split("\t") == WORDNET_LADDER_COLUMNS
    assert all(len(line.split("\t")) == len(WORDNET_LADDER_COLUMNS) for line in lines)
    rows = _rows(world.hierarchy)
    paths = _leaves(_manifest(world)["hierarchy"])
    assert [r["lemma"] for r in rows] == sorted(paths)  # every member once, sorted
    assert _manifest(world)["n_hierarchy_members"] == len(rows)
    counts = Counter(world.corpus.read_text().split())
    n_words = sum(counts.values())
    lexnames = {"animal": "noun.animal", "artifact": "noun.artifact", "flora": "noun.plant"}
    for r in rows:
        ladder = r["ladder_words"].split("|")
        assert ladder == list(reversed(paths[r["lemma"]]))  # nearest ancestor first
        assert ladder[-1] == "entity" and int(r["depth"]) == len(ladder) >= 4
        assert r["ladder_synsets"].split("|") == [f"{w}.n.01" for w in ladder]
        assert r["full_chain_words"] == r["ladder_words"]
        assert r["full_chain_synsets"] == r["ladder_synsets"]
        assert (r["pos"], r["synset"]) == ("n", f"{r['lemma']}.n.01")
        assert r["lexname"] == lexnames.get(ladder[-2], f"noun.{ladder[-2]}")
        assert (r["topic_domain"], r["semcor_count"], r["n_senses"]) == ("", "0", "1")
        assert counts[r["lemma"]] >= 1
        zipf = np.log10(counts[r["lemma"]] * 1e9 / n_words)
        assert r["zipf"] == f"{zipf:.2f}"
        assert r["split"] == synthetic.lemma_split(r["lemma"])
    assert {r["split"] for r in rows} == {"train", "dev", "test"}


def test_smallest_world_holds_every_hierarchy_member(tmp_path: Path) -> None:
    files = synthetic.generate_world(tmp_path, n_tokens=synthetic.MIN_TOKENS, seed=0)
    counts = Counter(files.corpus.read_text().split())
    rows = _rows(files.hierarchy)
    assert len(rows) == len(synthetic.hierarchy_members())
    assert all(counts[r["lemma"]] >= 1 for r in rows)


def test_lemma_split_is_the_wordnet_files_split() -> None:
    """Pinned to rows of wordnet_hypernym_ladder_core.tsv, so a lemma's split agrees."""
    assert synthetic.lemma_split("adapter") == "train"
    assert synthetic.lemma_split(".22") == "dev"
    assert synthetic.lemma_split("'hood") == "train"


def test_hierarchy_sentences_use_their_own_categories_words(world: synthetic.WorldFiles) -> None:
    """A sentence about a member holds context words of exactly one of its categories, and
    every member is heard at every level."""
    paths = _leaves(_manifest(world)["hierarchy"])
    owner = {
        w: c
        for c, parts in _manifest(world)["hierarchy_contexts"].items()
        for w in parts["verbs"] + parts["nouns"]
    }
    heard: set[tuple[str, str]] = set()
    for doc in _documents(world):
        for sentence in doc["sentences"]:
            words = sentence.split()
            members = [w for w in words if w in paths]
            found = {owner[w] for w in words if w in owner}
            assert bool(members) == bool(found)
            if members:
                assert len(members) == 1 and len(found) == 1
                (category,) = found
                assert category in paths[members[0]][1:]
                heard.add((members[0], category))
    assert heard == {(m, c) for m, p in paths.items() for c in p[1:]}
