"""The model-family registry: config type -> how to train it. launch.py dispatches on it.

A family is its run config (a dataclass), `init(config, tx) -> (graphdef, state)`,
`step(config, graphdef, tx, schedule) -> step(state, batch) -> (state, metrics)` and
`batches(config, step) -> batch`; `train_and_evaluate` is the generic one below unless the
family brings its own (word2vec and the encoder do: they prepare corpora, evaluators and
reports). A new family is a model file, a step file and one `register_family` call
(CONTRIBUTING.md shows one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optax

from research.config import Config, EncoderRunConfig
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.io.writers import create_writers
from research.train import loop
from research.train import workdir as run_files
from research.train.nonfinite import with_skipping


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    config: type
    init: Callable | None = None
    step: Callable | None = None
    batches: Callable | None = None
    # (config, workdir, *, optimizer=None, schedule=None) -> results; None = train_generic
    train_and_evaluate: Callable | None = None

    def runner(self) -> Callable[..., dict]:
        if self.train_and_evaluate is not None:
            return self.train_and_evaluate
        return lambda config, workdir, **hooks: train_generic(self, config, workdir, **hooks)


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} is already registered")
    if family.train_and_evaluate is None and None in (family.init, family.step, family.batches):
        raise ValueError(f"family {family.name!r} needs init, step and batches")
    FAMILIES[family.name] = family
    return family


def family_for(config: Any) -> Family:
    for family in FAMILIES.values():
        if type(config) is family.config:
            return family
    raise UserError(
        f"no model family trains a {type(config).__name__}; registered: "
        f"{', '.join(f'{f.name} ({f.config.__name__})' for f in FAMILIES.values())}"
    )


def train_generic(
    family: Family,
    config: Any,
    workdir: str | Path,
    *,
    optimizer: Callable | None = None,
    schedule: Callable | None = None,
) -> dict[str, float]:
    """Train a family from its init/step/batches alone: config.train.{steps, learning_rate,
    log_every, checkpoint_every, skip_nonfinite} drive the loop; the optimizer defaults to Adam
    with a constant rate. Returns the last logged metrics, prefixed "train/"."""
    train = config.train
    workdir, changes = run_files.open_run(workdir, config)
    run_files.write_run_info(workdir, "", changes, family=family.name)
    lr_schedule = (schedule or (lambda c, n: optax.constant_schedule(c.train.learning_rate)))(
        config, train.steps
    )
    tx = with_skipping(
        (optimizer or (lambda c, s: optax.adam(s)))(config, lr_schedule), train.skip_nonfinite
    )
    last: dict[str, float] = {}

    def summarise(fetched: list[dict], counter: int) -> tuple[dict, float]:
        metrics, loss = loop.mean_metrics(fetched, train.skip_nonfinite)
        last.update(metrics)
        return metrics, loss

    trainer = loop.Trainer(
        init=lambda: family.init(config, tx),
        make_step=lambda graphdef, _: family.step(config, graphdef, tx, lr_schedule),
        batches=lambda start: (
            loop.Work(family.batches(config, s), 1, 0) for s in range(start, train.steps)
        ),
        summarise=summarise,
        total=train.steps,
        log_every=train.log_every,
        checkpoint_every=train.checkpoint_every,
        skip_nonfinite=train.skip_nonfinite,
        learning_rate=train.learning_rate,
        units="examples",
        progress=config.log.progress,
        profile_dir=workdir / "profile",
        profile_dispatches=config.log.profile_dispatches,
    )
    writer = create_writers(workdir, config, wandb=False)
    checkpointer = Checkpointer(workdir / "checkpoints")
    try:
        loop.train(trainer, checkpointer, writer)
    finally:
        writer.close()
        checkpointer.close()
    return {f"train/{key}": value for key, value in last.items()}


def _word2vec(config, workdir, **hooks):
    from research.train.word2vec import train_and_evaluate

    return train_and_evaluate(config, workdir, **hooks)


def _encoder(config, workdir, **hooks):
    from research.train.encoder import train_and_evaluate

    return train_and_evaluate(config, workdir, **hooks)


register_family(Family("word2vec", Config, train_and_evaluate=_word2vec))
register_family(Family("encoder", EncoderRunConfig, train_and_evaluate=_encoder))
