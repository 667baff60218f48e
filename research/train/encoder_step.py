"""The encoder's train state, optimizer and jitted train step (state donated).

Functional NNX (STYLE §5): the model is split once; the step merges, differentiates the weighted
sum of the configured objectives with respect to the parameters, applies AdamW and returns the
new state. Masking and dropout keys come from fold_in(key, step), so a resumed run repeats the
original's randomness exactly.

With multi_abstraction the state also holds `target_params`, the EMA copy of the encoder's
parameters (objectives/ema.py): the loss reads them (never differentiated: they are not an
argument of the gradient, and the targets are also under stop_gradient), and after the optimizer
step they move towards the new encoder parameters with the scheduled decay tau(step).
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
from research.config import EncoderRunConfig, objective_weights
from research.data import tokenizer as tok
from research.models.text_model import TextModel
from research.objectives import ema, multilevel
from research.objectives.contrastive import info_nce
from research.objectives.mlm import (
    default_max_predictions,
    mask_tokens,
    masked_positions,
    mlm_loss,
)
from research.objectives.next_token import next_token_loss
from research.train.nonfinite import skip_counts, with_skipping

TrainState = dict[str, Any]
FIRST_WORD_ID = len(tok.SPECIAL_TOKENS)  # ids below are special tokens, never masked


def make_optimizer(config: EncoderRunConfig) -> tuple[optax.GradientTransformation, optax.Schedule]:
    train = config.train
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=train.learning_rate,
        warmup_steps=min(train.warmup_steps, max(train.steps - 1, 1)),
        decay_steps=max(train.steps, 2),
        end_value=train.learning_rate * 0.1,
    )

    def decay_mask(params):  # no weight decay on biases and LayerNorm scales
        return jax.tree.map(lambda p: p.ndim > 1, params)

    tx = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(schedule, weight_decay=train.weight_decay, mask=decay_mask),
    )
    return with_skipping(tx, train.skip_nonfinite), schedule


def init_state(config: EncoderRunConfig, vocab_size: int, tx) -> tuple[nnx.GraphDef, TrainState]:
    model = TextModel(config, vocab_size, rngs=nnx.Rngs(params=config.train.seed))
    graphdef, params = nnx.split(model)
    state = {
        "params": params,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.PRNGKey(config.train.seed),
    }
    if "multi_abstraction" in objective_weights(config.objective):
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
    """Each configured objective's loss on `batch`, plus accuracies for logging.

    target_encoder: the EMA encoder (multi_abstraction only).
    """
    terms = objective_weights(config.objective)
    mask_key, mlm_key, causal_key, view_a, view_b = jax.random.split(key, 5)
    losses, metrics = {}, {}
    if "mlm" in terms or "next_token" in terms:
        tokens = batch["tokens"]
        padding = tokens != tok.PAD
    if "mlm" in terms:
        max_predictions = default_max_predictions(tokens.shape[1], config.objective.mask_rate)
        inputs, targets, weights = mask_tokens(
            mask_key,
            tokens,
            tokens >= FIRST_WORD_ID,
            mask_id=tok.MASK,
            vocab_size=model.settings.vocab_size,
            rate=config.objective.mask_rate,
            max_predictions=max_predictions,
        )
        states = model.encoder(inputs, padding, deterministic=False, rngs=mlm_key)
        positions, scored = masked_positions(weights, max_predictions)
        picked = jnp.take_along_axis(states[-1], positions[..., None], axis=1)
        losses["mlm"], metrics["mlm_accuracy"] = mlm_loss(
            model.lm_logits(picked), jnp.take_along_axis(targets, positions, axis=1), scored
        )
    if "next_token" in terms:
        states = model.encoder(tokens, padding, causal=True, deterministic=False, rngs=causal_key)
        losses["next_token"], metrics["next_token_accuracy"] = next_token_loss(
            model.lm_logits(states[-1]), tokens, padding
        )
    if "contrastive" in terms:
        anchors = batch["anchors"]
        # SimCSE: the same sentences twice, different dropout; cpt-text: the next sentence.
        positives = anchors if config.objective.positives == "dropout" else batch["positives"]
        a = model.sentence_embedding(anchors, anchors != tok.PAD, deterministic=False, rngs=view_a)
        b = model.sentence_embedding(
            positives, positives != tok.PAD, deterministic=False, rngs=view_b
        )
        losses["contrastive"], metrics["contrastive_accuracy"] = info_nce(
            model.projection(a), model.projection(b), config.objective.temperature
        )
    if "multi_abstraction" in terms:
        # Its own key stream, so adding it leaves the other objectives' randomness unchanged.
        losses["multi_abstraction"], extra = multilevel.multi_abstraction_loss(
            model, target_encoder, config, batch, jax.random.fold_in(key, 1)
        )
        metrics.update(extra)
    return losses, metrics


def make_loss_fn(config: EncoderRunConfig, graphdef: nnx.GraphDef) -> Callable:
    """loss_fn(params, target_params, batch, key) -> (total, metrics); target_params is None
    unless the objective has multi_abstraction."""
    weights = objective_weights(config.objective)

    def loss_fn(params, target_params, batch, key):
        model = nnx.merge(graphdef, params)
        target_encoder = None
        if target_params is not None:
            encoder_graphdef = nnx.graphdef(model.encoder)
            target_encoder = nnx.merge(encoder_graphdef, target_params)
        losses, metrics = objective_losses(model, config, batch, key, target_encoder)
        total = sum(weights[name] * loss for name, loss in losses.items())
        metrics.update({f"{name}_loss": loss for name, loss in losses.items()})
        return total, metrics

    return loss_fn


CPU_SCHEDULERS = {
    "memory": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    "concurrency": "CPU_SCHEDULER_TYPE_CONCURRENCY_OPTIMIZED",
}


def compiler_options(config: EncoderRunConfig) -> dict[str, str] | None:
    """XLA options for the train step's jit: the CPU op schedule (config.train.cpu_scheduler).

    Per-jit rather than XLA_FLAGS, so it applies to the train step alone and needs nothing set
    before JAX starts. None on other backends, whose compilers do not know the CPU option.
    """
    if jax.default_backend() != "cpu":
        return None
    return {"xla_cpu_scheduler_type": CPU_SCHEDULERS[config.train.cpu_scheduler]}


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
            decay = ema.ema_decay(
                state["step"],
                start=objective.ema_start,
                end=objective.ema_end,
                total_steps=config.train.steps,
            )
            new_state["target_params"] = ema.ema_update(
                state["target_params"], params["encoder"], decay
            )
            metrics["ema_decay"] = decay
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
