"""Staged training (train.init_from): a run starts from another run's encoder weights."""

import json
import shutil

import numpy as np
import pytest

from research.embed import load_encoder
from research.errors import UserError
from research.train import encoder as encoder_loop
from tests.test_encoder_train import tiny_config

QUICK = {"eval.default_suite": False}  # what these tests check is not the evaluation


@pytest.fixture(scope="module")
def parent_run(tmp_path_factory):
    """A 4-step MLM run: the pretraining stage."""
    workdir = tmp_path_factory.mktemp("parent")
    encoder_loop.train_and_evaluate(tiny_config(**{"train.steps": 4, **QUICK}), workdir)
    return workdir


def test_contrastive_fine_tuning_starts_from_the_mlm_run_and_resumes_on_its_own(
    parent_run, tmp_path
):
    parent = tmp_path / "parent"
    shutil.copytree(parent_run, parent)
    child = tmp_path / "child"
    config = tiny_config(
        **{
            "objective.kind": "contrastive",
            "train.init_from": str(parent),
            "train.steps": 1,
            **QUICK,
        }
    )
    encoder_loop.train_and_evaluate(config, child)
    record = json.loads((child / "run.json").read_text())["init_from"]
    parent_commit = json.loads((parent / "run.json").read_text())["git_commit"]
    assert record == {
        "path": str(parent.resolve()),
        "git_commit": parent_commit,
        "step": 4,
        "weights": "latest",
        "objective": "mlm",
        "loaded": ["encoder"],
        "fresh": ["projection"],  # the MLM run has no projection head
    }
    # The first step's learning rate is 0 (warmup), so the child's encoder is the parent's.
    texts = ["the king walked to the river", "a loan from the bank"]
    np.testing.assert_array_equal(
        load_encoder(parent).embed_sentences(texts), load_encoder(child).embed_sentences(texts)
    )
    # The same command again resumes the child's own checkpoint: the parent is not read.
    shutil.rmtree(parent)
    encoder_loop.train_and_evaluate(config, child)
    assert json.loads((child / "run.json").read_text())["init_from"] == record


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"data.vocab_size": 300}, "its tokeniser differs from this run's"),
        ({"model.size": "mini"}, "its encoder has another shape"),
    ],
)
def test_another_tokeniser_or_model_shape_is_refused(parent_run, tmp_path, overrides, message):
    config = tiny_config(
        **{"train.init_from": str(parent_run), "train.steps": 1, **QUICK, **overrides}
    )
    with pytest.raises(UserError, match=message):
        encoder_loop.train_and_evaluate(config, tmp_path)


def test_a_parent_that_is_not_a_run_is_refused(tmp_path):
    config = tiny_config(**{"train.init_from": str(tmp_path / "nothing"), **QUICK})
    with pytest.raises(UserError, match="is not an encoder run"):
        encoder_loop.train_and_evaluate(config, tmp_path / "run")


def test_selection_needs_both_settings(tmp_path):
    with pytest.raises(UserError, match="needs both eval.every"):
        encoder_loop.train_and_evaluate(tiny_config(**{"eval.every": 2, **QUICK}), tmp_path)
    with pytest.raises(UserError, match="NAME one of the run's evaluators"):
        encoder_loop.train_and_evaluate(
            tiny_config(**{"eval.every": 2, "eval.select": "sts/spearman", **QUICK}), tmp_path
        )
