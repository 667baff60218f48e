"""The generic training loop every model family runs: init or resume, step, log, checkpoint.

A family hands `train` a `Trainer`: how to build its state, its jitted step, its batches from a
given position, and how to summarise its metrics. `train` restores the latest checkpoint (or
initialises), feeds batches to the step, keeps metrics on the device until a log boundary (the
only host-device syncs), checks the loss before every save (a bad state is never saved), and
turns Ctrl-C or SIGTERM into a checkpoint and a one-line `UserError` telling how to resume
(`run_steps`).

Several processes: a signal may reach one process only (Ctrl-C in one terminal). Were that
process to save and leave, the others would wait for it in the next collective for ever. So a
multi-process run acts on a stop request only at log boundaries, which every process reaches at
the same step, after an all-gather of the requests: then all save the same step and exit.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from research import distributed
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.io.writers import MultiWriter
from research.train.nonfinite import guard_nonfinite

Batch = TypeVar("Batch")


class ProfileWindow:
    """A `jax.profiler` trace of `dispatches` step calls, opened after the first log interval
    (so compilation and warm-up stay out of it) and closed once the last traced call's work is
    done. The trace (TensorBoard's profile plugin, or the `perfetto_trace.json.gz` beside it for
    ui.perfetto.dev) goes to `directory`; dispatches = 0 traces nothing."""

    def __init__(self, directory: Path | None, dispatches: int) -> None:
        self.directory, self.left = directory, dispatches if directory is not None else 0
        self.open = False

    def before_step(self, logged_once: bool) -> None:
        if self.left > 0 and not self.open and logged_once:
            jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True)
            self.open = True

    def after_step(self, state: Any) -> None:
        if self.open:
            self.left -= 1
            if self.left == 0:
                self.close(state)

    def close(self, state: Any) -> None:
        if not self.open:
            return
        if state is not None:
            jax.block_until_ready(state)  # the trace must hold the traced calls' device work
        jax.profiler.stop_trace()
        self.open, self.left = False, 0
        if distributed.is_main_process():
            print(f"profile written to {self.directory}", file=sys.stderr)


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
    else:
        # Committed to the device a restore puts it on: jit keys its programs on whether the
        # arguments are committed, so an uncommitted fresh state and a restored one would
        # compile the train step twice, and a resumed run would never reuse a fresh run's
        # program from the persistent compilation cache.
        state = jax.device_put(state, jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
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
    evaluate: Callable[[], None] | None = None,
    evaluate_every: int = 0,
) -> None:
    """Run `step` on every batch, then save once more.

    step(batch) -> (counter before, counter after); the counter (steps, blocks) is what
    `total`, `log_every`, `checkpoint_every` and `evaluate_every` count. flush() writes the
    pending metrics, save() checkpoints, evaluate() (periodic evaluation; every process calls
    it) runs every `evaluate_every` counts and after the last step, before that step's save.
    `progress` (a tqdm bar, or None) advances by `progress_unit` per count and is closed at the
    end. A stop request is saved, then raised as a one-line UserError.
    """
    stop = StopRequests()
    several = jax.process_count() > 1
    evaluated = after = None
    try:
        for batch in batches:
            before, after = step(batch)
            if progress is not None:
                progress.update((after - before) * progress_unit)
            at_log = crossed(before, after, log_every)
            if at_log:
                flush()
            if evaluate is not None and evaluate_every and crossed(before, after, evaluate_every):
                evaluate()
                evaluated = after
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
        if evaluate is not None and evaluate_every and after is not None and evaluated != after:
            flush()
            evaluate()
        save()
    finally:
        stop.restore()
        if progress is not None:
            progress.close()


# train.cpu_scheduler's names for XLA:CPU's op schedules. "memory" runs the operations one after
# another in a depth-first order, so each gets every core; "concurrency" (XLA's default in jaxlib
# 0.10.2) runs independent operations side by side. Which is faster depends on the step and the
# machine (BENCHMARKS.md, "Skip-gram on XLA:CPU's memory-optimised op schedule").
CPU_SCHEDULERS = {
    "memory": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    "concurrency": "CPU_SCHEDULER_TYPE_CONCURRENCY_OPTIMIZED",
}


def cpu_schedule(cpu_scheduler: str | None) -> str | None:
    """The op schedule a train step compiles with on this backend: `cpu_scheduler` on CPU, None
    elsewhere (other backends' compilers do not know it)."""
    return cpu_scheduler if jax.default_backend() == "cpu" else None


def step_compiler_options(
    xla_options: dict[str, str], cpu_scheduler: str | None = None
) -> dict[str, Any] | None:
    """A train step's `jax.jit(compiler_options=...)`: XLA:CPU's op schedule (`cpu_scheduler`, a
    key of CPU_SCHEDULERS), then the run's train.xla_options. XLA reads a bool option only as a
    Python bool, so "true"/"false" become one; other values go as written. None when there is
    nothing to set.

    Per jit rather than XLA_FLAGS, so they apply to the train step alone and need nothing set
    before JAX starts. The schedule is set on CPU only (cpu_schedule), and only where it is not
    XLA's default in jaxlib 0.10.2, "concurrency": a jit with compiler options cannot be
    transformed further (nested in another jit, differentiated), which tests of the word2vec
    step do. An xla_cpu_scheduler_type in `xla_options` wins over `cpu_scheduler`.
    """
    options = {}
    schedule = cpu_schedule(cpu_scheduler)
    if schedule not in (None, "concurrency"):
        options["xla_cpu_scheduler_type"] = CPU_SCHEDULERS[schedule]
    for name, value in xla_options.items():
        flag = str(value).strip().lower()
        options[name] = {"true": True, "false": False}.get(flag, value)
    if xla_options:  # XLA reads them at the step's first compile; a typo should stop the run now
        try:
            jax.jit(lambda: 0, compiler_options=options).lower().compile()
        except jax.errors.JaxRuntimeError as error:
            message = str(error).splitlines()[0]
            raise UserError(
                f"train.xla_options: {message} (names are XLA's flags without the dashes, "
                "e.g. xla_backend_optimization_level=0)"
            ) from None
    return options or None


def fresh_state(params: Any, tx: Any, seed: int) -> dict[str, Any]:
    """The train state every family starts from: parameters, optimizer state, step 0 and the
    base key that each step folds its step number into."""
    return {
        "params": params,
        "opt_state": tx.init(params),
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.PRNGKey(seed),
    }


@dataclasses.dataclass(frozen=True)
class Work:
    """One dispatch: the step's input, how far it moves the loop's counter (steps, or blocks),
    and how many units of work (tokens, words) it holds, for the throughput metric."""

    batch: Any
    count: int
    units: int


@dataclasses.dataclass
class Trainer:
    """What a model family hands `train` for one run.

    init() -> (graphdef, state), the fresh state (its shapes come from jax.eval_shape first);
    make_step(graphdef, shardings) -> step(state, batch) -> (state, metrics), jitted, state
    donated; batches(start) -> Work from counter `start` on; summarise(fetched metrics, counter)
    -> (logged metrics, the loss the divergence guard checks); position(counter) -> the data
    position stored with a checkpoint, and start_of(position) -> counter.
    """

    init: Callable[[], tuple[Any, Any]]
    make_step: Callable[[Any, Any], Callable[[Any, Any], tuple[Any, dict]]]
    batches: Callable[[int], Iterable[Work]]
    summarise: Callable[[list[dict], int], tuple[dict, float]]
    total: int
    log_every: int
    checkpoint_every: int
    skip_nonfinite: int
    learning_rate: float
    position: Callable[[int], dict] = lambda counter: {"step": counter}
    start_of: Callable[[dict], int] = lambda position: int(position["step"])
    shardings_for: Callable[[Any], Any] | None = None
    units: str = "tokens"  # what Work.units counts: metrics get "<units>_per_sec"
    progress: bool = True
    progress_unit: str = "step"  # the bar counts steps, or units ("word")
    units_per_count: int = 1  # units per counter step, for a bar that counts units
    # Periodic evaluation: evaluate(counter, state) every `evaluate_every` counts and after the
    # last one (run_steps), on every process; 0 = never.
    evaluate: Callable[[int, Any], None] | None = None
    evaluate_every: int = 0
    # log.profile_dispatches: trace that many step calls into profile_dir (ProfileWindow).
    profile_dir: Path | None = None
    profile_dispatches: int = 0


def _progress_bar(trainer: Trainer, start: int):
    if not trainer.progress or not distributed.is_main_process():
        return None
    from tqdm import tqdm

    if trainer.progress_unit == "step":
        return tqdm(
            total=trainer.total, initial=start, unit="step", desc="training", dynamic_ncols=True
        )
    scale = max(trainer.units_per_count, 1)
    return tqdm(
        total=trainer.total * scale,
        initial=start * scale,
        unit=trainer.progress_unit,
        unit_scale=True,
        desc="training",
        dynamic_ncols=True,
        smoothing=0.1,
    )


def train(
    trainer: Trainer, checkpointer: Checkpointer, writer: MultiWriter
) -> tuple[Any, Any, int]:
    """Run `trainer` to its total from the latest checkpoint (or a fresh state); returns
    (graphdef, state, counter at which this invocation started)."""
    graphdef, state, shardings, position = init_or_restore(
        trainer.init, checkpointer, trainer.shardings_for
    )
    start = 0 if position is None else trainer.start_of(position)
    if position is not None and distributed.is_main_process():
        print(
            f"resuming from step {start} of {trainer.total} ({checkpointer.directory})",
            file=sys.stderr,
        )
    if start >= trainer.total:
        return graphdef, state, start
    step_fn = trainer.make_step(graphdef, shardings)
    progress = _progress_bar(trainer, start)
    pending: list[dict] = []
    counter, last_counter, last_time, units = start, start, time.time(), 0
    compile_seconds = None
    profile = ProfileWindow(trainer.profile_dir, trainer.profile_dispatches)

    def flush() -> None:
        nonlocal last_counter, last_time, units
        if not pending:
            return
        metrics, loss = trainer.summarise(jax.device_get(pending), counter)
        guard_nonfinite(
            loss,
            metrics,
            trainer.skip_nonfinite,
            last_counter,
            counter,
            trainer.learning_rate,
        )
        now = time.time()
        seconds = max(now - last_time, 1e-9)
        metrics["steps_per_sec"] = (counter - last_counter) / seconds
        metrics[f"{trainer.units}_per_sec"] = units / seconds
        if compile_seconds is not None and last_counter == start:
            metrics["compile_seconds"] = compile_seconds
        writer.write(counter, metrics)
        if progress is not None:
            shown = {"loss": f"{metrics['loss']:.4f}"}
            if trainer.progress_unit != "step":
                shown["lr"] = f"{metrics['learning_rate']:.5f}"
            progress.set_postfix(**shown)
        pending.clear()
        last_counter, last_time, units = counter, now, 0

    def save() -> None:
        flush()  # never checkpoint a state whose loss went bad
        checkpointer.save(counter, state, trainer.position(counter))

    def advance(work: Work) -> tuple[int, int]:
        nonlocal state, counter, units, compile_seconds
        started = time.time()
        profile.before_step(logged_once=last_counter > start)
        state, metrics = step_fn(state, work.batch)
        profile.after_step(state)
        if compile_seconds is None:
            jax.block_until_ready(metrics)
            compile_seconds = time.time() - started
        counter += work.count
        units += work.units
        pending.append(metrics)
        return counter - work.count, counter

    try:
        run_steps(
            trainer.batches(start),
            advance,
            total=trainer.total,
            log_every=trainer.log_every,
            checkpoint_every=trainer.checkpoint_every,
            flush=flush,
            save=save,
            progress=progress,
            progress_unit=max(trainer.units_per_count, 1) if trainer.progress_unit != "step" else 1,
            evaluate=None if trainer.evaluate is None else lambda: trainer.evaluate(counter, state),
            evaluate_every=trainer.evaluate_every,
        )
    except BaseException:
        profile.close(None)  # the state may be a donated input: do not wait on it
        raise
    profile.close(state)
    return graphdef, state, start


def mean_metrics(fetched: list[dict], skip_nonfinite: int) -> tuple[dict, float]:
    """The mean of each metric over the logged steps (steps skipped as non-finite left out),
    the last learning rate and skip counters: the usual `Trainer.summarise`."""
    good = fetched
    if skip_nonfinite > 0:  # skipped steps made no update: leave them out
        good = [m for m in fetched if math.isfinite(float(m["loss"]))]
    metrics = {k: float(np.mean([m[k] for m in good])) if good else math.nan for k in fetched[0]}
    metrics["learning_rate"] = float(fetched[-1]["learning_rate"])
    for counter in ("skipped_steps", "consecutive_skipped"):
        if counter in fetched[-1]:
            metrics[counter] = int(fetched[-1][counter])
    return metrics, metrics["loss"]
