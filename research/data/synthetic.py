"""The built-in synthetic world: English-like text with planted, known structure.

Why it exists: every model family must be trainable *and checkable against ground truth* in
minutes on a CPU with no download. So the corpus is sampled from a small generative story whose
answers we know, and the gold files are written next to it in the real benchmarks' formats
(`questions_words.tsv`, `wordsim353.tsv`), so the same evaluators read both.

How the structure is planted (all from co-occurrence, the only thing word2vec sees):

* Relations (country:capital, male:female, singular:plural, present:past; 12 pairs each).
  Each relation instance (x, y) owns two *identity* context words that appear with both x and
  y, and each side of the relation owns *marker* words (he/his vs she/her, one/each vs
  many/several, today/now vs yesterday/ago, city/capital vs country/nation) that appear only
  with that side. So vec(x) ~ identity + side_a and vec(y) ~ identity + side_b, and y - x is
  the same offset for every instance: exactly what 3CosAdd needs.
* Graded similarity: a hierarchy domain > group > synonym set > word. Every level owns context
  words; a sentence about a word draws context from its synonym set, its group or its domain.
  Synonyms share all their contexts (gold 9), same-group words two thirds (6.5), same-domain words
  one third (3.5), unrelated words none (0.8).
* Filler sentences of neutral words with Zipf-like weights, so frequencies look natural.

Sentences on one topic (one side of one relation instance, one similarity word) come in short
paragraphs, so the window's view across a sentence boundary agrees with the planted structure;
documents (one per line) are runs of shuffled paragraphs from all structures.

Tuned with gensim word2vec (window 5, 5 epochs, negative 5, sample 1e-3, dim 64): skip-gram
reaches analogy accuracy ~1.0 and Spearman ~0.95 from 200k tokens, CBOW from ~200k-300k. With
much stronger subsampling (sample 1e-4) analogies degrade (skip-gram ~0.55): the flattened
frequencies weaken the side markers, and the identity words, which sit midway between x and y,
start to win 3CosAdd.

Every word has exactly one role (checked when the world is built). The world is a `World`
object built from a seed; each structure is a small function, and the corpus sampler and file
writers are separate, so later versions can add structures (polysemy, a category hierarchy,
topical documents, sentence pairs) without touching the others. Change anything that alters the
output for a given (n_tokens, seed)? Bump `GENERATOR_VERSION`: it is a cache key.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.errors import UserError

GENERATOR_VERSION: int = 1

# Knobs. The values were tuned with gensim (skip-gram and CBOW, dim 64, window 5, 5 epochs,
# sample 1e-3): each moves how many tokens a model needs before the planted structure shows.
MAX_QUESTIONS_PER_SECTION = 2000  # the Google set caps nothing, but keep the file small
DOC_WORDS = (20, 60)  # inclusive range of a document's length in words
MIN_TOKENS = 5_000  # from here on every gold word occurs (sampling is balanced, nothing is cut)
PARAGRAPH_SENTENCES = (2, 4)  # same-topic sentences in a row; 1 (no paragraphs) needs ~2x data
TOKEN_SHARES = {"relations": 0.68, "similarity": 0.22, "filler": 0.10}  # of the corpus's tokens
# Context words per planted unit. Two identity words per relation instance beat three (each is
# seen more often); similarity levels get more words the more members share them.
CONTEXTS_PER = {"instance": 2, "synonym": 2, "group": 3, "domain": 4}
_WORD = re.compile(r"[a-z]+")

# --------------------------------------------------------------------------------------------
# Fixed lexicon. Real English words; each has one role. Pairs are (a, b) in analogy order.
# --------------------------------------------------------------------------------------------

CAPITAL_COUNTRY = (
    ("athens", "greece"), ("berlin", "germany"), ("cairo", "egypt"), ("madrid", "spain"),
    ("paris", "france"), ("rome", "italy"), ("tokyo", "japan"), ("moscow", "russia"),
    ("oslo", "norway"), ("ottawa", "canada"), ("havana", "cuba"), ("beijing", "china"),
)  # fmt: skip
MALE_FEMALE = (
    ("man", "woman"), ("king", "queen"), ("boy", "girl"), ("father", "mother"),
    ("brother", "sister"), ("son", "daughter"), ("husband", "wife"), ("uncle", "aunt"),
    ("nephew", "niece"), ("prince", "princess"), ("grandfather", "grandmother"),
    ("actor", "actress"),
)  # fmt: skip
SINGULAR_PLURAL = (
    ("dog", "dogs"), ("cat", "cats"), ("horse", "horses"), ("bird", "birds"),
    ("apple", "apples"), ("banana", "bananas"), ("bottle", "bottles"), ("cloud", "clouds"),
    ("eagle", "eagles"), ("elephant", "elephants"), ("finger", "fingers"), ("goat", "goats"),
)  # fmt: skip
PRESENT_PAST = (
    ("walk", "walked"), ("jump", "jumped"), ("play", "played"), ("talk", "talked"),
    ("dance", "danced"), ("sing", "sang"), ("swim", "swam"), ("write", "wrote"),
    ("eat", "ate"), ("fly", "flew"), ("listen", "listened"), ("paint", "painted"),
)  # fmt: skip


@dataclass(frozen=True)
class RelationSpec:
    """A relation as written by hand: its pairs, side markers and sentence templates.

    `markers` holds (slot name, side-a words, side-b words); both sides have the same length.
    Templates are space-separated words; `{X}` is the relation word (x or y by side), `{I}` one
    of the instance's identity words, `{NAME}` a marker of the sentence's side.
    """

    section: str
    kind: str  # "semantic" or "syntactic", as in questions_words
    pairs: tuple[tuple[str, str], ...]
    markers: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    templates: tuple[str, ...]


RELATION_SPECS = (
    RelationSpec(
        "capital-common-countries",
        "semantic",
        CAPITAL_COUNTRY,
        markers=(
            ("P", ("city", "capital", "metropolis"), ("country", "nation", "republic")),
            ("Q", ("mayor", "downtown", "suburbs"), ("borders", "provinces", "citizens")),
        ),
        templates=(
            "the {P} {X} has {I} and {I}",
            "{X} is a {P} of {I} and {Q}",
            "in {X} the {I} meets the {Q}",
            "the {I} of {X} is known across the {P}",
        ),
    ),
    RelationSpec(
        "family",
        "semantic",
        MALE_FEMALE,
        markers=(
            ("P", ("he",), ("she",)),
            ("Q", ("his",), ("her",)),
        ),
        templates=(
            "{P} is the {X} who kept {Q} {I}",
            "the {X} took {Q} {I} and {P} smiled",
            "{P} was a {X} with {Q} {I}",
            "as a {X} {P} loved {Q} {I} and {Q} {I}",
        ),
    ),
    RelationSpec(
        "gram8-plural",
        "syntactic",
        SINGULAR_PLURAL,
        markers=(
            ("P", ("one", "each", "every"), ("many", "several", "numerous")),
            ("Q", ("this", "that", "single"), ("these", "those", "multiple")),
        ),
        templates=(
            "{P} {X} rested beside the {I} and {Q} {X} slept",
            "we counted {P} {X} near the {I} with {Q} {I}",
            "there the {I} hid {Q} {X} from the {I}",
            "{P} {X} in the {I} looked at {Q} {I}",
        ),
    ),
    RelationSpec(
        "gram7-past-tense",
        "syntactic",
        PRESENT_PAST,
        markers=(
            ("P", ("today", "now", "usually"), ("yesterday", "ago", "earlier")),
            ("Q", ("always", "daily", "often"), ("once", "previously", "formerly")),
        ),
        templates=(
            "{P} we {X} with the {I} by the {I}",
            "they {Q} {X} near the {I} {P}",
            "you {X} to the {I} {P} and {Q} the {I} waits",
            "{Q} i {X} about the {I} {P}",
        ),
    ),
)

# domain -> group -> synonym sets. Synonyms are real near-synonyms, so gold scores read sensibly.
SIMILARITY_TREE: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "nature": {
        "water": (("river", "stream"), ("lake", "pond")),
        "land": (("rock", "stone"), ("mountain", "peak")),
        "weather": (("storm", "tempest"), ("wind", "breeze")),
    },
    "home": {
        "furniture": (("sofa", "couch"), ("cupboard", "cabinet")),
        "kitchen": (("cup", "mug"), ("pan", "skillet")),
        "rooms": (("cellar", "basement"), ("hall", "corridor")),
    },
    "feelings": {
        "joy": (("happy", "glad"), ("cheerful", "merry")),
        "sorrow": (("sad", "unhappy"), ("grief", "sorrow")),
        "fear": (("afraid", "scared"), ("anxious", "nervous")),
    },
    "travel": {
        "vehicles": (("car", "automobile"), ("bicycle", "bike")),
        "roads": (("road", "highway"), ("path", "trail")),
        "journeys": (("trip", "journey"), ("voyage", "cruise")),
    },
}
SIMILARITY_TEMPLATES = (
    "the {W} was near the {Y} and the {G}",
    "we found the {W} by the {G} in the {D}",
    "a {W} with the {Y} and the {D}",
    "people thought of the {W} and the {Y} and the {G} and the {D}",
)
SIMILARITY_SCORES = {"synonym": 9.0, "group": 6.5, "domain": 3.5, "unrelated": 0.8}

# Neutral filler, most frequent first within each part of speech (Zipf weights by rank).
FILLER_PARTS: dict[str, tuple[str, ...]] = {
    "N": (
        "time", "day", "way", "thing", "year", "world", "life", "part", "place", "work", "week",
        "case", "point", "number", "group", "problem", "fact", "hand", "eye", "night", "name",
        "side", "end", "story", "word", "question", "reason", "idea", "moment", "voice", "matter",
        "kind", "line", "rest", "letter", "plan", "answer", "minute", "chance", "sound", "color",
    ),
    "A": (
        "good", "new", "first", "long", "great", "little", "own", "other", "old", "right",
        "high", "different", "large", "next", "early", "young", "important", "few", "public",
        "bad", "same", "able", "late", "hard", "major", "better", "clear", "whole", "real",
    ),
    "V": (
        "made", "took", "came", "gave", "found", "told", "felt", "became", "left", "kept",
        "brought", "began", "seemed", "helped", "showed", "heard", "turned", "started", "moved",
        "lived", "believed", "held", "happened", "carried", "asked", "needed", "followed",
    ),
    "P": ("of", "in", "to", "for", "with", "on", "at", "from", "by", "about", "into", "over"),
    "C": ("and", "but", "so", "or", "then", "while", "because", "when"),
}  # fmt: skip
FILLER_TEMPLATES = (
    "the {A} {N} {V} {P} the {N}",
    "it {V} the {N} {P} a {A} {N}",
    "the {N} {V} {C} the {N} {V} {P} the {N}",
    "a {N} {P} the {N} {V} {A}",
    "{C} the {A} {N} {V} it",
)

# Words to hand out as context (identity words of relation instances, similarity contexts).
# Concrete nouns so "the {I}" reads naturally; any that collide with another role are dropped.
CONTEXT_POOL = """
acorn album anchor angle ankle apron arch arrow atlas attic avenue badge bagel balcony ballad
balloon bamboo bandage banner barn barrel basket beacon beard bell belt bench berry blanket
blossom board bonnet boulder bowl bracelet branch brick bridge brush bucket buckle bundle
button cabin cable cactus candle canoe canvas canyon carpet carriage castle cathedral cattle
cedar chain chalk chapel charcoal cherry chimney chisel circus clock cloak clover coin collar
comet compass copper coral cottage cotton crayon cricket crown crystal curtain cushion daisy
desert diamond dome donkey doorbell dragon drum dune easel ember engine fabric fan feather
fence fern ferry fiddle flag flame flannel flute forest fountain fox frame garden garlic
gate gem glacier glove gourd granite grape gravel guitar hammer harbor harp hat hazel helmet
hive honey hook horn hut iceberg ink island ivory jacket jade jar jewel jungle kettle key
kite knot ladder lamp lantern leaf leather lemon lighthouse lily linen lock locket loom
magnet mango map maple marble market mask meadow melody mill mirror mitten moss moth mountain
mural mushroom napkin needle nest net oak oar olive orchard orchid organ owl paddle pagoda
palace palm parcel parrot peach pearl pebble pencil pepper piano pier pillow pine pipe
pitcher plank plum pocket pony porch pottery pumpkin puppet quilt rabbit radio raft rainbow
ribbon ring robe rocket rope rose rug saddle sail salt sandal satin scarf scroll shawl shell
shield shovel silk silver sled sleeve slipper spear spice spindle sponge spoon stable statue
stool straw sundial swan sword tapestry teapot tent thimble thistle thread throne tiger tile
timber torch tower tractor trumpet tulip tunnel turnip umbrella valley vase velvet violin
wagon walnut wand wheel whistle willow window wool yacht yarn zebra acre almond amber anvil
badger beetle bison blade bolt bramble breadcrumb brooch buffalo cabbage camel canopy cargo
carrot cauldron cello cinnamon citadel clay cliff cobble cocoa coconut cork cradle crane
crate dagger dew dial dolphin dove dragonfly eel elm falcon fig flask fleece forge fossil
frog gazelle goblet goose gorilla gull hedge heron hinge hoof iris ivy jaguar juniper kayak
kelp kiwi ladle lagoon lark lava lentil lettuce lobster lute lynx mallet mantle marsh meteor
mint moat mole mosaic mule oasis otter oyster pantry parsnip pasture peacock pelican pendant
penguin pepperoni pheasant pigeon pistachio plateau plow prism puffin quarry quartz radish
raven reed reef rhubarb saffron salmon sapphire sardine scarecrow seal sequin shrimp silo
sparrow spinach squirrel stork sunflower tambourine thicket toad tortoise trout tuba turtle
vine vulture walrus weasel whale wharf wheat wolf woodpecker wren
"""


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
class World:
    """Everything a seed determines except the corpus sample: lexicon and planted structures."""

    seed: int
    relations: tuple[Relation, ...]
    similarity: tuple[SimilarityWord, ...]


@dataclass(frozen=True)
class WorldFiles:
    corpus: Path  # corpus.txt: one document per line, lowercase words [a-z]+ separated by spaces
    analogy: Path  # analogy.tsv
    similarity: Path  # similarity.tsv
    manifest: Path  # manifest.json


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams per purpose, so changing one part leaves the others' draws alone."""
    names = ("lexicon", "corpus", "gold")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, children, strict=True)}


