"""The encoder's train state, optimizer and jitted train step (state donated).

Functional NNX (STYLE §5): the model is split once; the step merges, differentiates the weighted
sum of the configured objectives with respect to the parameters, applies AdamW and returns the
new state. Masking and dropout keys come from fold_in(key, step), so a resumed run repeats the
original's randomness exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from research.config import EncoderRunConfig, objective_weights
from research.data import tokenizer as tok
from research.models.text_model import TextModel
from research.objectives.contrastive import info_nce
from research.objectives.mlm import mask_tokens, mlm_loss
from research.objectives.next_token import next_token_loss

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
    return tx, schedule


def init_state(config: EncoderRunConfig, vocab_size: int, tx) -> tuple[nnx.GraphDef, TrainState]:
    model = TextModel(config, vocab_size, rngs=nnx.Rngs(params=config.train.seed))
    graphdef, params = nnx.split(model)
    state = {
        "params": params,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.PRNGKey(config.train.seed),
    }
    return graphdef, state


def objective_losses(
    model: TextModel, config: EncoderRunConfig, batch: dict, key: jax.Array
) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """Each configured objective's loss on `batch`, plus accuracies for logging."""
    terms = objective_weights(config.objective)
    mask_key, mlm_key, causal_key, view_a, view_b = jax.random.split(key, 5)
    losses, metrics = {}, {}
    if "mlm" in terms or "next_token" in terms:
        tokens = batch["tokens"]
        padding = tokens != tok.PAD
    if "mlm" in terms:
        inputs, targets, weights = mask_tokens(
            mask_key,
            tokens,
            tokens >= FIRST_WORD_ID,
            mask_id=tok.MASK,
            vocab_size=model.settings.vocab_size,
            rate=config.objective.mask_rate,
        )
        states = model.encoder(inputs, padding, deterministic=False, rngs=mlm_key)
        losses["mlm"], metrics["mlm_accuracy"] = mlm_loss(
            model.lm_logits(states[-1]), targets, weights
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
    return losses, metrics


def make_train_step(
    config: EncoderRunConfig, graphdef: nnx.GraphDef, tx, schedule
) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    weights = objective_weights(config.objective)

    def loss_fn(params, batch, key):
        model = nnx.merge(graphdef, params)
        losses, metrics = objective_losses(model, config, batch, key)
        total = sum(weights[name] * loss for name, loss in losses.items())
        metrics.update({f"{name}_loss": loss for name, loss in losses.items()})
        return total, metrics

    def train_step(state: TrainState, batch: dict):
        key = jax.random.fold_in(state["key"], state["step"])
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state["params"], batch, key
        )
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics.update(
            loss=loss, grad_norm=optax.global_norm(grads), learning_rate=schedule(state["step"])
        )
        new_state = {
            "params": params,
            "opt_state": opt_state,
            "step": state["step"] + 1,
            "key": state["key"],
        }
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0)
