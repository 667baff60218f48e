"""The evaluator registry: registering a kind, building evaluators from a config table, errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from research.errors import UserError
from research.eval import (
    EVALUATORS,
    EvalResult,
    Evaluator,
    evaluators_from_config,
    make_evaluator,
    register_evaluator,
    run_evaluators,
)
from research.eval.vectors import WordVectors

TOY_KIND = "toy_kind"


@dataclass
class VocabularyCount:
    """Toy evaluator: how many of `words` the vectors have (case-sensitive, exact)."""

    name: str
    words: list[str]
    minimum: int = 0

    def run(self, vectors: WordVectors) -> EvalResult:
        found = sum(word in vectors for word in self.words)
        return EvalResult(
            metrics={"in_vocab": found, "share": found / len(self.words)},
            markdown=f"### {self.name}: {found} of {len(self.words)} words in the vocabulary",
        )


@pytest.fixture
def toy_kind():
    """Register VocabularyCount as TOY_KIND for one test; the registry is restored afterwards."""
    before = dict(EVALUATORS)
    register_evaluator(TOY_KIND, VocabularyCount)
    yield TOY_KIND
    EVALUATORS.clear()
    EVALUATORS.update(before)


def vectors(words: list[str]) -> WordVectors:
    return WordVectors(words, np.eye(len(words), dtype=np.float32))


def test_registered_kind_builds_from_config_and_runs(toy_kind):
    (toy,) = evaluators_from_config({"toy": {"kind": toy_kind, "words": ["cat", "dog", "emu"]}})
    assert isinstance(toy, VocabularyCount) and isinstance(toy, Evaluator)
    assert toy.name == "toy" and toy.minimum == 0
    results, markdown = run_evaluators([toy], vectors(["cat", "dog", "bird"]))
    assert results == {"toy/in_vocab": 2, "toy/share": pytest.approx(2 / 3)}
    assert isinstance(results["toy/in_vocab"], int)
    assert markdown == "### toy: 2 of 3 words in the vocabulary\n"


def test_config_keeps_order_and_mixes_builtin_and_registered_kinds(toy_kind):
    evaluators = evaluators_from_config(
        {
            "nn": {"kind": "nearest_neighbours", "words": ["cat"], "topn": 1},
            "toy": {"kind": toy_kind, "words": ["cat"], "minimum": 1},
        }
    )
    assert [e.name for e in evaluators] == ["nn", "toy"]
    results, _ = run_evaluators(evaluators, vectors(["cat", "dog"]))
    assert results["nn/queries"] == 1 and results["toy/in_vocab"] == 1


def test_register_as_decorator_and_duplicate_kind_is_refused(toy_kind):
    with pytest.raises(ValueError, match="'toy_kind' is already registered"):
        register_evaluator(toy_kind, VocabularyCount)
    with pytest.raises(ValueError, match="'word_similarity' is already registered"):
        register_evaluator("word_similarity")(VocabularyCount)

    @register_evaluator("toy_decorated")
    @dataclass
    class Decorated:
        name: str

        def run(self, vectors: WordVectors) -> EvalResult:
            return EvalResult(metrics={"words": len(vectors)})

    assert EVALUATORS["toy_decorated"] is Decorated
    results, _ = run_evaluators([make_evaluator("toy_decorated", name="d")], vectors(["a"]))
    assert results == {"d/words": 1}


def test_registration_is_cleaned_up_after_each_test():
    assert TOY_KIND not in EVALUATORS and "toy_decorated" not in EVALUATORS


def test_unknown_kind_names_the_evaluator_and_lists_kinds(toy_kind):
    with pytest.raises(
        UserError, match=r"evaluator 'mine' has unknown kind 'toy'; valid kinds: "
    ) as err:
        evaluators_from_config({"mine": {"kind": "toy", "words": ["a"]}})
    message = str(err.value)
    assert "\n" not in message and "toy_kind" in message and "word_similarity" in message
    with pytest.raises(UserError, match="evaluator 'mine' has no kind; valid kinds: analogy"):
        evaluators_from_config({"mine": {"words": ["a"]}})


def test_unknown_or_missing_option_names_the_evaluator_and_lists_options(toy_kind):
    with pytest.raises(
        UserError,
        match=r"evaluator 'mine' \(toy_kind\) got unknown option\(s\) wrods; "
        r"valid options: words, minimum",
    ) as err:
        evaluators_from_config({"mine": {"kind": toy_kind, "wrods": ["a"]}})
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=r"evaluator 'mine' \(toy_kind\).*valid options: words"):
        evaluators_from_config({"mine": {"kind": toy_kind}})


def test_malformed_config_entries_are_user_errors():
    with pytest.raises(UserError, match="evaluator 'mine' must be a table"):
        evaluators_from_config({"mine": "word_similarity"})
    with pytest.raises(UserError, match="evaluators must be a table"):
        evaluators_from_config([{"kind": "analogy"}])  # type: ignore[arg-type]
    assert evaluators_from_config({}) == []