def _template_words(templates: Sequence[str]) -> set[str]:
    return {w for t in templates for w in t.split() if not w.startswith("{")}


def reserved_words() -> dict[str, str]:
    """Every hand-placed word and its role; raises if a word has two roles (a design bug)."""
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
    neutral = _template_words(SIMILARITY_TEMPLATES) | _template_words(FILLER_TEMPLATES)
    for spec in RELATION_SPECS:
        neutral |= _template_words(spec.templates)
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
    return World(seed, relations, tuple(words))


# --------------------------------------------------------------------------------------------
# Sentence samplers, vectorised: a template is filled column by column for many sentences.
# --------------------------------------------------------------------------------------------

Resolver = Callable[[str, int], np.ndarray]  # (slot name, n) -> n words


def _fill(template: str, n: int, resolve: Resolver) -> list[list[str]]:
    """n sentences of `template`, as token lists; each slot occurrence is drawn independently."""
    cols = [
        resolve(tok[1:-1], n) if tok.startswith("{") else np.full(n, tok)
        for tok in template.split()
    ]
    return np.stack(cols, axis=1).tolist()


def _by_template(
    rng: np.random.Generator,
    templates: Sequence[str],
    n: int,
    fill: Callable[[str, np.ndarray], list[list[str]]],
) -> list[list[str]]:
    """n sentences, template drawn uniformly per sentence; `fill(template, rows)` makes the rows.

    Sentence i stays at position i, so callers' per-sentence topic keys still line up.
    """
    which = rng.integers(len(templates), size=n)
    out: list[list[str]] = [[] for _ in range(n)]
    for t, template in enumerate(templates):
        rows = np.flatnonzero(which == t)
        for r, sentence in zip(rows.tolist(), fill(template, rows), strict=True):
            out[r] = sentence
    return out


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


