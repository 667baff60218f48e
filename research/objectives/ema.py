"""The EMA target encoder of the multi-abstraction objective (data2vec / BYOL / I-JEPA style).

The target is a copy of the student encoder's parameters that trails it:

    target <- tau(step) * target + (1 - tau(step)) * student        after every optimizer step

The decay is sized to the run (`ema_schedule="half_life"`, the default): tau = 0.5^(1/h) with a
half-life h = `ema_half_life` x train.steps (5 % of the run, at least one step), so the initial
weights' share of the target halves every h steps: a quarter after the first 10 % of a run of
any length, 2^-10 = 0.1 % after half of it, and the teacher trails the student by about 1.4 h
steps. (1 % made the teacher almost the student within a tenth of the run, and lost to 5 % on
both the synthetic world and prose; README, "The multi-abstraction head".) data2vec's
schedule (`ema_schedule="linear"`: tau from `ema_start` 0.999 to `ema_end` 0.9999) was made for
hundreds of thousands of updates: over a 1,500-step run the product of its taus is 0.44, so the
targets stay mostly the random initialisation's features (the first multi-abstraction verdict's
setting, kept to reproduce it). Both are pure functions of the step, so a resumed run applies
exactly the decays of an uninterrupted one.

The target runs on the full, unmasked input, deterministically (no dropout) and under
`jax.lax.stop_gradient`; its per-token target is the layer-normalised average of its top K
layers (data2vec: averaging several layers gives a richer, less last-layer-specific target than
the final states alone).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def ema_decay(step: jax.Array | int, *, start: float, end: float, total_steps: int) -> jax.Array:
    """Linear schedule: tau is `start` at step 0, linear to `end` at `total_steps`, then `end`."""
    fraction = jnp.clip(jnp.asarray(step, jnp.float32) / max(total_steps, 1), 0.0, 1.0)
    return start + (end - start) * fraction


def half_life_decay(half_life_steps: float) -> float:
    """The constant tau under which a weight's share of the target halves every
    `half_life_steps` updates: 0.5 ** (1 / h)."""
    return 0.5 ** (1.0 / max(half_life_steps, 1e-6))


def schedule_decay(step: jax.Array | int, objective, total_steps: int) -> jax.Array:
    """tau at `step` under objective.ema_schedule (see the module docstring)."""
    if objective.ema_schedule == "linear":
        return ema_decay(
            step, start=objective.ema_start, end=objective.ema_end, total_steps=total_steps
        )
    # At least one step: in runs under 100 steps the teacher is then the previous steps'
    # average rather than a copy of the student.
    half_life = max(objective.ema_half_life * total_steps, 1.0)
    return jnp.asarray(half_life_decay(half_life), jnp.float32)


def relative_distance(target: Any, student: Any) -> jax.Array:
    """||target - student|| / ||student|| over every leaf: how far the teacher trails (0 = it
    is the student; ~1.4 for two independent initialisations)."""
    squares = jax.tree.map(
        lambda t, s: (jnp.sum(jnp.square(t.astype(jnp.float32) - s)), jnp.sum(jnp.square(s))),
        target,
        student,
    )
    pairs = jax.tree.leaves(squares, is_leaf=lambda x: isinstance(x, tuple))
    difference = sum(p[0] for p in pairs)
    norm = sum(p[1] for p in pairs)
    return jnp.sqrt(difference / jnp.maximum(norm, 1e-12))


def top_half(depth: int) -> int:
    """The default number of target layers: the top half of `depth` blocks, at least one."""
    return max(1, depth // 2)


def ema_update(target: Any, student: Any, decay: jax.Array | float) -> Any:
    """tau * target + (1 - tau) * student, leaf by leaf (any matching pytrees, e.g. nnx.State)."""
    decay = jnp.asarray(decay, jnp.float32)
    return jax.tree.map(
        lambda t, s: (decay * t + (1.0 - decay) * s).astype(t.dtype), target, student
    )


def layer_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """LayerNorm over the last axis without learned scale or bias, in float32."""
    x = x.astype(jnp.float32)
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def target_states(layers: list[jax.Array], top: int) -> jax.Array:
    """(B, L, D) float32 targets: the mean of the top `top` layers, each layer-normalised first.

    `layers` is the encoder's output, [embeddings, block_1, ..., block_N]; `top` counts blocks.

    Each layer is normalised before averaging because the pre-norm residual stream grows with
    depth: without it the deepest un-normalised block would dominate the average. The caller
    wraps the encoder call in stop_gradient (`target_encoder_states`).
    """
    if not 1 <= top <= len(layers) - 1:
        raise ValueError(f"target_layers={top}: the encoder has {len(layers) - 1} blocks")
    return jnp.mean(jnp.stack([layer_norm(h) for h in layers[-top:]]), axis=0)


def target_encoder_states(encoder, tokens: jax.Array, padding: jax.Array, top: int) -> jax.Array:
    """Run the target encoder on the full input without dropout; no gradient flows back."""
    states = encoder(tokens, padding, deterministic=True)
    return jax.lax.stop_gradient(target_states(states, top))
