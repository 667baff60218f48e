"""Sentence samplers, vectorised: a template is filled column by column for many sentences.

Relations, similarity words, hierarchy members, filler, and the topical sentences
(polysemous words in context, propositions and their paraphrases).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from research.data.synthetic.lexicon import (
    CATEGORY_CONTEXTS,
    FILLER_PARTS,
    FILLER_TEMPLATES,
    HIERARCHY_LEVEL_SHARES,
    HIERARCHY_SLOTS,
    HIERARCHY_TEMPLATES,
    POLYSEMY_TEMPLATES,
    PROPOSITION_FRAMES,
    PROPOSITION_SLOTS,
    SIMILARITY_TEMPLATES,
    SYNONYM_SLOTS,
)
from research.data.synthetic.world import (
    HierarchyMember,
    Relation,
    SimilarityWord,
    World,
)

# --------------------------------------------------------------------------------------------
# Sentence samplers, vectorised: a template is filled column by column for many sentences.
# --------------------------------------------------------------------------------------------

Resolver = Callable[[str, int], np.ndarray]  # (slot name, n) -> n words
Filler = Callable[[str, np.ndarray], list[list[str]]]  # (template, rows) -> sentences of rows


def _fill(template: str, n: int, resolve: Resolver) -> list[list[str]]:
    """n sentences of `template`, as token lists; each slot occurrence is drawn independently."""
    cols = [
        resolve(tok[1:-1], n) if tok.startswith("{") else np.full(n, tok)
        for tok in template.split()
    ]
    return np.stack(cols, axis=1).tolist()


def _render(templates: Sequence[str], which: np.ndarray, fill: Filler) -> list[list[str]]:
    """Sentence i written with templates[which[i]]; `fill(template, rows)` makes the rows."""
    out: list[list[str]] = [[] for _ in range(len(which))]
    for t, template in enumerate(templates):
        rows = np.flatnonzero(which == t)
        for r, sentence in zip(rows.tolist(), fill(template, rows), strict=True):
            out[r] = sentence
    return out


def _by_template(
    rng: np.random.Generator, templates: Sequence[str], n: int, fill: Filler
) -> list[list[str]]:
    """n sentences, template drawn uniformly per sentence; `fill(template, rows)` makes the rows.

    Sentence i stays at position i, so callers' per-sentence topic keys still line up.
    """
    return _render(templates, rng.integers(len(templates), size=n), fill)


def _shared_out(rng: np.random.Generator, n: int, shares: Sequence[float]) -> np.ndarray:
    """n draws from range(len(shares)), value i as close to n * shares[i] times as can be."""
    p = np.asarray(shares, dtype=float) / np.sum(shares)
    counts = np.floor(n * p).astype(int)
    counts[np.argsort(n * p - counts)[::-1][: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(p)), counts))


def _balanced(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n draws from range(k), each value as often as possible (so rare words always appear)."""
    return rng.permutation(np.arange(n) % k)


@dataclass(frozen=True)
class Tagged:
    """Sentences with a topic id each; same-topic sentences may be grouped into paragraphs."""

    sentences: list[list[str]]
    topics: np.ndarray  # (len(sentences),) int


def relation_sentences(rng: np.random.Generator, relation: Relation, n: int) -> Tagged:
    """n sentences, each about one side of one instance: identity words plus side markers.

    The topic is (instance, side), so a paragraph tells of one word (the king, he, his crown).
    """
    spec = relation.spec
    pairs = np.array(spec.pairs)  # (instances, 2)
    contexts = np.array(relation.contexts)  # (instances, k)
    markers = {name: np.array([a, b]) for name, a, b in spec.markers}  # name -> (2, k)
    combo = _balanced(rng, n, 2 * len(pairs))
    inst, side = combo // 2, combo % 2

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        i, s = inst[rows], side[rows]

        def resolve(slot: str, m: int) -> np.ndarray:
            if slot == "X":
                return pairs[i, s]
            table = contexts[i] if slot == "I" else markers[slot][s]
            return table[np.arange(m), rng.integers(table.shape[1], size=m)]

        return _fill(template, len(rows), resolve)

    return Tagged(_by_template(rng, spec.templates, n, fill), combo)


