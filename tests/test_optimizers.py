"""Experiment files compose their own Optax optimizer: the Lion experiment trains, its state
checkpoints and a run interrupted mid-way resumes to the uninterrupted run's exact state."""

import json

import jax
import numpy as np
import optax
import pytest

import launch
from research import config as config_lib
from research.config import Config
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.train import encoder as encoder_trainer
from research.train import encoder_step, word2vec_step
from tests.step_hooks import after_dispatch, send_sigint

LION = launch.load_experiment("experiments/encoder_mlm_lion.py")


def lion_config():
    config = LION.get_config()
    overrides = {
        "data.synthetic_tokens": 60_000,
        "data.max_len": 64,
        "data.sentence_len": 32,
        "data.vocab_size": 800,
        "train.steps": 30,
        "train.learning_rate": 1e-3,  # a short run: the recipe's 1e-4 barely moves in 30 steps
        "train.batch_size": 8,
        "train.warmup_steps": 5,
        "train.log_every": 10,
        "train.checkpoint_every": 20,
        "eval.default_suite": False,  # the evaluators are tested elsewhere
        "log.progress": False,
    }
    return config_lib.apply_overrides(config, [f"{k}={v}" for k, v in overrides.items()])


def final_state(workdir, config):
    tx, _ = encoder_step.make_optimizer(config, LION.optimizer, LION.schedule)
    vocab = json.loads((workdir / "run.json").read_text())["vocab_size"]
    _, like = jax.eval_shape(lambda: encoder_step.init_state(config, vocab, tx))
    checkpoints = Checkpointer(workdir / "checkpoints")
    try:
        state, _ = checkpoints.restore(checkpoints.latest_step(), like)
    finally:
        checkpoints.close()
    return state


def test_lion_experiment_trains_and_resumes_exactly(tmp_path, monkeypatch):
    config = lion_config()
    hooks = {"optimizer": LION.optimizer, "schedule": LION.schedule}
    encoder_trainer.train_and_evaluate(config, tmp_path / "ref", **hooks)
    rows = [json.loads(line) for line in (tmp_path / "ref" / "metrics.jsonl").open()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < losses[0] - 0.3, losses
    reference = final_state(tmp_path / "ref", config)
    # Lion keeps one momentum per parameter (no second moment, unlike AdamW)
    assert "ScaleByLionState" in repr(jax.tree.structure(reference["opt_state"]))

    with monkeypatch.context() as patch:
        patch.setattr(
            encoder_step,
            "make_train_step",
            after_dispatch(encoder_step.make_train_step, 12, send_sigint),
        )
        with pytest.raises(UserError, match="interrupted"):
            encoder_trainer.train_and_evaluate(config, tmp_path / "run", **hooks)
    encoder_trainer.train_and_evaluate(config, tmp_path / "run", **hooks)
    resumed = final_state(tmp_path / "run", config)
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_word2vec_refuses_an_optimizer_with_per_row_state():
    with pytest.raises(UserError, match="per-parameter state"):
        word2vec_step.make_optimizer(Config(), 10, optimizer=lambda config, s: optax.adam(s))
    tx, schedule = word2vec_step.make_optimizer(
        Config(), 10, optimizer=lambda config, s: optax.chain(optax.clip(1.0), optax.sgd(s))
    )
    assert float(schedule(0)) == pytest.approx(config_lib.word2vec_learning_rate(Config()))
