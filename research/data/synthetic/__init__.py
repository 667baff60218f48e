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
(every member with its ancestors, in the columns of the WordNet hypernym-ladder files the
level probes read; splits by lemma as those files do).

How the world was tuned (gensim word vectors recover its analogies, similarities and
hierarchy; word overlap cannot tell its WiC pairs apart) is recorded with its figures in
BENCHMARKS.md, "The synthetic world's calibration".

Every word has exactly one role (checked when the world is built). The world is a `World`
object built from a seed; each structure is a small function, and the corpus sampler and file
writers are separate, so later versions can add structures without touching the others. Change
anything that alters the output for a given (n_tokens, seed)? Bump `GENERATOR_VERSION`: it is a
cache key.

Modules, each importing only those before it: `lexicon` (knobs, word tables, specs, templates),
`world` (the seeded `World` and its checks), `sentences` (sentence samplers), `documents`
(paragraphs and documents), `gold` (gold rows, manifest, writers); `generate_world` is here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from research.data.synthetic.documents import sample_corpus
from research.data.synthetic.gold import (
    FILE_NAMES,
    HIERARCHY_COLUMNS,
    WIC_COLUMNS,
    _documents_jsonl,
    _tsv,
    _write,
    analogy_rows,
    hierarchy_rows,
    lemma_split,
    manifest,
    polysemy_rows,
    retrieval_rows,
    similarity_rows,
    sts_rows,
    wic_rows,
)
from research.data.synthetic.lexicon import (
    CATEGORY_CONTEXTS,
    GENERATOR_VERSION,
    MAX_QUESTIONS_PER_SECTION,
    MIN_TOKENS,
    RETRIEVAL_ROWS,
    STS_PAIRS,
)
from research.data.synthetic.sentences import relation_sentences
from research.data.synthetic.world import _streams, build_world, hierarchy_members, reserved_words
from research.errors import UserError

# What other code and the tests reach as `synthetic.X`.
__all__ = [
    "CATEGORY_CONTEXTS",
    "GENERATOR_VERSION",
    "MAX_QUESTIONS_PER_SECTION",
    "MIN_TOKENS",
    "WorldFiles",
    "build_world",
    "generate_world",
    "hierarchy_members",
    "lemma_split",
    "relation_sentences",
    "reserved_words",
]


@dataclass(frozen=True)
class WorldFiles:
    corpus: Path  # corpus.txt: one document per line, lowercase words [a-z]+ separated by spaces
    analogy: Path  # analogy.tsv
    similarity: Path  # similarity.tsv
    manifest: Path  # manifest.json
    documents: Path  # documents.jsonl: {"doc_id", "topic", "sentences"} per corpus line
    wic: Path  # wic.tsv: same/different sense pairs, the columns research/eval/sense.py reads
    sts_dev: Path  # sts-dev.csv: STS Benchmark format
    sts_test: Path  # sts-test.csv
    retrieval: Path  # retrieval.tsv: query, target (its paraphrase)
    polysemy: Path  # polysemy.tsv: labelled example sentences of every sense
    hierarchy: Path  # hierarchy.tsv: members and ancestors, the columns of WordNet ladders

    @classmethod
    def in_dir(cls, out: Path) -> WorldFiles:
        return cls(**{name: out / filename for name, filename in FILE_NAMES.items()})


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