def similarity_sentences(
    rng: np.random.Generator, words: Sequence[SimilarityWord], n: int
) -> Tagged:
    """n sentences, each about one word with context from its synonym set, group or domain."""
    target = np.array([w.word for w in words])
    levels = {"Y": "synonym", "G": "group", "D": "domain"}
    tables = {s: np.array([w.contexts[lvl] for w in words]) for s, lvl in levels.items()}
    who = _balanced(rng, n, len(words))

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        i = who[rows]

        def resolve(slot: str, m: int) -> np.ndarray:
            if slot == "W":
                return target[i]
            table = tables[slot][i]
            return table[np.arange(m), rng.integers(table.shape[1], size=m)]

        return _fill(template, len(rows), resolve)

    return Tagged(_by_template(rng, SIMILARITY_TEMPLATES, n, fill), who)


def hierarchy_sentences(
    rng: np.random.Generator, members: Sequence[HierarchyMember], n: int
) -> Tagged:
    """n sentences, each about one member with context words of one of its categories.

    Levels are shared out by HIERARCHY_LEVEL_SHARES and members balanced within each level, so
    every member is heard at every level about equally often. The topic is the member: a
    paragraph tells of one member at several levels.
    """
    depth = len(members[0].path)
    target = np.array([m.word for m in members])
    tables = {  # slot -> (members, depth, k)
        slot: np.array([[CATEGORY_CONTEXTS[c][k] for c in m.path] for m in members])
        for slot, k in HIERARCHY_SLOTS.items()
    }
    level = _shared_out(rng, n, HIERARCHY_LEVEL_SHARES)
    who = np.zeros(n, dtype=int)
    start = 0  # each level picks up the member cycle where the last left off: all are heard
    for lvl in range(depth):
        rows = np.flatnonzero(level == lvl)
        who[rows] = rng.permutation((start + np.arange(len(rows))) % len(members))
        start += len(rows)

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        i, lvl = who[rows], level[rows]
        order: dict[str, np.ndarray] = {}
        used: dict[str, int] = {}

        def resolve(slot: str, m: int) -> np.ndarray:
            if slot == "X":
                return target[i]
            table = tables[slot][i, lvl]  # (m, k)
            if slot not in order:  # a random order per sentence: repeated slots differ
                order[slot] = np.argsort(rng.random(table.shape), axis=1)
            column = used.get(slot, 0)
            used[slot] = column + 1
            return table[np.arange(m), order[slot][:, column]]

        return _fill(template, len(rows), resolve)

    return Tagged(_by_template(rng, HIERARCHY_TEMPLATES, n, fill), who)


def _zipf(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1)
    return weights / weights.sum()


def filler_sentences(rng: np.random.Generator, n: int) -> Tagged:
    """n sentences of neutral words, Zipf-weighted, so the word frequencies have a natural tail.

    Every filler sentence is its own topic: filler never forms paragraphs.
    """
    parts = {p: (np.array(ws), _zipf(len(ws))) for p, ws in FILLER_PARTS.items()}

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        def resolve(slot: str, m: int) -> np.ndarray:
            words, p = parts[slot]
            return words[rng.choice(len(words), size=m, p=p)]

        return _fill(template, len(rows), resolve)

    return Tagged(_by_template(rng, FILLER_TEMPLATES, n, fill), np.arange(n))


# --------------------------------------------------------------------------------------------
# Topical sentences: polysemous words in context, and propositions with their paraphrases.
# --------------------------------------------------------------------------------------------


def _topic_resolver(
    rng: np.random.Generator, world: World, topics: np.ndarray, fixed: dict[str, np.ndarray]
) -> Resolver:
    """Fill slots for sentences of the given topics: `fixed` slots from the arrays given, topic
    slots with words of the sentence's topic, distinct within a sentence for a repeated slot."""
    order: dict[str, np.ndarray] = {}
    used: dict[str, int] = {}

    def resolve(slot: str, m: int) -> np.ndarray:
        if slot in fixed:
            return fixed[slot]
        table = world.topic_table(slot)[topics]  # (m, k)
        if slot not in order:  # a random order of the topic's words per sentence
            order[slot] = np.argsort(rng.random(table.shape), axis=1)
        column = used.get(slot, 0)
        used[slot] = column + 1
        return table[np.arange(m), order[slot][:, column]]

    return resolve


def polysemy_sentences(
    rng: np.random.Generator,
    world: World,
    senses: np.ndarray,
    templates: np.ndarray | None = None,
) -> list[list[str]]:
    """One sentence per entry of `senses` (indices into world.senses): the lemma once, among
    words of its sense's topic, in a template shared by every sense (drawn uniformly unless
    `templates` gives indices into POLYSEMY_TEMPLATES)."""
    lemma = np.array([s.lemma for s in world.senses])[senses]
    topic = np.array([s.topic for s in world.senses])[senses]

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        resolve = _topic_resolver(rng, world, topic[rows], {"L": lemma[rows]})
        return _fill(template, len(rows), resolve)

    if templates is None:
        return _by_template(rng, POLYSEMY_TEMPLATES, len(senses), fill)
    return _render(POLYSEMY_TEMPLATES, templates, fill)


