"""The EMA target encoder of the multi-abstraction objective (data2vec / BYOL / I-JEPA style).

The target is a copy of the student encoder's parameters that trails it:

    target <- tau(step) * target + (1 - tau(step)) * student        after every optimizer step

with tau rising linearly from `ema_start` (0.999) to `ema_end` (0.9999) over the run, so early
targets follow the fast-changing student and late targets are nearly frozen. The schedule is a
pure function of the step, so a resumed run applies exactly the decays of an uninterrupted one.

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
    """tau at `step`: `start` at step 0, linear to `end` at `total_steps`, `end` afterwards."""
    fraction = jnp.clip(jnp.asarray(step, jnp.float32) / max(total_steps, 1), 0.0, 1.0)
    return start + (end - start) * fraction


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

    Each layer is normalised before averaging because the pre-norm residual stream grows with
    depth: without it the deepest un-normalised block would dominate the average. The caller
    wraps the encoder call in stop_gradient (`target_encoder_states`).
    """
    if not 1 <= top <= len(layers):
        raise ValueError(f"target_layers={top}: the encoder returns {len(layers)} layers")
    return jnp.mean(jnp.stack([layer_norm(h) for h in layers[-top:]]), axis=0)


def target_encoder_states(encoder, tokens: jax.Array, padding: jax.Array, top: int) -> jax.Array:
    """Run the target encoder on the full input without dropout; no gradient flows back."""
    states = encoder(tokens, padding, deterministic=True)
    return jax.lax.stop_gradient(target_states(states, top))