def paragraphs(rng: np.random.Generator, tagged: Tagged) -> list[list[list[str]]]:
    """Group same-topic sentences into runs of PARAGRAPH_SENTENCES.

    Why: words just across a sentence boundary are in the window too; when the neighbour
    sentence is on the same topic those contexts agree with the planted structure instead of
    adding noise, and documents read as being about something.
    """
    order = np.lexsort((rng.random(len(tagged.topics)), tagged.topics))
    lengths = rng.integers(PARAGRAPH_SENTENCES[0], PARAGRAPH_SENTENCES[1] + 1, size=len(order))
    topics = tagged.topics[order].tolist()
    out: list[list[list[str]]] = []
    current: list[list[str]] = []
    for k, idx in enumerate(order.tolist()):
        if current and (topics[k] != topics[k - 1] or len(current) >= lengths[len(out)]):
            out.append(current)
            current = []
        current.append(tagged.sentences[idx])
    if current:
        out.append(current)
    return out


def _mean_length(templates: Sequence[str]) -> float:
    return float(np.mean([len(t.split()) for t in templates]))


def sample_sentences(world: World, rng: np.random.Generator, n_tokens: int) -> list[list[str]]:
    """About n_tokens worth of sentences from every structure, in paragraphs.

    Paragraphs from all structures are shuffled together, so a document mixes topics. Sentence
    counts come from the templates' mean lengths, so the total is n_tokens up to sampling noise
    (a fraction of a percent); nothing is cut afterwards, so every balanced draw survives.
    """

    def count(share: float, templates: Sequence[str]) -> int:
        return round(share * n_tokens / _mean_length(templates))

    per_relation = TOKEN_SHARES["relations"] / len(world.relations)
    tagged = [
        relation_sentences(rng, r, count(per_relation, r.spec.templates)) for r in world.relations
    ]
    n_sim = count(TOKEN_SHARES["similarity"], SIMILARITY_TEMPLATES)
    tagged.append(similarity_sentences(rng, world.similarity, n_sim))
    tagged.append(filler_sentences(rng, count(TOKEN_SHARES["filler"], FILLER_TEMPLATES)))
    paras = [p for t in tagged for p in paragraphs(rng, t)]
    return [s for i in rng.permutation(len(paras)) for s in paras[i]]


