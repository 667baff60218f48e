"""The world: the fixed lexicon with seed-dependent context assignments, and its checks."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from research.data.synthetic.lexicon import (
    CATEGORY_CONTEXTS,
    CONTEXT_POOL,
    CONTEXTS_PER,
    FILLER_PARTS,
    FILLER_TEMPLATES,
    HIERARCHY,
    HIERARCHY_LEVEL_SHARES,
    HIERARCHY_LEXNAMES,
    HIERARCHY_ROOT,
    HIERARCHY_SLOTS,
    HIERARCHY_TEMPLATES,
    POLYSEMOUS,
    POLYSEMY_TEMPLATES,
    PROPOSITION_FRAMES,
    RELATION_SPECS,
    SIMILARITY_TEMPLATES,
    SIMILARITY_TREE,
    SYNONYM_SLOTS,
    TOPIC_SLOTS,
    TOPIC_SPECS,
    RelationSpec,
    TopicSpec,
)

_WORD = re.compile(r"[a-z]+")


# --------------------------------------------------------------------------------------------
# The world: the lexicon with seed-dependent context assignments.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """A relation with its identity words assigned: `contexts[i]` belong to `spec.pairs[i]`."""

    spec: RelationSpec
    contexts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SimilarityWord:
    """A word in the similarity hierarchy with the context words of each of its levels."""

    word: str
    domain: str
    group: str
    synset: int
    contexts: dict[str, tuple[str, ...]]  # level ("synonym", "group", "domain") -> words


@dataclass(frozen=True)
class Sense:
    """One sense of a polysemous word; `topic` indexes `World.topics`."""

    lemma: str
    name: str
    topic: int

    @property
    def synset(self) -> str:
        return f"{self.lemma}.{self.name}"


@dataclass(frozen=True)
class HierarchyMember:
    """A member word and its categories, top category first, leaf category last."""

    word: str
    path: tuple[str, ...]

    @property
    def ladder(self) -> tuple[str, ...]:
        """Its ancestors nearest first, ending at the root (WordNet ladder order)."""
        return (*reversed(self.path), HIERARCHY_ROOT)


@dataclass(frozen=True)
class World:
    """Everything a seed determines except the corpus sample: lexicon and planted structures."""

    seed: int
    relations: tuple[Relation, ...]
    similarity: tuple[SimilarityWord, ...]
    topics: tuple[TopicSpec, ...]
    senses: tuple[Sense, ...]
    hierarchy: tuple[HierarchyMember, ...]

    def topic_table(self, slot: str) -> np.ndarray:
        """(topics, k) words that fill a topic slot (TOPIC_SLOTS) in each topic."""
        return np.array([getattr(t, TOPIC_SLOTS[slot]) for t in self.topics])


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams per purpose, so changing one part leaves the others' draws alone."""
    names = ("lexicon", "corpus", "gold", "documents", "wic", "sts", "retrieval", "polysemy")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, children, strict=True)}


def _template_words(templates: Sequence[str]) -> set[str]:
    return {w for t in templates for w in t.split() if not w.startswith("{")}


def _check_topics() -> None:
    """Topics have equal-sized word lists, and senses, synonym slots name what exists."""
    names = [t.name for t in TOPIC_SPECS]
    for part in set(TOPIC_SLOTS.values()):
        if len({len(getattr(t, part)) for t in TOPIC_SPECS}) != 1:
            raise ValueError(f"synthetic topics differ in how many {part} they have")
    for lemma, senses in POLYSEMOUS.items():
        if len(senses) < 2 or any(topic not in names for topic in senses.values()):
            raise ValueError(f"polysemous {lemma!r}: needs 2+ senses in known topics")
        if len(set(senses.values())) != len(senses):
            raise ValueError(f"polysemous {lemma!r}: two senses share a topic")
    similarity = {frozenset(s) for groups in SIMILARITY_TREE.values() for g in groups.values()
                  for s in g}  # fmt: skip
    for slot, synsets in SYNONYM_SLOTS.items():
        if any(frozenset(s) not in similarity for s in synsets):
            raise ValueError(f"synonym slot {slot}: every set must be a SIMILARITY_TREE synset")


def hierarchy_members() -> tuple[HierarchyMember, ...]:
    """Every member of HIERARCHY with its path, in tree order."""
    members: list[HierarchyMember] = []

    def walk(node: dict | tuple, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, (*path, name))
        else:
            members.extend(HierarchyMember(w, path) for w in node)

    walk(HIERARCHY, ())
    return tuple(members)


def hierarchy_categories() -> list[str]:
    """Every category below the root, each once, top-down in tree order."""
    return list(dict.fromkeys(c for m in hierarchy_members() for c in m.path))


