"""Acting in the middle of a training run: after the n-th dispatch of its jitted step.

Used by the interruption tests in-process (with monkeypatch) and by tests/distributed_run.py in
a subprocess; `tests` is importable as a namespace package from the repository root.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any


def after_dispatch(make_train_step: Callable, after: int, action: Callable[[], Any]) -> Callable:
    """A `make_train_step` whose steps call `action()` once, after the `after`-th dispatch
    (counted over every step function it makes)."""
    calls = 0

    def make(*args, **kwargs):
        step = make_train_step(*args, **kwargs)

        def hooked(*step_args):
            nonlocal calls
            out = step(*step_args)
            calls += 1
            if calls == after:
                action()
            return out

        return hooked

    return make


def send_sigint() -> None:
    """What Ctrl-C in the terminal does to this process."""
    os.kill(os.getpid(), signal.SIGINT)
