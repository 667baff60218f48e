"""Context spaces (the multi-abstraction objective's FiLM table) on a polysemy file.

The claim under test: reading a polysemous word in the context of one of its senses' topics
(`embed_in_context("bank", "water")`) moves it towards that topic's words. For a lemma with
senses in topics A and B, in the space of context c (every vector read in c):

    m_c(q) = mean z-cos(q, words of A) - mean z-cos(q, words of B)
    shift(q) = m_A(q) - m_B(q)

positive when each context pulls q towards its own topic's words. z-cos is the cosine
standardised over every (word, topic word) pair of that space: a context whose beta merely
squeezes all cosines together (or a gamma that spreads them) would otherwise change m_c by a
factor and make a shift out of the word's plain margin alone. In the plain space (and under the
untrained table, which is the identity) m_A = m_B, so shift is 0 by construction.

Reported (all means over the lemma's sense pairs whose topics are both contexts):
    sense_margin           shift of the lemmas under the trained table
    untrained_film_margin  the same with the table reset to its initialisation (zero offsets);
                           0 by construction, computed to check it
    random_film_margin     the same with random tables of the trained table's size (per context,
                           gamma and beta offsets of the trained rows' RMS), mean over draws:
                           what any table of that size does
    control_margin         shift of words with no sense in either topic (the words of the other
                           topics, never lemmas), under the trained table: a context that pulls
                           *every* word to its topic (a topic lens, not a sense choice) gives
                           them the lemmas' shift
    specificity            sense_margin - control_margin

Topic words come from the file itself: the words of a topic's example sentences that no other
topic's sentences use (the shared templates drop out) and that are not lemmas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from research.eval.common import EvalResult
from research.eval.polysemy import SenseExample, read_sense_examples
from research.eval.vectors import unit_rows


@runtime_checkable
class ContextEncoder(Protocol):
    contexts: tuple[str, ...]

    def embed_in_context(self, texts: list[str], context: str) -> np.ndarray: ...

    def context_table(self) -> tuple[np.ndarray, np.ndarray]: ...

    def with_context_table(self, gamma_offset: np.ndarray, beta_offset: np.ndarray): ...


@dataclass(frozen=True)
class ContextProbe:
    """Sense pairs (lemma, topic A, topic B) and each topic's own words."""

    pairs: tuple[tuple[str, str, str], ...]
    topic_words: dict[str, tuple[str, ...]]

    @property
    def words(self) -> list[str]:
        """Every word embedded: lemmas first, then the topic words."""
        lemmas = list(dict.fromkeys(lemma for lemma, _, _ in self.pairs))
        return lemmas + [w for ws in self.topic_words.values() for w in ws]


def build_probe(examples: Sequence[SenseExample], contexts: Sequence[str]) -> ContextProbe:
    """The sense pairs whose topics are both in `contexts`, and every topic's own words."""
    senses: dict[str, dict[str, str]] = {}
    users: dict[str, set[str]] = {}
    for e in examples:
        senses.setdefault(e.lemma, {})[e.sense] = e.topic
        for word in e.sentence.split():
            users.setdefault(word, set()).add(e.topic)
    topic_words: dict[str, list[str]] = {}
    for word, topics in users.items():
        if len(topics) == 1 and word not in senses:
            topic_words.setdefault(next(iter(topics)), []).append(word)
    pairs = []
    for lemma, by_sense in senses.items():
        topics = sorted(set(by_sense.values()))
        for i, a in enumerate(topics):
            for b in topics[i + 1 :]:
                if a in contexts and b in contexts and a in topic_words and b in topic_words:
                    pairs.append((lemma, a, b))
    return ContextProbe(tuple(pairs), {t: tuple(sorted(ws)) for t, ws in topic_words.items()})


def standardised_cosines(vectors: np.ndarray, keys: np.ndarray, same: np.ndarray) -> np.ndarray:
    """(Q, K) cosines of `vectors` (Q, D) with `keys` (K, D), z-scored over the pairs that are
    not a word with itself (`same`, (Q, K) bool; those entries are set to NaN)."""
    cos = (unit_rows(vectors) @ unit_rows(keys).T).astype(np.float64)
    cos[same] = np.nan
    return (cos - np.nanmean(cos)) / max(float(np.nanstd(cos)), 1e-12)


def pair_shift(z: Mapping[str, np.ndarray], query: int, a_keys, b_keys, a: str, b: str) -> float:
    """m_A(q) - m_B(q) from the z-cosine matrices of the spaces A and B (module docstring)."""

    def margin(space: str) -> float:
        return float(np.mean(z[space][query, a_keys]) - np.mean(z[space][query, b_keys]))

    return margin(a) - margin(b)