def assemble_documents(rng: np.random.Generator, sentences: Sequence[list[str]]) -> list[str]:
    """Pack all sentences, in order, into documents of DOC_WORDS words (one per line).

    A document ends at a sentence boundary once it reaches its drawn target length, or earlier
    if the next sentence would take it past DOC_WORDS[1].
    """
    n_words = sum(len(s) for s in sentences)
    targets = rng.integers(DOC_WORDS[0], DOC_WORDS[1] + 1, size=n_words // DOC_WORDS[0] + 2)
    docs: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        if current and len(current) + len(sentence) > DOC_WORDS[1]:
            docs.append(current)
            current = []
        current += sentence
        if len(current) >= targets[len(docs)]:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return [" ".join(d) for d in docs]


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


# --------------------------------------------------------------------------------------------
# Writers.
# --------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write via a temporary name so a crash never leaves a truncated file under the real name."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _tsv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["\t".join(header)] + ["\t".join(map(str, r)) for r in rows]
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
        **gold_counts,
    }


def generate_world(out_dir: str | Path, *, n_tokens: int = 1_000_000, seed: int = 0) -> WorldFiles:
    """Write the corpus (about n_tokens words) and its gold files into out_dir.

    Deterministic for (n_tokens, seed). The manifest is written last, so its presence means the
    world is complete.
    """
    if n_tokens < MIN_TOKENS:
        raise UserError(
            f"synthetic world of {n_tokens} tokens is too small to hold its structure; "
            f"ask for at least {MIN_TOKENS} (100000+ to train on)"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = WorldFiles(
        out / "corpus.txt", out / "analogy.tsv", out / "similarity.tsv", out / "manifest.json"
    )
    world = build_world(seed)
    rngs = _streams(seed)
    docs = assemble_documents(rngs["corpus"], sample_sentences(world, rngs["corpus"], n_tokens))
    _write(files.corpus, "\n".join(docs) + "\n")
    analogies = analogy_rows(world, rngs["gold"])
    _write(files.analogy, _tsv(("section", "type", "a", "b", "c", "d"), analogies))
    sims = [(a, b, f"{score:.2f}") for a, b, score in similarity_rows(world, rngs["gold"])]
    _write(files.similarity, _tsv(("word1", "word2", "score"), sims))
    counts = {"n_analogy_questions": len(analogies), "n_similarity_pairs": len(sims)}
    _write(files.manifest, json.dumps(manifest(world, docs, n_tokens, counts), indent=2) + "\n")
    return files
