"""The encoder's train state, optimizer and jitted train step (state donated).

Functional NNX: the model is split once; the step merges, differentiates the weighted sum of the
configured objectives (the objective registry) with respect to the parameters, applies the
optimizer and returns the new state. Masking and dropout keys come from fold_in(key, step), so a
resumed run repeats the original's randomness exactly.

With an objective that has an EMA target (multi_abstraction) the state also holds
`target_params`, the EMA copy of the encoder's parameters (objectives/ema.py): the loss reads
them (never differentiated: they are not an argument of the gradient, and the targets are also
under stop_gradient), and after the optimizer step they move towards the new encoder parameters
with the scheduled decay tau(step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from research import distributed
from research.config import EncoderRunConfig
from research.models.text_model import TextModel
from research.objectives import ema, weighted_sum
from research.objectives import registry as objectives
from research.train.loop import fresh_state, step_compiler_options
from research.train.nonfinite import skip_counts, with_skipping

TrainState = dict[str, Any]
OptimizerFn = Callable[[EncoderRunConfig, optax.Schedule], optax.GradientTransformation]
ScheduleFn = Callable[[EncoderRunConfig, int], optax.Schedule]


def default_schedule(config: EncoderRunConfig, total_steps: int) -> optax.Schedule:
    """Linear warmup to train.learning_rate, cosine decay to a tenth of it at the last step."""
    train = config.train
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=train.learning_rate,
        warmup_steps=min(train.warmup_steps, max(total_steps - 1, 1)),
        decay_steps=max(total_steps, 2),
        end_value=train.learning_rate * 0.1,
    )


def default_optimizer(
    config: EncoderRunConfig, schedule: optax.Schedule
) -> optax.GradientTransformation:
    """Global-norm clipping at 1, then AdamW with no weight decay on biases and LayerNorm scales."""

    def decay_mask(params):
        return jax.tree.map(lambda p: p.ndim > 1, params)

    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(schedule, weight_decay=config.train.weight_decay, mask=decay_mask),
    )


def make_optimizer(
    config: EncoderRunConfig,
    optimizer: OptimizerFn | None = None,
    schedule: ScheduleFn | None = None,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """(tx, schedule): an experiment's `optimizer(config, schedule)` and `schedule(config,
    total_steps)`, or the defaults; wrapped to skip non-finite updates when
    train.skip_nonfinite > 0."""
    lr_schedule = (schedule or default_schedule)(config, config.train.steps)
    tx = (optimizer or default_optimizer)(config, lr_schedule)
    return with_skipping(tx, config.train.skip_nonfinite), lr_schedule


def init_state(
    config: EncoderRunConfig,
    vocab_size: int,
    tx,
    start_from: Callable[[Any], Any] | None = None,
) -> tuple[nnx.GraphDef, TrainState]:
    """A fresh train state; `start_from(params) -> params` replaces freshly drawn weights
    (train.init_from: a parent run's), before the EMA target copies the encoder."""
    model = objectives.text_model(config, vocab_size, rngs=nnx.Rngs(params=config.train.seed))
    graphdef, params = nnx.split(model)
    if start_from is not None:
        params = start_from(params)
    state = fresh_state(params, tx, config.train.seed)
    if objectives.needs_ema_target(config):
        # A copy, not an alias: the train step donates the state's buffers.
        state["target_params"] = jax.tree.map(jnp.copy, params["encoder"])
    return graphdef, state


def objective_losses(
    model: TextModel,
    config: EncoderRunConfig,
    batch: dict,
    key: jax.Array,
    target_encoder=None,
) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """Each configured objective's loss on `batch`, plus its metrics (accuracies, monitors).

    Every objective gets the step's key and derives its own streams from it, so adding one to a
    sum leaves the others' randomness unchanged. target_encoder: the EMA encoder, or None.
    """
    losses, metrics = {}, {}
    for name, (objective, _) in objectives.configured(config).items():
        losses[name], extra = objective.loss(model, config, batch, key, target_encoder)
        metrics.update(extra)
    return losses, metrics


def make_loss_fn(config: EncoderRunConfig, graphdef: nnx.GraphDef) -> Callable:
    """loss_fn(params, target_params, batch, key) -> (total, metrics); target_params is None
    unless an objective keeps an EMA target."""
    weights = {name: weight for name, (_, weight) in objectives.configured(config).items()}

    def loss_fn(params, target_params, batch, key):
        model = nnx.merge(graphdef, params)
        target_encoder = None
        if target_params is not None:
            encoder_graphdef = nnx.graphdef(model.encoder)
            target_encoder = nnx.merge(encoder_graphdef, target_params)
        losses, metrics = objective_losses(model, config, batch, key, target_encoder)
        metrics.update({f"{name}_loss": loss for name, loss in losses.items()})
        return weighted_sum(losses, weights), metrics

    return loss_fn


def compiler_options(config: EncoderRunConfig) -> dict[str, Any] | None:
    """XLA options for the train step's jit: the CPU op schedule (config.train.cpu_scheduler),
    then train.xla_options (loop.step_compiler_options)."""
    return step_compiler_options(config.train.xla_options, config.train.cpu_scheduler)


def make_train_step(
    config: EncoderRunConfig,
    graphdef: nnx.GraphDef,
    tx,
    schedule,
    mesh: Mesh | None = None,
    shardings: TrainState | None = None,
) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """`train_step(state, batch) -> (state, metrics)`, jitted with the state donated.

    With a `mesh`, `batch` is the global host batch (numpy): each process puts its rows on its
    devices, split over the data axis, and the step runs on the global batch with the state
    replicated (`shardings`), the same math as one device.
    """
    loss_fn = make_loss_fn(config, graphdef)
    objective = config.objective

    def train_step(state: TrainState, batch: dict):
        key = jax.random.fold_in(state["key"], state["step"])
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state["params"], state.get("target_params"), batch, key
        )
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics.update(
            loss=loss,
            grad_norm=optax.global_norm(grads),
            learning_rate=schedule(state["step"]),
            **skip_counts(opt_state),
        )
        new_state = {
            "params": params,
            "opt_state": opt_state,
            "step": state["step"] + 1,
            "key": state["key"],
        }
        if "target_params" in state:
            decay = ema.schedule_decay(state["step"], objective, config.train.steps)
            target = ema.ema_update(state["target_params"], params["encoder"], decay)
            new_state["target_params"] = target
            metrics["ema_decay"] = decay
            metrics["teacher_distance"] = ema.relative_distance(target, params["encoder"])
        return new_state, metrics

    options = compiler_options(config)
    if mesh is None:
        return jax.jit(train_step, donate_argnums=0, compiler_options=options)
    step = jax.jit(
        train_step,
        in_shardings=(shardings, distributed.split_along(mesh, 0, 1)),
        out_shardings=(shardings, distributed.replicated(mesh)),
        donate_argnums=0,
        compiler_options=options,
    )

    def sharded_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        return step(state, distributed.shard_batch(mesh, batch))

    return sharded_step
