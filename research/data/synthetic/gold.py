"""Gold data for the benchmarks, in the real benchmarks' formats, and the file writers."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.data.synthetic.documents import Document
from research.data.synthetic.lexicon import (
    CATEGORY_CONTEXTS,
    GENERATOR_VERSION,
    HIERARCHY,
    HIERARCHY_LEXNAMES,
    HIERARCHY_ROOT,
    MAX_QUESTIONS_PER_SECTION,
    POLYSEMOUS,
    POLYSEMY_EXAMPLES_PER_SENSE,
    POLYSEMY_TEMPLATES,
    PROPOSITION_FRAMES,
    PROPOSITION_SLOTS,
    SIMILARITY_SCORES,
    SIMILARITY_TREE,
    STS_PARAPHRASE,
    STS_SAME_TOPIC,
    STS_SWAP_COST,
    SYNONYM_SLOTS,
    WIC_CANDIDATES,
    WIC_OVERLAP_BIN,
    WIC_PAIRS_PER_LEMMA,
)
from research.data.synthetic.sentences import (
    Propositions,
    _balanced,
    paraphrase,
    polysemy_sentences,
    render_propositions,
    sample_propositions,
    shared_content,
)
from research.data.synthetic.world import (
    SimilarityWord,
    World,
)

FILE_NAMES = {
    "corpus": "corpus.txt",
    "analogy": "analogy.tsv",
    "similarity": "similarity.tsv",
    "manifest": "manifest.json",
    "documents": "documents.jsonl",
    "wic": "wic.tsv",
    "sts_dev": "sts-dev.csv",
    "sts_test": "sts-test.csv",
    "retrieval": "retrieval.tsv",
    "polysemy": "polysemy.tsv",
    "hierarchy": "hierarchy.tsv",
}


# --------------------------------------------------------------------------------------------
# Gold data.
# --------------------------------------------------------------------------------------------


def analogy_rows(world: World, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """(section, type, a, b, c, d) for every ordered pair of distinct instances, per section."""
    rows = []
    for relation in world.relations:
        spec = relation.spec
        section = [
            (spec.section, spec.kind, a, b, c, d)
            for (a, b), (c, d) in itertools.permutations(spec.pairs, 2)
            if len({a, b, c, d}) == 4
        ]
        if len(section) > MAX_QUESTIONS_PER_SECTION:
            keep = np.sort(rng.choice(len(section), MAX_QUESTIONS_PER_SECTION, replace=False))
            section = [section[i] for i in keep]
        rows += section
    return rows


def _level(u: SimilarityWord, v: SimilarityWord) -> str:
    if u.domain != v.domain:
        return "unrelated"
    if u.group != v.group:
        return "domain"
    return "synonym" if u.synset == v.synset else "group"


def similarity_rows(world: World, rng: np.random.Generator) -> list[tuple[str, str, float]]:
    """Graded gold pairs: every synonym and same-group pair, an equal sample of the other levels.

    Equal counts per level keep Spearman from being dominated by the (many) unrelated pairs.
    """
    by_level: dict[str, list[tuple[str, str, float]]] = {lvl: [] for lvl in SIMILARITY_SCORES}
    for u, v in itertools.combinations(world.similarity, 2):
        lvl = _level(u, v)
        by_level[lvl].append((u.word, v.word, SIMILARITY_SCORES[lvl]))
    n_each = len(by_level["group"])
    rows = by_level["synonym"] + by_level["group"]
    for lvl in ("domain", "unrelated"):
        pairs = by_level[lvl]
        keep = np.sort(rng.choice(len(pairs), min(n_each, len(pairs)), replace=False))
        rows += [pairs[i] for i in keep]
    return rows


def plot_pairs(world: World) -> list[list[str]]:
    """Male:female pairs for the classic king - man + woman picture."""
    family = next(r for r in world.relations if r.spec.section == "family")
    return [list(p) for p in family.spec.pairs[:6]]


def _span(tokens: Sequence[str], word: str) -> tuple[int, int]:
    """Character offsets [start, end) of the one token `word` in " ".join(tokens)."""
    k = list(tokens).index(word)
    start = sum(len(t) + 1 for t in tokens[:k])
    return start, start + len(word)


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


@dataclass(frozen=True)
class _WicCandidates:
    senses: tuple[np.ndarray, np.ndarray]  # indices into world.senses, per side
    sentences: tuple[list[list[str]], list[list[str]]]
    key: np.ndarray  # overlap bin * 2 + same template: what the labels are matched on


def _wic_candidates(
    rng: np.random.Generator, world: World, lemma: str, n: int, label: int
) -> _WicCandidates:
    """n sentence pairs of `lemma`: same sense (label 1) or two different senses (label 0).

    Templates are drawn independently of the label.
    """
    ids = np.array([i for i, s in enumerate(world.senses) if s.lemma == lemma])
    first = rng.integers(len(ids), size=n)
    second = first if label else (first + 1 + rng.integers(len(ids) - 1, size=n)) % len(ids)
    senses = ids[first], ids[second]
    templates = rng.integers(len(POLYSEMY_TEMPLATES), size=(2, n))
    a, b = (polysemy_sentences(rng, world, senses[k], templates[k]) for k in (0, 1))
    overlap = np.array([_jaccard(u, v) for u, v in zip(a, b, strict=True)])
    key = np.floor(overlap / WIC_OVERLAP_BIN + 1e-9).astype(int) * 2
    return _WicCandidates(senses, (a, b), key + (templates[0] == templates[1]))


def wic_pairs(
    rng: np.random.Generator, world: World, lemma: str, n: int
) -> list[tuple[int, int, int, list[str], list[str]]]:
    """n pairs (label, sense1, sense2, sentence1, sentence2) of `lemma`, half of each label.

    Same-sense sentences share topic words more often, so raw pairs would let word overlap
    guess the label well above chance. Candidates of both labels are binned by Jaccard overlap
    and by whether they share a template, and an equal number of each label is kept per bin:
    the two labels' overlap histograms (and template-sharing rates) then agree.
    """
    half = n // 2
    draws = [_wic_candidates(rng, world, lemma, WIC_CANDIDATES * half, label) for label in (0, 1)]
    keys = [d.key for d in draws]
    # One "matched unit" per (key, k) with k < min(count0, count1); keep `half` units at random.
    units = [
        key
        for key in np.union1d(*keys).tolist()
        for _ in range(min(np.sum(keys[0] == key), np.sum(keys[1] == key)))
    ]
    if len(units) < half:
        raise ValueError("too few overlap-matched WiC candidates; raise WIC_CANDIDATES")
    chosen = np.array(units)[rng.choice(len(units), half, replace=False)]
    out = []
    for label, d in enumerate(draws):
        (s1, s2), (a, b) = d.senses, d.sentences
        for key, k in zip(*np.unique(chosen, return_counts=True), strict=True):
            rows = rng.choice(np.flatnonzero(d.key == key), k, replace=False)
            out += [(label, int(s1[r]), int(s2[r]), a[r], b[r]) for r in np.sort(rows)]
    return out


WIC_COLUMNS = (
    "id", "split", "lemma", "pos", "label", "coarse_diff", "synset1", "synset2", "lexname1",
    "lexname2", "start1", "end1", "start2", "end2", "sentence1", "sentence2",
)  # fmt: skip


def wic_rows(world: World, rng: np.random.Generator) -> list[tuple[object, ...]]:
    """WiC-style rows (WIC_COLUMNS) for every split and polysemous lemma, shuffled per split.

    Synsets read lemma.sense and lexnames are the senses' topics, so coarse_diff = 1 - label.
    """
    rows: list[tuple[object, ...]] = []
    for split, per_lemma in WIC_PAIRS_PER_LEMMA.items():
        pairs = [
            (lemma, p) for lemma in POLYSEMOUS for p in wic_pairs(rng, world, lemma, per_lemma)
        ]
        for k in rng.permutation(len(pairs)).tolist():
            lemma, (label, i, j, a, b) = pairs[k]
            u, v = world.senses[i], world.senses[j]
            topic1, topic2 = world.topics[u.topic].name, world.topics[v.topic].name
            span1, span2 = _span(a, lemma), _span(b, lemma)
            row_id = f"syn-{len(rows):05d}"
            rows.append(
                (row_id, split, lemma, "n", label, 1 - label, u.synset, v.synset, topic1, topic2,
                 *span1, *span2, " ".join(a), " ".join(b))
            )  # fmt: skip
    return rows


def polysemy_rows(world: World, rng: np.random.Generator) -> list[tuple[object, ...]]:
    """(lemma, sense, topic, start, end, sentence): POLYSEMY_EXAMPLES_PER_SENSE fresh sentences
    of every sense, grouped by lemma and sense."""
    senses = np.repeat(np.arange(len(world.senses)), POLYSEMY_EXAMPLES_PER_SENSE)
    rows = []
    for i, tokens in zip(senses.tolist(), polysemy_sentences(rng, world, senses), strict=True):
        sense = world.senses[i]
        start, end = _span(tokens, sense.lemma)
        topic = world.topics[sense.topic].name
        rows.append((sense.lemma, sense.name, topic, start, end, " ".join(tokens)))
    return rows


def _proposition_sentences(
    rng: np.random.Generator, world: World, props: Propositions
) -> tuple[list[str], np.ndarray]:
    frames = rng.integers(len(PROPOSITION_FRAMES), size=len(props))
    return [" ".join(s) for s in render_propositions(rng, world, props, frames)], frames


def _other_content(
    rng: np.random.Generator, world: World, p: Propositions, topics: np.ndarray
) -> Propositions:
    """Fresh propositions of `topics` that copy 0-3 random slots of p (where they can), so
    non-paraphrase pairs share some content; never all of it."""
    q = sample_propositions(rng, world, topics)
    slots = dict(q.slots)
    member = dict(q.member)
    n_copy = rng.integers(4, size=len(p))
    rank = np.argsort(rng.random((len(p), len(PROPOSITION_SLOTS))), axis=1)
    for column, slot in enumerate(PROPOSITION_SLOTS):
        copy = rank[:, column] < n_copy
        if slot not in SYNONYM_SLOTS:
            copy &= p.topic == topics  # a topic word only means something in its own topic
        slots[slot] = np.where(copy, p.slots[slot], slots[slot])
    # Keep the subject and object apart, and never repeat the whole proposition.
    k = world.topic_table("S").shape[1]
    slots["O"] = np.where(slots["O"] == slots["S"], (slots["S"] + 1) % k, slots["O"])
    q = Propositions(q.topic, slots, member)
    whole = shared_content(p, q) == len(PROPOSITION_SLOTS)
    k_verbs = world.topic_table("V").shape[1]
    slots["V"] = np.where(whole, (p.slots["V"] + 1) % k_verbs, slots["V"])
    return Propositions(q.topic, slots, member)


def sts_rows(world: World, rng: np.random.Generator, n: int) -> list[tuple[object, ...]]:
    """STS Benchmark rows (genre, file, year, id, score, sentence1, sentence2), n pairs.

    A third each: paraphrases (5 - 0.25 per synonym swapped), same-topic pairs (2 + shared
    content slots / 5) and different-topic pairs (0.5 per shared place or mood). `file` names
    the kind of pair.
    """
    kinds = _balanced(rng, n, 3)  # 0 paraphrase, 1 same topic, 2 different topic
    n_topics = len(world.topics)
    p = sample_propositions(rng, world, rng.integers(n_topics, size=n))
    s1, frames = _proposition_sentences(rng, world, p)
    reworded, para_frames, swaps = paraphrase(rng, p, frames)
    other_topic = (p.topic + 1 + rng.integers(n_topics - 1, size=n)) % n_topics
    q = _other_content(rng, world, p, np.where(kinds == 1, p.topic, other_topic))
    s_para = [" ".join(s) for s in render_propositions(rng, world, reworded, para_frames)]
    s_other, _ = _proposition_sentences(rng, world, q)
    shared = shared_content(p, q)
    scores = np.select(
        [kinds == 0, kinds == 1],
        [STS_PARAPHRASE - STS_SWAP_COST * swaps, STS_SAME_TOPIC + shared / 5],
        0.5 * shared,
    )
    names = ("paraphrase", "same-topic", "other-topic")
    flip = rng.random(n) < 0.5
    rows = []
    for i in range(n):
        a, b = s1[i], s_para[i] if kinds[i] == 0 else s_other[i]
        if flip[i]:
            a, b = b, a
        genre, year = "synthetic", f"v{GENERATOR_VERSION}"
        rows.append((genre, names[kinds[i]], year, f"{i:04d}", f"{scores[i]:.3f}", a, b))
    return rows


def retrieval_rows(world: World, rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    """(query, target): n distinct propositions (balanced over topics) and their paraphrases."""
    p = sample_propositions(rng, world, _balanced(rng, 2 * n, len(world.topics)))
    keys = np.stack([p.topic, *(p.slots[s] for s in PROPOSITION_SLOTS)], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.sort(first)[:n]
    if len(keep) < n:
        raise ValueError("too few distinct propositions for the retrieval set")
    p = Propositions(
        p.topic[keep],
        {s: v[keep] for s, v in p.slots.items()},
        {s: v[keep] for s, v in p.member.items()},
    )
    queries, frames = _proposition_sentences(rng, world, p)
    reworded, para_frames, _ = paraphrase(rng, p, frames)
    targets = [" ".join(s) for s in render_propositions(rng, world, reworded, para_frames)]
    return list(zip(queries, targets, strict=True))


HIERARCHY_COLUMNS = (
    "lemma", "pos", "synset", "lexname", "topic_domain", "zipf", "semcor_count", "n_senses",
    "depth", "ladder_words", "ladder_synsets", "full_chain_words", "full_chain_synsets", "split",
)  # fmt: skip


def lemma_split(lemma: str) -> str:
    """train / dev / test by lemma, the function behind the WordNet files' splits (md5 of the
    lemma, first 8 hex digits, mod 10: 0-5 train, 6-7 dev, 8-9 test)."""
    bucket = int(hashlib.md5(lemma.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 6 else "dev" if bucket < 8 else "test"


def hierarchy_rows(world: World, counts: Counter[str], n_words: int) -> list[tuple[object, ...]]:
    """HIERARCHY_COLUMNS for every member, sorted by lemma as the WordNet file is.

    One sense each (synset lemma.n.01), no skipped ancestors (the full chain is the ladder), no
    SemCor counts; zipf is log10 of the member's frequency per billion corpus words.
    """
    rows = []
    for member in sorted(world.hierarchy, key=lambda m: m.word):
        ladder = member.ladder
        words = "|".join(ladder)
        synsets = "|".join(f"{w}.n.01" for w in ladder)
        zipf = np.log10(counts[member.word] * 1e9 / n_words)
        rows.append(
            (member.word, "n", f"{member.word}.n.01", HIERARCHY_LEXNAMES[member.path[0]], "",
             f"{zipf:.2f}", 0, 1, len(ladder), words, synsets, words, synsets,
             lemma_split(member.word))
        )  # fmt: skip
    return rows


def hierarchy_tree() -> dict[str, object]:
    """The hierarchy as nested dicts from the root down, members as lists at the leaves."""

    def lists(node: dict | tuple) -> object:
        return {k: lists(v) for k, v in node.items()} if isinstance(node, dict) else list(node)

    return {HIERARCHY_ROOT: lists(HIERARCHY)}


# --------------------------------------------------------------------------------------------
# Writers.
# --------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write via a temporary name so a crash never leaves a truncated file under the real name."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _tsv(header: Sequence[str] | None, rows: Sequence[Sequence[object]]) -> str:
    lines = ([] if header is None else ["\t".join(header)]) + ["\t".join(map(str, r)) for r in rows]
    return "\n".join(lines) + "\n"


def _documents_jsonl(docs: Sequence[Document]) -> str:
    lines = (
        json.dumps({"doc_id": i, "topic": d.topic, "sentences": [" ".join(s) for s in d.sentences]})
        for i, d in enumerate(docs)
    )
    return "\n".join(lines) + "\n"


def manifest(
    world: World, docs: Sequence[str], n_tokens: int, gold_counts: dict[str, int]
) -> dict[str, object]:
    """What was generated and the planted structure, for evaluators, plots and cache checks."""
    vocab: set[str] = set()
    written = 0
    for doc in docs:
        words = doc.split()
        vocab.update(words)
        written += len(words)
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": world.seed,
        "n_tokens_requested": n_tokens,
        "n_tokens_written": written,
        "n_documents": len(docs),
        "vocab_size": len(vocab),
        "files": FILE_NAMES,
        "relations": {
            r.spec.section: {"type": r.spec.kind, "pairs": [list(p) for p in r.spec.pairs]}
            for r in world.relations
        },
        "plot_pairs": plot_pairs(world),
        "similarity_tree": {
            d: {g: [list(s) for s in synsets] for g, synsets in groups.items()}
            for d, groups in SIMILARITY_TREE.items()
        },
        "similarity_scores": SIMILARITY_SCORES,
        "topics": [t.name for t in world.topics],
        "topic_words": {
            t.name: {
                "nouns": list(t.nouns),
                "verbs": list(t.verbs),
                "adjectives": list(t.adjectives),
            }
            for t in world.topics
        },
        "polysemous": POLYSEMOUS,
        "hierarchy": hierarchy_tree(),
        "hierarchy_contexts": {
            c: {"verbs": list(v), "nouns": list(n)} for c, (v, n) in CATEGORY_CONTEXTS.items()
        },
        "sts_scores": {
            "paraphrase": f"{STS_PARAPHRASE} - {STS_SWAP_COST} per synonym swapped",
            "same-topic": f"{STS_SAME_TOPIC} + shared content slots / 5",
            "other-topic": "0.5 per shared place or mood",
        },
        **gold_counts,
    }
