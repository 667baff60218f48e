"""The synthetic world's fixed lexicon: knobs, word tables, specs and templates.

Real English words, each with one role (checked when the world is built, see `world`).
"""

from __future__ import annotations

from dataclasses import dataclass

GENERATOR_VERSION: int = 3

# Knobs. The values were tuned with gensim (skip-gram and CBOW, dim 64, window 5, 5 epochs,
# sample 1e-3): each moves how many tokens a model needs before the planted structure shows.
MAX_QUESTIONS_PER_SECTION = 2000  # the Google set caps nothing, but keep the file small
MIN_TOKENS = 5_000  # from here on every gold word occurs (sampling is balanced, nothing is cut)
PARAGRAPH_SENTENCES = (2, 4)  # same-topic sentences in a row; 1 (no paragraphs) needs more data
# Of the corpus's tokens. Relations keep the largest share: the project's CBOW needs it for
# its analogy accuracy at small corpora. Topics are what a transformer learns senses from; with
# 0.25 of the tokens a document is about 4x its topical paragraph. The hierarchy's 48 members
# need few sentences each; its share came out of the similarity words'.
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
# three domains made unrelated places look alike and cost Spearman).
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
# occurrences of each member, which CBOW needs (its leaf-level 1-NN fell sharply with templates
# twice as long).
HIERARCHY_TEMPLATES = (
    "the {X} {V}",
    "the {X} {V} and {V}",
    "the {X} has {N}",
    "the {X} {V} near its {N}",
)
# Of a member's sentences, by level: top, mid, leaf. The finer a level, the fewer members share
# its context words and the more sentences it needs: with equal shares gensim skip-gram's leaf
# 1-NN was clearly worse than with these.
HIERARCHY_LEVEL_SHARES = (0.2, 0.3, 0.5)
HIERARCHY_SLOTS = {"V": 0, "N": 1}  # slot -> index into a CATEGORY_CONTEXTS entry
