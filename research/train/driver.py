"""The step loop both trainers share: log and checkpoint boundaries, and clean stops.

`run_steps` feeds batches to a step function and, between dispatches, flushes metrics when a
log boundary is crossed, saves when a checkpoint boundary is crossed, and turns Ctrl-C or
SIGTERM into a checkpoint and a one-line `UserError` telling how to resume. Each trainer keeps
its own step function, metrics and checkpoint contents; only the skeleton is here.

Several processes: a signal may reach one process only (Ctrl-C in one terminal). Were that
process to save and leave, the others would wait for it in the next collective for ever. So a
multi-process run acts on a stop request only at log boundaries, which every process reaches at
the same step, after an all-gather of the requests: then all save the same step and exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import jax
import numpy as np

from research import distributed
from research.errors import UserError
from research.io.checkpoint import Checkpointer

Batch = TypeVar("Batch")


def init_or_restore(
    init: Callable[[], tuple[Any, Any]],
    checkpointer: Checkpointer,
    shardings_for: Callable[[Any], Any] | None = None,
) -> tuple[Any, Any, Any, dict | None]:
    """(graphdef, state, shardings, position): a fresh `init()` placed on its shardings, or the
    latest checkpoint restored (position is None for a fresh state).

    Shapes come first, from `jax.eval_shape(init)`: a resumed run restores into them and never
    builds weights it would overwrite (for 1 M x 300 word2vec tables, 2.3 GB on top of the
    restore). `shardings_for(abstract_state)` gives the state's shardings on a mesh.
    """
    graphdef, abstract = jax.eval_shape(init)
    shardings = None if shardings_for is None else shardings_for(abstract)
    latest = checkpointer.latest_step()
    if latest is not None:
        state, position = checkpointer.restore(latest, abstract, shardings)
        return graphdef, state, shardings, position
    _, state = init()
    if shardings is not None:
        state = distributed.place(state, shardings)
    return graphdef, state, shardings, None


class StopRequests:
    """Turns Ctrl-C and SIGTERM into a flag checked between dispatches.

    Raising inside a jitted call would leave the donated state half-consumed; checking the flag
    between calls lets the loop save a consistent checkpoint and exit cleanly. A second signal
    stops at once (KeyboardInterrupt).
    """

    def __init__(self) -> None:
        self.requested = ""
        self._previous: dict = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def agreed(self) -> str:
        """The request of any process, the same on all; every process must call it at the same
        step (one all-gather). With one process, this process's request."""
        if jax.process_count() == 1:
            return self.requested
        from jax.experimental import multihost_utils

        mine = signal.Signals[self.requested].value if self.requested else 0
        codes = np.asarray(multihost_utils.process_allgather(np.int32(mine))).reshape(-1)
        return signal.Signals(int(codes.max())).name if codes.any() else ""

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def crossed(before: int, after: int, every: int) -> bool:
    """Whether advancing a counter from `before` to `after` passes a multiple of `every`."""
    return before // every != after // every


def run_steps(
    batches: Iterable[Batch],
    step: Callable[[Batch], tuple[int, int]],
    *,
    total: int,
    log_every: int,
    checkpoint_every: int,
    flush: Callable[[], None],
    save: Callable[[], None],
    progress: Any = None,
    progress_unit: int = 1,
) -> None:
    """Run `step` on every batch, then save once more.

    step(batch) -> (counter before, counter after); the counter (steps, blocks) is what
    `total`, `log_every` and `checkpoint_every` count. flush() writes the pending metrics,
    save() checkpoints. `progress` (a tqdm bar, or None) advances by `progress_unit` per count
    and is closed at the end. A stop request is saved, then raised as a one-line UserError.
    """
    stop = StopRequests()
    several = jax.process_count() > 1
    try:
        for batch in batches:
            before, after = step(batch)
            if progress is not None:
                progress.update((after - before) * progress_unit)
            at_log = crossed(before, after, log_every)
            if at_log:
                flush()
            if crossed(before, after, checkpoint_every):
                save()
            if several:
                reason = stop.agreed() if at_log else ""
            else:
                reason = stop.requested
            if reason:
                save()
                raise UserError(
                    f"interrupted ({reason}) at step {after} of {total}; checkpoint saved: run "
                    "the same command with the same --workdir to resume"
                )
        save()
    finally:
        stop.restore()
        if progress is not None:
            progress.close()