def context_margins(
    probe: ContextProbe, spaces: Mapping[str, np.ndarray]
) -> tuple[float, float, dict[str, float]]:
    """(lemma shift, control shift, {lemma:A:B: shift}) from vectors of `probe.words` read in
    each context (`spaces[c]`: (len(words), D))."""
    words = probe.words
    row = {w: i for i, w in enumerate(words)}
    key_words = [w for ws in probe.topic_words.values() for w in ws]
    key_index = {w: i for i, w in enumerate(key_words)}
    keys_of = {t: np.array([key_index[w] for w in ws]) for t, ws in probe.topic_words.items()}
    same = np.array([[q == k for k in key_words] for q in words])
    needed = {t for _, a, b in probe.pairs for t in (a, b)}
    key_rows = [row[w] for w in key_words]
    z = {c: standardised_cosines(spaces[c], spaces[c][key_rows], same) for c in needed}
    per_pair, controls = {}, []
    for lemma, a, b in probe.pairs:
        per_pair[f"{lemma}:{a}:{b}"] = pair_shift(z, row[lemma], keys_of[a], keys_of[b], a, b)
        others = [w for t, ws in probe.topic_words.items() if t not in (a, b) for w in ws]
        controls.append(
            np.mean([pair_shift(z, row[w], keys_of[a], keys_of[b], a, b) for w in others])
        )
    return float(np.mean(list(per_pair.values()))), float(np.mean(controls)), per_pair


def embed_spaces(model: ContextEncoder, probe: ContextProbe) -> dict[str, np.ndarray]:
    """{context: probe.words read in that context} for the contexts the pairs use."""
    needed = sorted({t for _, a, b in probe.pairs for t in (a, b)})
    return {c: model.embed_in_context(probe.words, c) for c in needed}


def random_table(
    rng: np.random.Generator, gamma: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian offsets with each context row's RMS of the trained offsets (gamma and beta
    apart): a table as large as the trained one, pointing nowhere in particular."""

    def draw(table: np.ndarray) -> np.ndarray:
        rms = np.sqrt(np.mean(np.square(table), axis=1, keepdims=True))
        return (rng.standard_normal(table.shape) * rms).astype(np.float32)

    return draw(gamma), draw(beta)


@dataclass
class ContextSpaces:
    """Evaluator: context-space shifts of a polysemy file's lemmas against three controls."""

    name: str
    path: str | Path
    random_tables: int = 8
    seed: int = 0
    examples: list[SenseExample] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.examples = read_sense_examples(self.path)  # fail early on a malformed file

    def run(self, model) -> EvalResult:
        contexts = tuple(getattr(model, "contexts", ()))
        probe = build_probe(self.examples, contexts)
        if not isinstance(model, ContextEncoder) or not probe.pairs:
            note = f"### {self.name}: no context spaces (no sense pair whose topics are contexts)\n"
            return EvalResult(metrics={}, markdown=note)
        sense, control, per_pair = context_margins(probe, embed_spaces(model, probe))
        gamma, beta = model.context_table()
        zeros = np.zeros_like(gamma)
        untrained, _, _ = context_margins(
            probe, embed_spaces(model.with_context_table(zeros, zeros), probe)
        )
        rng = np.random.default_rng(self.seed)
        random_margins = [
            context_margins(
                probe,
                embed_spaces(model.with_context_table(*random_table(rng, gamma, beta)), probe),
            )[0]
            for _ in range(self.random_tables)
        ]
        metrics = {
            "sense_margin": sense,
            "untrained_film_margin": untrained,
            "random_film_margin": float(np.mean(random_margins)),
            "random_film_margin_sd": float(np.std(random_margins)),
            "control_margin": control,
            "specificity": sense - control,
            "pairs": len(probe.pairs),
        }
        lines = "\n".join(f"| {k} | {v:+.3f} |" for k, v in per_pair.items())
        markdown = (
            f"### {self.name}: context spaces ({Path(self.path).name})\n\n"
            f"Shift towards the context's topic (z-cosine units) over {len(probe.pairs)} sense "
            f"pairs: trained {sense:+.3f}, untrained table {untrained:+.3f}, random tables "
            f"{metrics['random_film_margin']:+.3f} ± {metrics['random_film_margin_sd']:.3f}, "
            f"control words {control:+.3f}.\n\n| lemma:A:B | shift |\n|---|---|\n{lines}\n"
        )
        return EvalResult(metrics=metrics, markdown=markdown)
