"""The built-in synthetic world: English-like text with planted, known structure.

Why it exists: every model family must be trainable *and checkable against ground truth* in
minutes on a CPU with no download. So the corpus is sampled from a small generative story whose
answers we know, and the gold files are written next to it in the real benchmarks' formats
(`questions_words.tsv`, `wordsim353.tsv`, WiC pairs, STS Benchmark), so the same evaluators read
both.

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
* Filler sentences of neutral words with Zipf-like weights (version 1; their share is 0 in
  version 2, where the topical sentences' frame words play that part).
* Topics (version 2): water, finance, sports, animals, weather, construction, music, garden. Each
  owns nouns, verbs and adjectives. Topical sentences are *propositions* (an adjective, subject,
  verb, object, a place and a mood) written in one of several equivalent frames, and sentences
  with a *polysemous* word (bank: river sense in `water`, money sense in `finance`; bat, spring,
  crane, pitch, plant, bass, note). A polysemous sentence uses the sense of its topic, and every
  template around a polysemous word is shared by both senses: only the topic words in the
  sentence (and its neighbours) tell the senses apart, never the template.
* Paraphrases: the same proposition in another frame, with its place and mood words swapped for
  their synonyms from the similarity synonym sets (river/stream, happy/glad, ...).
* Category hierarchy (version 3): entity > top category (animal, artifact, flora) > mid category
  (mammal, tool, tree, ...) > leaf category (canine, cutter, conifer, ...) > member words (poodle,
  knife, spruce, ...). Every category owns a few context words of its own, real words typical of
  it (canine: barked, kennels; mammal: nursed, milk; animal: breathed, lungs). A sentence about a
  member draws its context from one of the member's categories, each level equally often ("the
  poodle barked and howled", "the poodle has milk and hair", "the poodle breathed near its
  lungs"). So same-leaf members share all their contexts, same-mid members two thirds, same-top
  members one third: each level is recoverable, the finer ones only from the finer contexts.
  Sentences about one member come in paragraphs, mixed into documents like the relations.

Documents: every document has one topic and holds one paragraph of that topic's sentences, with
paragraphs of the topic-free material above (relations, similarity, filler) mixed in around it as
in version 1. Sentences on one subject (one side of one relation instance, one similarity word,
one topic) come in short paragraphs, so the window's view across a sentence boundary agrees with
the planted structure. `corpus.txt` has one document per line (sentences simply concatenated, for
word2vec); `documents.jsonl` has the same words with their sentence boundaries and topic.

Gold files besides the corpus: `analogy.tsv`, `similarity.tsv` (word level), `wic.tsv` (same or
different sense of a polysemous word in two fresh sentences; pairs are matched on word overlap so
that overlap alone is near chance), `sts-dev.csv` / `sts-test.csv` (graded sentence pairs:
paraphrase 4.5-5, same topic 2-3, different topic 0-1), `retrieval.tsv` (a sentence and its
paraphrase), `polysemy.tsv` (labelled example sentences of every sense) and `hierarchy.tsv`
(every member with its ancestors, in the columns of WordNet hypernym ladders:
wordnet_hypernym_ladder_core.tsv; splits by lemma as in that file).

Tuned with gensim word2vec (window 5, 5 epochs, negative 5, sample 1e-3, dim 64): at 300k tokens
(seeds 0-2) skip-gram reaches analogy accuracy ~1.0 and Spearman ~0.89-0.90, CBOW ~1.0 and
~0.78-0.82 (version 1, without topics: ~1.0 and ~0.96 / ~0.89). Similarity words that also fill
proposition slots (places, moods) are what costs Spearman. With much stronger subsampling (sample
1e-4) analogies degrade: the flattened frequencies weaken the side markers, and the identity
words, which sit midway between x and y, start to win 3CosAdd. On the WiC pairs, a bag-of-words
topic classifier (target removed) gets every sense right while a Jaccard-overlap threshold is at
chance (~0.5). Version 3 (hierarchy at 0.06 of the tokens, similarity down from 0.2 to 0.14;
300k tokens, seeds 0-2, gensim seed 0, one worker): leave-one-out 1-nearest-neighbour (cosine)
accuracy of the 48 members against their leaf / mid / top category is 0.98-1.0 / 1.0 / 1.0 for
skip-gram (chance ~0.06 / 0.15 / 0.32), and still 1.0 / 1.0 when neighbours from the same
leaf (for mid) or mid (for top) are left out; CBOW gets ~0.90 / 0.94-1.0 / 1.0. Analogy stays
~1.0 for both and similarity Spearman ~0.87-0.88 (skip-gram) and ~0.69-0.73 (CBOW), as in
version 2 under the same settings (0.89 / 0.73 at seed 0).

Every word has exactly one role (checked when the world is built). The world is a `World`
object built from a seed; each structure is a small function, and the corpus sampler and file
writers are separate, so later versions can add structures without touching the others. Change
anything that alters the output for a given (n_tokens, seed)? Bump `GENERATOR_VERSION`: it is a
cache key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.errors import UserError

GENERATOR_VERSION: int = 3

# Knobs. The values were tuned with gensim (skip-gram and CBOW, dim 64, window 5, 5 epochs,
# sample 1e-3): each moves how many tokens a model needs before the planted structure shows.
MAX_QUESTIONS_PER_SECTION = 2000  # the Google set caps nothing, but keep the file small
MIN_TOKENS = 5_000  # from here on every gold word occurs (sampling is balanced, nothing is cut)
PARAGRAPH_SENTENCES = (2, 4)  # same-topic sentences in a row; 1 (no paragraphs) needs ~2x data
# Of the corpus's tokens. Relations keep the largest share: at 300k tokens the project's CBOW
# gets analogy ~0.92 with 0.5 of them and ~0.99 with 0.55. Topics are what a transformer learns
# senses from; with 0.25 of the tokens a document is about 4x its topical paragraph. The
# hierarchy's 48 members need few sentences each; its share came out of the similarity words'.
TOKEN_SHARES = {
    "relations": 0.55,
    "similarity": 0.14,
    "filler": 0.0,
    "topics": 0.25,
    "hierarchy": 0.06,
}
TOPIC_SHARES = {"propositions": 0.7, "polysemy": 0.3}  # of the topical tokens
# Context words per planted unit. Two identity words per relation instance beat three (each is
# seen more often); similarity levels get more words the more members share them.
CONTEXTS_PER = {"instance": 2, "synonym": 2, "group": 3, "domain": 4}
# Gold sizes.
WIC_PAIRS_PER_LEMMA = {"train": 50, "dev": 50, "test": 50}  # per split, half of them same-sense
WIC_CANDIDATES = 8  # candidate pairs drawn per kept pair, to match the labels' overlap histograms
WIC_OVERLAP_BIN = 0.05  # Jaccard bin width for that matching
STS_PAIRS = 450  # per file; a third each paraphrase, same topic, different topic
RETRIEVAL_ROWS = 300
POLYSEMY_EXAMPLES_PER_SENSE = 60
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


@dataclass(frozen=True)
class TopicSpec:
    """A topic's own words. Every topic has the same number of each part of speech.

    `verbs` are regular past forms that also serve as participles ("the loan was funded by ...").
    """

    name: str
    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    adjectives: tuple[str, ...]


TOPIC_SPECS = (
    TopicSpec(
        "water",
        nouns=(
            "shore", "tide", "waves", "fisherman", "rowboat", "reeds", "ripples", "waterfall",
            "canal", "estuary", "flood", "puddle", "beach", "diver", "mud", "sailor",
        ),
        verbs=("flooded", "drifted", "splashed", "rinsed", "soaked", "floated"),
        adjectives=("wet", "muddy", "shallow", "salty"),
    ),
    TopicSpec(
        "finance",
        nouns=(
            "loan", "deposit", "account", "cashier", "investor", "mortgage", "profit", "budget",
            "dollar", "cheque", "credit", "debt", "banker", "vault", "wallet", "salary",
        ),
        verbs=("funded", "invested", "borrowed", "deposited", "audited", "charged"),
        adjectives=("wealthy", "costly", "fiscal", "profitable"),
    ),
    TopicSpec(
        "sports",
        nouns=(
            "player", "referee", "goal", "stadium", "team", "coach", "league", "trophy", "ball",
            "umpire", "inning", "striker", "tournament", "fans", "racket", "captain",
        ),
        verbs=("kicked", "scored", "cheered", "trained", "tackled", "defended"),
        adjectives=("athletic", "competitive", "winning", "sporty"),
    ),
    TopicSpec(
        "animals",
        nouns=(
            "fur", "claws", "paws", "den", "wings", "prey", "cave", "tail", "herd", "burrow",
            "insects", "hunter", "zoo", "beak", "hatchling", "predator",
        ),
        verbs=("hunted", "fed", "chased", "hatched", "growled", "sniffed"),
        adjectives=("wild", "furry", "nocturnal", "feathered"),
    ),
    TopicSpec(
        "weather",
        nouns=(
            "rain", "snow", "sunshine", "frost", "thunder", "fog", "drizzle", "hail", "forecast",
            "temperature", "thaw", "humidity", "lightning", "season", "sky", "showers",
        ),
        verbs=("melted", "warmed", "chilled", "cooled", "brightened", "darkened"),
        adjectives=("sunny", "chilly", "cloudy", "humid"),
    ),
    TopicSpec(
        "construction",
        nouns=(
            "builder", "scaffold", "concrete", "steel", "beam", "girder", "cement", "site",
            "foreman", "bulldozer", "excavator", "roof", "foundation", "machinery", "worker",
            "welder",
        ),
        verbs=("welded", "lifted", "hammered", "drilled", "assembled", "poured"),
        adjectives=("sturdy", "heavy", "industrial", "solid"),
    ),
    TopicSpec(
        "music",
        nouns=(
            "chord", "singer", "orchestra", "concert", "choir", "drummer", "song", "rhythm",
            "harmony", "tune", "stage", "band", "symphony", "microphone", "lyrics", "conductor",
        ),
        verbs=("tuned", "strummed", "hummed", "rehearsed", "composed", "recorded"),
        adjectives=("loud", "musical", "melodic", "harmonious"),
    ),
    TopicSpec(
        "garden",
        nouns=(
            "soil", "seeds", "roots", "leaves", "petals", "flowers", "gardener", "compost",
            "weeds", "greenhouse", "sprout", "bulbs", "stems", "vegetables", "fertilizer", "pot",
        ),
        verbs=("sowed", "watered", "pruned", "weeded", "trimmed", "harvested"),
        adjectives=("green", "leafy", "fertile", "blooming"),
    ),
)  # fmt: skip

# lemma -> sense -> topic. Every sense's topic is a TOPIC_SPECS name; synsets read "bank.river".
POLYSEMOUS: dict[str, dict[str, str]] = {
    "bank": {"river": "water", "money": "finance"},
    "bat": {"animal": "animals", "club": "sports"},
    "spring": {"season": "weather", "source": "water"},
    "crane": {"bird": "animals", "machine": "construction"},
    "pitch": {"field": "sports", "tone": "music"},
    "plant": {"flora": "garden", "factory": "construction"},
    "bass": {"fish": "animals", "voice": "music"},
    "note": {"cash": "finance", "sound": "music"},
}
# Templates around a polysemous word {L}, shared by both senses; {N} a topic noun (distinct within
# a sentence), {A} a topic adjective, {V} a topic verb. Each has at least two topic words.
POLYSEMY_TEMPLATES = (
    "we went to the {L} with the {N} and the {N}",
    "the {L} near the {N} {V} the {A} {N}",
    "everyone saw the {A} {L} beside the {N}",
    "after the {N} they {V} the {L} and the {N}",
    "the {N} and the {L} were {A} all along",
    "our {L} by the {N} {V} a {A} {N}",
)
# A proposition: {A} {S} (adjective and subject noun) {V} (verb) {O} (object noun), all from the
# topic, at a place {PL} in a mood {M} (similarity synonym-set words). The frames are equivalent:
# a paraphrase is the same proposition in another frame, with synonyms swapped.
PROPOSITION_FRAMES = (
    "the {A} {S} {V} the {O} near the {PL} and felt {M}",
    "near the {PL} the {A} {S} {V} the {O} and felt {M}",
    "the {O} was {V} by the {A} {S} near the {PL} who felt {M}",
    "feeling {M} near the {PL} the {A} {S} {V} the {O}",
)
TOPIC_SLOTS = {"A": "adjectives", "S": "nouns", "V": "verbs", "O": "nouns", "N": "nouns"}
# Synonym sets (from SIMILARITY_TREE) that fill a proposition's place and mood. Places come from
# one domain (nature) and moods from another (feelings): propositions of every topic then add the
# same contexts to a whole domain, which keeps the similarity gold's order (drawing places from
# three domains made unrelated places look alike and cost ~0.06 Spearman).
SYNONYM_SLOTS: dict[str, tuple[tuple[str, str], ...]] = {
    "PL": (("river", "stream"), ("lake", "pond"), ("rock", "stone"), ("mountain", "peak")),
    "M": (
        ("happy", "glad"), ("cheerful", "merry"), ("sad", "unhappy"), ("afraid", "scared"),
        ("anxious", "nervous"),
    ),
}  # fmt: skip
PROPOSITION_SLOTS = ("A", "S", "V", "O", "PL", "M")  # the content compared by STS scores
# STS gold: paraphrase 5 minus a quarter per synonym swapped; same topic 2 + shared slots / 5;
# different topic half a point per shared place or mood.
STS_PARAPHRASE, STS_SWAP_COST, STS_SAME_TOPIC = 5.0, 0.25, 2.0

# Category hierarchy (version 3): root > top > mid > leaf category > member words. Names follow
# WordNet where they can; names that are words of other structures are avoided (so "flora", not
# "plant", which is polysemous here; reptiles, not birds, as "bird" is a plural pair). Category
# names never occur in the corpus; they are gold labels.
HIERARCHY_ROOT = "entity"
HIERARCHY: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "animal": {
        "mammal": {
            "canine": ("poodle", "terrier", "beagle", "spaniel"),
            "feline": ("leopard", "cheetah", "panther", "cougar"),
        },
        "reptile": {
            "snake": ("cobra", "python", "viper", "rattlesnake"),
            "lizard": ("iguana", "gecko", "chameleon", "skink"),
        },
    },
    "artifact": {
        "tool": {
            "cutter": ("knife", "axe", "razor", "scalpel"),
            "gripper": ("pliers", "tongs", "tweezers", "forceps"),
        },
        "garment": {
            "footwear": ("boot", "shoe", "sneaker", "loafer"),
            "headwear": ("cap", "beret", "fedora", "turban"),
        },
    },
    "flora": {
        "tree": {
            "conifer": ("spruce", "fir", "larch", "hemlock"),
            "broadleaf": ("birch", "beech", "poplar", "sycamore"),
        },
        "crop": {
            "grain": ("barley", "rye", "millet", "maize"),
            "legume": ("bean", "pea", "chickpea", "soybean"),
        },
    },
}
# WordNet lexicographer file of each top category (hierarchy.tsv's lexname column).
HIERARCHY_LEXNAMES = {"animal": "noun.animal", "artifact": "noun.artifact", "flora": "noun.plant"}
# category -> (verbs, nouns): its own context words, typical of it. Every category has the same
# number of each, at least as many as a template repeats a slot.
CATEGORY_CONTEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "animal": (("breathed", "roamed"), ("lungs", "offspring")),
    "mammal": (("nursed", "suckled"), ("milk", "hair")),
    "canine": (("barked", "howled"), ("kennels", "leashes")),
    "feline": (("purred", "pounced"), ("whiskers", "spots")),
    "reptile": (("basked", "molted"), ("scales", "terrariums")),
    "snake": (("slithered", "coiled"), ("fangs", "venom")),
    "lizard": (("scurried", "darted"), ("crests", "dewlaps")),
    "artifact": (("lasted", "broke"), ("warranty", "factory")),
    "tool": (("fixed", "fastened"), ("toolbox", "workbench")),
    "cutter": (("sliced", "chopped"), ("sheath", "whetstone")),
    "gripper": (("gripped", "pinched"), ("jaws", "handles")),
    "garment": (("faded", "shrank"), ("laundry", "wardrobe")),
    "footwear": (("squeaked", "scuffed"), ("laces", "soles")),
    "headwear": (("tilted", "perched"), ("brim", "hatband")),
    "flora": (("grew", "wilted"), ("chlorophyll", "sap")),
    "tree": (("towered", "swayed"), ("trunk", "rings")),
    "conifer": (("bristled", "dripped"), ("needles", "cones")),
    "broadleaf": (("rustled", "reddened"), ("catkins", "foliage")),
    "crop": (("ripened", "yielded"), ("farmers", "fields")),
    "grain": (("threshed", "malted"), ("husks", "flour")),
    "legume": (("shelled", "boiled"), ("pods", "nitrogen")),
}
# {X} the member, {V} / {N} a verb / noun of the one category the sentence is about (distinct
# within a sentence). Short sentences: at a fixed token share, more sentences mean more
# occurrences of each member, which CBOW needs (its leaf-level 1-NN fell to ~0.5 with templates
# twice as long).
HIERARCHY_TEMPLATES = (
    "the {X} {V}",
    "the {X} {V} and {V}",
    "the {X} has {N}",
    "the {X} {V} near its {N}",
)
# Of a member's sentences, by level: top, mid, leaf. The finer a level, the fewer members share
# its context words and the more sentences it needs: with equal shares gensim skip-gram's leaf
# 1-NN was ~0.8 at 300k tokens, with these 1.0.
HIERARCHY_LEVEL_SHARES = (0.2, 0.3, 0.5)
HIERARCHY_SLOTS = {"V": 0, "N": 1}  # slot -> index into a CATEGORY_CONTEXTS entry


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


@dataclass(frozen=True)
class WorldFiles:
    corpus: Path  # corpus.txt: one document per line, lowercase words [a-z]+ separated by spaces
    analogy: Path  # analogy.tsv
    similarity: Path  # similarity.tsv
    manifest: Path  # manifest.json
    documents: Path  # documents.jsonl: {"doc_id", "topic", "sentences"} per corpus line
    wic: Path  # wic.tsv: same/different sense pairs, the columns of wordnet_wic_pairs.tsv
    sts_dev: Path  # sts-dev.csv: STS Benchmark format
    sts_test: Path  # sts-test.csv
    retrieval: Path  # retrieval.tsv: query, target (its paraphrase)
    polysemy: Path  # polysemy.tsv: labelled example sentences of every sense
    hierarchy: Path  # hierarchy.tsv: members and ancestors, the columns of WordNet ladders

    @classmethod
    def in_dir(cls, out: Path) -> WorldFiles:
        return cls(**{name: out / filename for name, filename in FILE_NAMES.items()})


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


# --------------------------------------------------------------------------------------------
# Corpus: paragraphs, documents with topics.
# --------------------------------------------------------------------------------------------


def paragraphs(rng: np.random.Generator, tagged: Tagged) -> list[tuple[int, list[list[str]]]]:
    """Group same-topic sentences into runs of PARAGRAPH_SENTENCES: (topic, sentences) each.

    Why: words just across a sentence boundary are in the window too; when the neighbour
    sentence is on the same topic those contexts agree with the planted structure instead of
    adding noise, and documents read as being about something.
    """
    order = np.lexsort((rng.random(len(tagged.topics)), tagged.topics))
    lengths = rng.integers(PARAGRAPH_SENTENCES[0], PARAGRAPH_SENTENCES[1] + 1, size=len(order))
    topics = tagged.topics[order].tolist()
    out: list[tuple[int, list[list[str]]]] = []
    current: list[list[str]] = []
    for k, idx in enumerate(order.tolist()):
        if current and (topics[k] != topics[k - 1] or len(current) >= lengths[len(out)]):
            out.append((topics[k - 1], current))
            current = []
        current.append(tagged.sentences[idx])
    if current:
        out.append((topics[-1], current))
    return out


def _mean_length(templates: Sequence[str]) -> float:
    return float(np.mean([len(t.split()) for t in templates]))


@dataclass(frozen=True)
class Document:
    topic: str
    sentences: list[list[str]]

    def text(self) -> str:
        return " ".join(" ".join(s) for s in self.sentences)


def sample_corpus(
    world: World, rngs: dict[str, np.random.Generator], n_tokens: int
) -> list[Document]:
    """About n_tokens worth of sentences from every structure, in paragraphs, in documents.

    Sentence counts come from the templates' mean lengths, so the total is n_tokens up to
    sampling noise (a fraction of a percent); nothing is cut afterwards, so every balanced draw
    survives.
    """
    rng = rngs["corpus"]

    def count(share: float, templates: Sequence[str]) -> int:
        return round(share * n_tokens / _mean_length(templates))

    per_relation = TOKEN_SHARES["relations"] / len(world.relations)
    tagged = [
        relation_sentences(rng, r, count(per_relation, r.spec.templates)) for r in world.relations
    ]
    n_sim = count(TOKEN_SHARES["similarity"], SIMILARITY_TEMPLATES)
    tagged.append(similarity_sentences(rng, world.similarity, n_sim))
    tagged.append(filler_sentences(rng, count(TOKEN_SHARES["filler"], FILLER_TEMPLATES)))
    n_hierarchy = count(TOKEN_SHARES["hierarchy"], HIERARCHY_TEMPLATES)
    tagged.append(hierarchy_sentences(rng, world.hierarchy, max(n_hierarchy, len(world.hierarchy))))
    background = [p for t in tagged for _, p in paragraphs(rng, t)]
    topical_share = {k: TOKEN_SHARES["topics"] * v for k, v in TOPIC_SHARES.items()}
    topical = topic_sentences(
        rng,
        world,
        count(topical_share["propositions"], PROPOSITION_FRAMES),
        count(topical_share["polysemy"], POLYSEMY_TEMPLATES),
    )
    names = [t.name for t in world.topics]
    topical_paragraphs = _without_orphans(paragraphs(rng, topical))
    return assemble_documents(rngs["documents"], topical_paragraphs, background, names)


def _without_orphans(
    paras: list[tuple[int, list[list[str]]]],
) -> list[tuple[int, list[list[str]]]]:
    """Append each one-sentence paragraph (a topic's last) to the paragraph before it on the
    same topic, so every topical sentence has a neighbour on its topic."""
    out: list[tuple[int, list[list[str]]]] = []
    for topic, sentences in paras:
        if len(sentences) == 1 and out and out[-1][0] == topic:
            out[-1][1].extend(sentences)
        else:
            out.append((topic, sentences))
    return out


def assemble_documents(
    rng: np.random.Generator,
    topical: Sequence[tuple[int, list[list[str]]]],
    background: Sequence[list[list[str]]],
    topic_names: Sequence[str],
) -> list[Document]:
    """One document per topical paragraph, with the topic-free paragraphs shared out evenly
    (by words, in shuffled order) and the topical paragraph at a random place among them."""
    n_docs = len(topical)
    shuffled = [background[i] for i in rng.permutation(len(background))]
    sizes = np.array([sum(len(s) for s in p) for p in shuffled], dtype=float)
    per_doc = max(sizes.sum() / max(n_docs, 1), 1.0)
    owner = np.minimum((np.cumsum(sizes) - sizes / 2) // per_doc, n_docs - 1).astype(int)
    bounds = np.searchsorted(owner, np.arange(n_docs + 1))
    slot = rng.random(n_docs)
    docs = []
    for d, k in enumerate(rng.permutation(n_docs).tolist()):
        topic, paragraph = topical[k]
        around = shuffled[bounds[d] : bounds[d + 1]]
        at = int(slot[d] * (len(around) + 1))
        paras = [*around[:at], paragraph, *around[at:]]
        docs.append(Document(topic_names[topic], [s for p in paras for s in p]))
    return docs


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
    guess the label (~0.59 accuracy). Candidates of both labels are binned by Jaccard overlap
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
    files = WorldFiles.in_dir(out)
    world = build_world(seed)
    rngs = _streams(seed)
    documents = sample_corpus(world, rngs, n_tokens)
    docs = [d.text() for d in documents]
    _write(files.corpus, "\n".join(docs) + "\n")
    _write(files.documents, _documents_jsonl(documents))
    analogies = analogy_rows(world, rngs["gold"])
    _write(files.analogy, _tsv(("section", "type", "a", "b", "c", "d"), analogies))
    sims = [(a, b, f"{score:.2f}") for a, b, score in similarity_rows(world, rngs["gold"])]
    _write(files.similarity, _tsv(("word1", "word2", "score"), sims))
    wic = wic_rows(world, rngs["wic"])
    _write(files.wic, _tsv(WIC_COLUMNS, wic))
    sts = {name: sts_rows(world, rngs["sts"], STS_PAIRS) for name in ("sts_dev", "sts_test")}
    for name, rows in sts.items():
        _write(getattr(files, name), _tsv(None, rows))
    retrieval = retrieval_rows(world, rngs["retrieval"], RETRIEVAL_ROWS)
    _write(files.retrieval, _tsv(("query", "target"), retrieval))
    examples = polysemy_rows(world, rngs["polysemy"])
    _write(files.polysemy, _tsv(("lemma", "sense", "topic", "start", "end", "sentence"), examples))
    frequency = Counter(w for doc in docs for w in doc.split())
    ladders = hierarchy_rows(world, frequency, sum(frequency.values()))
    _write(files.hierarchy, _tsv(HIERARCHY_COLUMNS, ladders))
    counts = {
        "n_analogy_questions": len(analogies),
        "n_similarity_pairs": len(sims),
        "n_wic_pairs": len(wic),
        "n_sts_dev_pairs": len(sts["sts_dev"]),
        "n_sts_test_pairs": len(sts["sts_test"]),
        "n_retrieval_rows": len(retrieval),
        "n_polysemy_examples": len(examples),
        "n_hierarchy_members": len(ladders),
    }
    _write(files.manifest, json.dumps(manifest(world, docs, n_tokens, counts), indent=2) + "\n")
    return files
