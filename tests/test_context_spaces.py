"""The context-space measure (research/eval/context_spaces.py) on hand-built encoders."""

import numpy as np
import pytest

from research.eval.context_spaces import ContextSpaces, build_probe
from research.eval.polysemy import SenseExample
from research.eval.registry import make_evaluator

# Two polysemous lemmas over three topics; "the", "near" and "saw" are template words every
# topic uses.
SENTENCES = [
    ("bank", "river", "water", "the bank near the shore saw tide"),
    ("bank", "river", "water", "the bank near the waves saw shore"),
    ("bank", "money", "finance", "the bank near the loan saw debt"),
    ("bank", "money", "finance", "the bank near the profit saw loan"),
    ("bat", "club", "sports", "the bat near the goal saw team"),
    ("bat", "animal", "water", "the bat near the tide saw waves"),
]
TOPIC_WORDS = {
    "water": ["shore", "tide", "waves"],
    "finance": ["debt", "loan", "profit"],
    "sports": ["goal", "team"],
}


def write_file(path):
    lines = ["lemma\tsense\ttopic\tstart\tend\tsentence"]
    for lemma, sense, topic, sentence in SENTENCES:
        start = sentence.index(lemma)
        lines.append(f"{lemma}\t{sense}\t{topic}\t{start}\t{start + len(lemma)}\t{sentence}")
    path.write_text("\n".join(lines) + "\n")
    return path


class FakeContextEncoder:
    """Words as fixed vectors: topic t's words near axis t, each lemma between its senses'
    axes, the FiLM table applied as ContextFiLM does (scale 1)."""

    contexts = ("water", "finance", "sports")

    def __init__(self, gamma=None, beta=None, seed=0):
        rng = np.random.default_rng(seed)
        dim = 8
        self.vectors = {}
        for t, words in enumerate(TOPIC_WORDS.values()):
            for word in words:
                self.vectors[word] = np.eye(dim)[t] + 0.3 * rng.standard_normal(dim)
        self.vectors["bank"] = np.eye(dim)[0] + np.eye(dim)[1] + 0.1 * rng.standard_normal(dim)
        self.vectors["bat"] = np.eye(dim)[0] + np.eye(dim)[2] + 0.1 * rng.standard_normal(dim)
        shape = (len(self.contexts), dim)
        self.gamma = np.zeros(shape) if gamma is None else gamma
        self.beta = np.zeros(shape) if beta is None else beta
        self.seed = seed

    def embed_in_context(self, texts, context):
        c = self.contexts.index(context)
        e = np.stack([self.vectors[t] for t in texts])
        return ((1 + self.gamma[c]) * e + self.beta[c]).astype(np.float32)

    def context_table(self):
        return self.gamma, self.beta

    def with_context_table(self, gamma, beta):
        return FakeContextEncoder(gamma, beta, self.seed)


def lens_table(strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Context t amplifies axis t: a table that provably pulls every vector towards t."""
    gamma = np.zeros((3, 8))
    for t in range(3):
        gamma[t, t] = strength
    return gamma, np.zeros((3, 8))


def test_probe_takes_each_topics_own_words_and_the_pairs_of_contexts(tmp_path):
    from research.eval.polysemy import read_sense_examples

    examples = read_sense_examples(write_file(tmp_path / "p.tsv"))
    probe = build_probe(examples, ("water", "finance", "sports"))
    assert probe.topic_words == {t: tuple(sorted(w)) for t, w in TOPIC_WORDS.items()}
    assert set(probe.pairs) == {("bank", "finance", "water"), ("bat", "sports", "water")}
    # A pair needs both topics among the contexts.
    assert build_probe(examples, ("water", "finance")).pairs == (("bank", "finance", "water"),)
    assert isinstance(examples[0], SenseExample)


def test_identity_table_gives_zero_and_a_lens_table_a_positive_shift(tmp_path):
    evaluator = make_evaluator(
        "context_spaces", name="context_space", path=str(write_file(tmp_path / "p.tsv"))
    )
    assert isinstance(evaluator, ContextSpaces)
    untrained = evaluator.run(FakeContextEncoder()).metrics
    assert untrained["sense_margin"] == pytest.approx(0, abs=1e-9)
    assert untrained["untrained_film_margin"] == pytest.approx(0, abs=1e-9)
    assert untrained["control_margin"] == pytest.approx(0, abs=1e-9)
    lensed = evaluator.run(FakeContextEncoder(*lens_table(2.0))).metrics
    assert lensed["pairs"] == 2
    assert lensed["sense_margin"] > 0.5
    # The controls: the reset table is the identity whatever was trained, and random tables of
    # the same size do not pull towards the context's topic on average.
    assert lensed["untrained_film_margin"] == pytest.approx(0, abs=1e-9)
    assert abs(lensed["random_film_margin"]) < lensed["sense_margin"] / 2
    # A lens pulls everything: the words of the third topic move too, less than the lemmas
    # (which lie between the two topics' axes).
    assert 0 < lensed["control_margin"] < lensed["sense_margin"]
    assert lensed["specificity"] == pytest.approx(lensed["sense_margin"] - lensed["control_margin"])
    # The opposite table (each context pushes away from its topic) gives a negative shift.
    gamma, beta = lens_table(-0.5)
    assert evaluator.run(FakeContextEncoder(gamma, beta)).metrics["sense_margin"] < 0


def test_a_uniform_scale_or_an_encoder_without_contexts_measures_nothing(tmp_path):
    evaluator = ContextSpaces("context_space", write_file(tmp_path / "p.tsv"))
    # gamma the same in every dimension rescales vectors: cosines, and so shifts, unchanged
    gamma = np.zeros((3, 8))
    gamma[0], gamma[1] = 3.0, -0.5
    metrics = evaluator.run(FakeContextEncoder(gamma)).metrics
    assert metrics["sense_margin"] == pytest.approx(0, abs=1e-6)

    class Plain:
        contexts = ()

    result = evaluator.run(Plain())
    assert result.metrics == {} and "no context spaces" in result.markdown
