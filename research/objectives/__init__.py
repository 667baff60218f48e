"""Training objectives (pure functions of arrays) and the helper that combines them."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def weighted_sum(losses: dict[str, jax.Array], weights: dict[str, float]) -> jax.Array:
    """Σ weights[name] · losses[name], in float32.

    The two dicts must name the same objectives: a loss without a weight (or a weight without a
    loss) is almost always a config typo, and silently dropping it would train something else.
    Give weight 0.0 to compute and log a loss without training on it.
    """
    if set(losses) != set(weights):
        raise ValueError(
            f"losses {sorted(losses)} and weights {sorted(weights)} name different objectives"
        )
    total = jnp.zeros((), jnp.float32)
    for name in sorted(losses):  # fixed order: the float sum is the same run to run
        total = total + weights[name] * jnp.asarray(losses[name], jnp.float32)
    return total
