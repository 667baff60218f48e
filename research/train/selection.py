"""Model selection during training: evaluate every `eval.every` steps, keep the best parameters.

`eval.select=NAME/METRIC` names one configured evaluator and one of its metrics (higher is
better: Spearman, accuracy, recall). Every `eval.every` steps and after the last step the
evaluator runs on the current parameters; its metrics go to metrics.jsonl as
`<NAME>/<metric>` at that step, and when the selected metric beats the best so far the
parameters are saved in `best/` (one Orbax checkpoint, its step, metric and value beside it).
The run's final evaluation, `load_encoder` and `train.init_from` then read `best/`.

Resumes: best/ survives an interruption with its value, and a resumed run re-evaluates the
steps after its checkpoint with the same parameters, so it reaches the same selection. Select on
a dev set, never on the test set the run reports.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from research import distributed
from research.errors import UserError
from research.eval import run_evaluators
from research.eval.embedder import EncoderEmbedder
from research.io.checkpoint import Checkpointer
from research.io.writers import MultiWriter
from research.train.run_weights import BEST_DIR


def parse_select(select: str, every: int, evaluators: list) -> tuple[Any, str] | None:
    """(the evaluator, the metric) that eval.select names, None when selection is off; a
    one-line error for an inconsistent setting."""
    if not select and not every:
        return None
    if every < 0:
        raise UserError("eval.every must be >= 0 (0 = no periodic evaluation)")
    if not select or not every:
        raise UserError(
            "periodic model selection needs both eval.every=STEPS and eval.select=NAME/METRIC "
            "(e.g. --set eval.every=125 --set eval.select=stsb_dev/spearman)"
        )
    name, _, metric = select.partition("/")
    by_name = {evaluator.name: evaluator for evaluator in evaluators}
    if not metric or name not in by_name:
        raise UserError(
            f"eval.select={select!r}: expected NAME/METRIC with NAME one of the run's evaluators "
            f"({', '.join(by_name) or 'none: add one with --set evals.NAME.kind=...'})"
        )
    return by_name[name], metric


class BestParams:
    """Periodic evaluation of one evaluator and the best parameters so far, in workdir/best/."""

    def __init__(
        self,
        workdir: Path,
        evaluator: Any,
        metric: str,
        embedder: EncoderEmbedder,
        writer: MultiWriter,
    ):
        self.evaluator, self.metric = evaluator, metric
        self.key = f"{evaluator.name}/{metric}"
        self.embedder = embedder
        self.writer = writer
        self.checkpointer = Checkpointer(workdir / BEST_DIR, max_to_keep=1)
        self.best: dict | None = None
        latest = self.checkpointer.latest_step()
        if latest is not None:
            self.best = self.checkpointer.read_position(latest)

    def __call__(self, step: int, params: Any) -> None:
        """Evaluate `params` (this process's full copy) at `step`; keep them if they are best."""
        self.embedder.use_params(params)
        results, _ = run_evaluators([self.evaluator], self.embedder)
        if self.key not in results:
            raise UserError(
                f"eval.select={self.key!r}: {self.evaluator.name} reports "
                f"{', '.join(k.split('/', 1)[1] for k in results)}"
            )
        value = results[self.key]
        self.writer.write(step, results)
        if value is None or not math.isfinite(value):
            return
        if self.best is None or value > self.best["value"]:
            self.best = {"step": step, "metric": self.key, "value": value}
            self.checkpointer.save(step, {"params": params}, self.best)
            if distributed.is_main_process():
                print(f"step {step}: best {self.key} = {value:.4f}", file=sys.stderr)

    def restore(self, like: Any) -> Any | None:
        """The selected parameters (in `like`'s shapes), None when nothing was selected."""
        if self.best is None:
            return None
        return self.checkpointer.restore_params(self.best["step"], like)

    def describe(self) -> str:
        if self.best is None:
            return f"nothing selected by {self.key} (no finite value); the last step's weights"
        return f"step {self.best['step']} by {self.key} = {self.best['value']:.4f}"

    def close(self) -> None:
        self.checkpointer.close()
