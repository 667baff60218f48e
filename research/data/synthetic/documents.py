"""The corpus: sentences grouped into paragraphs, paragraphs into documents with topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from research.data.synthetic.lexicon import (
    FILLER_TEMPLATES,
    HIERARCHY_TEMPLATES,
    PARAGRAPH_SENTENCES,
    POLYSEMY_TEMPLATES,
    PROPOSITION_FRAMES,
    SIMILARITY_TEMPLATES,
    TOKEN_SHARES,
    TOPIC_SHARES,
)
from research.data.synthetic.sentences import (
    Tagged,
    filler_sentences,
    hierarchy_sentences,
    relation_sentences,
    similarity_sentences,
    topic_sentences,
)
from research.data.synthetic.world import World

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