def _check_hierarchy() -> None:
    """One depth everywhere; every category has enough context words of each kind."""
    members = hierarchy_members()
    if len({len(m.path) for m in members}) != 1:
        raise ValueError("synthetic hierarchy: every member must sit at the same depth")
    categories = hierarchy_categories()
    if set(categories) != set(CATEGORY_CONTEXTS) or HIERARCHY_ROOT in categories:
        raise ValueError("synthetic hierarchy: CATEGORY_CONTEXTS must name exactly the categories")
    if len(HIERARCHY_LEVEL_SHARES) != len(members[0].path):
        raise ValueError("synthetic hierarchy: one HIERARCHY_LEVEL_SHARES entry per level")
    if set(HIERARCHY) != set(HIERARCHY_LEXNAMES):
        raise ValueError("synthetic hierarchy: every top category needs a lexname")
    for slot, k in HIERARCHY_SLOTS.items():
        need = max(t.split().count(f"{{{slot}}}") for t in HIERARCHY_TEMPLATES)
        if len({len(ctx[k]) for ctx in CATEGORY_CONTEXTS.values()}) != 1 or any(
            len(ctx[k]) < need for ctx in CATEGORY_CONTEXTS.values()
        ):
            raise ValueError(f"synthetic hierarchy: unequal or too few {slot} context words")


def reserved_words() -> dict[str, str]:
    """Every hand-placed word and its role; raises if a word has two roles (a design bug).

    Hierarchy category names are claimed too, though they never occur in the corpus: a gold
    label must not be a word with another job.
    """
    _check_topics()
    _check_hierarchy()
    roles: dict[str, str] = {}

    def claim(word: str, role: str) -> None:
        if not _WORD.fullmatch(word):
            raise ValueError(f"synthetic lexicon word {word!r} is not [a-z]+")
        if roles.setdefault(word, role) != role:
            raise ValueError(f"synthetic word {word!r} has two roles: {roles[word]} and {role}")

    for spec in RELATION_SPECS:
        for a, b in spec.pairs:
            claim(a, f"{spec.section}:a")
            claim(b, f"{spec.section}:b")
        for name, side_a, side_b in spec.markers:
            if len(side_a) != len(side_b):
                raise ValueError(f"{spec.section} marker {name}: sides differ in length")
            for w in side_a:
                claim(w, f"{spec.section}:marker-a")
            for w in side_b:
                claim(w, f"{spec.section}:marker-b")
    for domain, groups in SIMILARITY_TREE.items():
        for synsets in groups.values():
            for w in itertools.chain.from_iterable(synsets):
                claim(w, f"similarity:{domain}")
    for topic in TOPIC_SPECS:
        for w in topic.nouns + topic.verbs + topic.adjectives:
            claim(w, f"topic:{topic.name}")
    for lemma in POLYSEMOUS:
        claim(lemma, "polysemous")
    for member in hierarchy_members():
        claim(member.word, "hierarchy:member")
    for category in (HIERARCHY_ROOT, *hierarchy_categories()):
        claim(category, "hierarchy:category")
    for category, contexts in CATEGORY_CONTEXTS.items():
        for w in itertools.chain.from_iterable(contexts):
            claim(w, f"hierarchy:{category}")
    neutral = _template_words(SIMILARITY_TEMPLATES) | _template_words(FILLER_TEMPLATES)
    for spec in RELATION_SPECS:
        neutral |= _template_words(spec.templates)
    neutral |= _template_words(POLYSEMY_TEMPLATES) | _template_words(PROPOSITION_FRAMES)
    neutral |= _template_words(HIERARCHY_TEMPLATES)
    neutral |= set(itertools.chain.from_iterable(FILLER_PARTS.values()))
    for w in sorted(neutral):
        claim(w, "neutral")
    return roles


def context_pool() -> list[str]:
    """The context words on offer: CONTEXT_POOL minus anything with another role, in order."""
    reserved = reserved_words()
    return [w for w in dict.fromkeys(CONTEXT_POOL.split()) if w not in reserved]


def _take(deck: Iterator[str], level: str) -> tuple[str, ...]:
    """The next CONTEXTS_PER[level] words off the deck; each pool word is dealt at most once."""
    words = tuple(itertools.islice(deck, CONTEXTS_PER[level]))
    if len(words) < CONTEXTS_PER[level]:
        raise ValueError("CONTEXT_POOL is too small for the synthetic world; add words to it")
    return words


def build_world(seed: int = 0) -> World:
    """The fixed lexicon plus context words dealt from the shuffled pool, so the seed decides
    which (meaningless) context words mark each instance, synonym set, group and domain."""
    rng = _streams(seed)["lexicon"]
    pool = context_pool()
    deck = iter([pool[i] for i in rng.permutation(len(pool))])
    relations = tuple(
        Relation(spec, tuple(_take(deck, "instance") for _ in spec.pairs))
        for spec in RELATION_SPECS
    )
    words = []
    for domain, groups in SIMILARITY_TREE.items():
        domain_ctx = _take(deck, "domain")
        for group, synsets in groups.items():
            group_ctx = _take(deck, "group")
            for s, synset in enumerate(synsets):
                syn_ctx = _take(deck, "synonym")
                ctx = {"synonym": syn_ctx, "group": group_ctx, "domain": domain_ctx}
                words += [SimilarityWord(w, domain, group, s, ctx) for w in synset]
    topic_index = {t.name: i for i, t in enumerate(TOPIC_SPECS)}
    senses = tuple(
        Sense(lemma, name, topic_index[topic])
        for lemma, named in POLYSEMOUS.items()
        for name, topic in named.items()
    )
    return World(seed, relations, tuple(words), TOPIC_SPECS, senses, hierarchy_members())
