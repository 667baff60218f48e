"""Non-finite losses: stop with the step range, or skip the bad steps' updates.

Both loops read metrics only at log time and check them before every checkpoint, so a bad state
is never saved. `train.skip_nonfinite=N` wraps the optimizer in optax.apply_if_finite: a step
whose gradients are not finite makes no update (counted), and only more than N consecutive ones
stop the run.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import optax

from research.errors import UserError


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


def with_skipping(tx: optax.GradientTransformation, limit: int) -> optax.GradientTransformation:
    """`tx`, or `tx` skipping non-finite updates (up to `limit` consecutive) when limit > 0."""
    return optax.apply_if_finite(tx, limit) if limit > 0 else tx


def skip_counts(opt_state: Any) -> dict[str, jax.Array]:
    """Skipped-step counters of optax.apply_if_finite (empty when skipping is off)."""
    if not isinstance(opt_state, optax.ApplyIfFiniteState):
        return {}
    return {
        "skipped_steps": opt_state.total_notfinite,
        "consecutive_skipped": opt_state.notfinite_count,
    }


def guard_nonfinite(
    loss: float, last_metrics: dict, skip_limit: int, first: int, last: int, learning_rate: float
) -> None:
    """Stop the run when the loss over steps (first, last] went bad; called before any save, so
    the last checkpoint on disk is always a good one.

    With skipping on (skip_limit > 0, optax.apply_if_finite) bad steps made no update and only
    more than `skip_limit` consecutive ones stop the run; `loss` then covers the good steps.
    """
    fix = (
        f"lower train.learning_rate (now {learning_rate}) or set train.skip_nonfinite=N to skip "
        "isolated bad batches, and start a new workdir or resume from the last checkpoint"
    )
    if skip_limit > 0:
        consecutive = int(last_metrics.get("consecutive_skipped", 0))
        if consecutive > skip_limit:
            raise TrainingDiverged(
                f"the gradients were not finite for {consecutive} consecutive steps "
                f"({last - consecutive}, {last}], more than train.skip_nonfinite={skip_limit}; "
                f"the last checkpoint is kept: {fix}"
            )
    elif not math.isfinite(loss):
        raise TrainingDiverged(
            f"the loss became {loss} between steps {first} and {last}; the last checkpoint is "
            f"kept: {fix}"
        )