@dataclass(frozen=True)
class Propositions:
    """n propositions as indices: `topic` into world.topics; `slots` A, S, V, O into the topic's
    words (TOPIC_SLOTS), PL and M into SYNONYM_SLOTS; `member` picks the synonym written."""

    topic: np.ndarray
    slots: dict[str, np.ndarray]
    member: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.topic)


def sample_propositions(rng: np.random.Generator, world: World, topics: np.ndarray) -> Propositions:
    """One random proposition per entry of `topics`; subject and object differ."""
    n = len(topics)
    size = {slot: world.topic_table(slot).shape[1] for slot in ("A", "S", "V")}
    subject = rng.integers(size["S"], size=n)
    slots = {
        "A": rng.integers(size["A"], size=n),
        "S": subject,
        "V": rng.integers(size["V"], size=n),
        "O": (subject + 1 + rng.integers(size["S"] - 1, size=n)) % size["S"],
    }
    member = {}
    for slot, synsets in SYNONYM_SLOTS.items():
        slots[slot] = rng.integers(len(synsets), size=n)
        member[slot] = rng.integers(2, size=n)
    return Propositions(np.asarray(topics), slots, member)


def render_propositions(
    rng: np.random.Generator, world: World, props: Propositions, frames: np.ndarray
) -> list[list[str]]:
    """Proposition i written in PROPOSITION_FRAMES[frames[i]]."""
    synonyms = {slot: np.array(sets) for slot, sets in SYNONYM_SLOTS.items()}

    def fill(template: str, rows: np.ndarray) -> list[list[str]]:
        fixed = {slot: synonyms[slot][props.slots[slot][rows], props.member[slot][rows]]
                 for slot in SYNONYM_SLOTS}  # fmt: skip
        for slot in ("A", "S", "V", "O"):
            fixed[slot] = world.topic_table(slot)[props.topic[rows], props.slots[slot][rows]]
        return _fill(template, len(rows), _topic_resolver(rng, world, props.topic[rows], fixed))

    return _render(PROPOSITION_FRAMES, frames, fill)


def paraphrase(
    rng: np.random.Generator, props: Propositions, frames: np.ndarray
) -> tuple[Propositions, np.ndarray, np.ndarray]:
    """The same propositions in another frame, each synonym slot swapped with probability 1/2.

    Returns the reworded propositions, their frames and the number of synonyms swapped.
    """
    shift = 1 + rng.integers(len(PROPOSITION_FRAMES) - 1, size=len(props))
    swaps = np.zeros(len(props), dtype=int)
    member = {}
    for slot in SYNONYM_SLOTS:
        swap = rng.random(len(props)) < 0.5
        member[slot] = np.where(swap, 1 - props.member[slot], props.member[slot])
        swaps += swap
    reworded = Propositions(props.topic, props.slots, member)
    return reworded, (frames + shift) % len(PROPOSITION_FRAMES), swaps


def shared_content(p: Propositions, q: Propositions) -> np.ndarray:
    """How many of PROPOSITION_SLOTS two propositions share (synonyms count as the same)."""
    same_topic = p.topic == q.topic
    shared = np.zeros(len(p), dtype=int)
    for slot in PROPOSITION_SLOTS:
        same = p.slots[slot] == q.slots[slot]
        shared += same if slot in SYNONYM_SLOTS else same & same_topic
    return shared


def topic_sentences(rng: np.random.Generator, world: World, n_props: int, n_poly: int) -> Tagged:
    """Propositions (balanced over topics) and polysemous sentences (balanced over senses),
    tagged with their topic index."""
    prop_topics = _balanced(rng, n_props, len(world.topics))
    props = sample_propositions(rng, world, prop_topics)
    frames = rng.integers(len(PROPOSITION_FRAMES), size=n_props)
    senses = _balanced(rng, n_poly, len(world.senses))
    sentences = render_propositions(rng, world, props, frames)
    sentences += polysemy_sentences(rng, world, senses)
    sense_topics = np.array([s.topic for s in world.senses], dtype=int)[senses]
    return Tagged(sentences, np.concatenate([prop_topics, sense_topics]))
