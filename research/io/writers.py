"""One metric-writer interface: console, metrics.jsonl, and Weights & Biases.

A writer gets `write(step, metrics)` at log intervals and `close()` at the end. W&B runs online
when an API key is configured and offline otherwise (`wandb sync` uploads later); the config and
the git commit are recorded with the run.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

from research.errors import UserError


class MetricWriter(Protocol):
    def write(self, step: int, metrics: dict[str, float]) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    """Appends one JSON object per log step; appending keeps the history of resumed runs."""

    def __init__(self, path: str | Path):
        self._file = open(path, "a", encoding="utf-8")

    def write(self, step: int, metrics: dict[str, float]) -> None:
        # Non-finite values (a window of only skipped steps has no loss) become null, as in
        # results.json: strict JSON readers reject NaN.
        row = {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in metrics.items()
        }
        self._file.write(json.dumps({"step": step, **row}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ConsoleWriter:
    def write(self, step: int, metrics: dict[str, float]) -> None:
        shown = "  ".join(f"{k}={_short(v)}" for k, v in metrics.items())
        print(f"step {step}: {shown}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class WandbWriter:
    """One W&B run per workdir (its id in wandb_id.txt, so a resumed run continues it).

    `summary(results)` at the end of a run logs what the run wrote, not only the numbers: plots,
    results.json as the summary, results.md's tables, and with `artifacts` the vectors and final
    checkpoint (research/io/wandb_results.py)."""

    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        *,
        project: str,
        group: str,
        artifacts: bool = False,
        name: str | None = None,
    ):
        import wandb

        self._workdir = workdir
        self._artifacts = artifacts
        mode = "online" if _wandb_logged_in() else "offline"
        id_file = workdir / "wandb_id.txt"
        run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id)
        self._run = wandb.init(
            project=project,
            group=group or None,
            name=name or workdir.name,
            id=run_id,
            resume="allow",
            dir=str(workdir),
            mode=mode,
            config={**config, "git_commit": git_commit()},
        )

    def write(self, step: int, metrics: dict[str, float]) -> None:
        self._run.log(metrics, step=step)

    def summary(self, results: dict[str, float]) -> None:
        from research.io.wandb_results import log_run_results

        log_run_results(self._run, self._workdir, results, artifacts=self._artifacts)

    @property
    def run(self) -> Any:
        return self._run

    def close(self) -> None:
        self._run.finish()


class MultiWriter:
    def __init__(self, writers: list[MetricWriter]):
        self.writers = writers

    def write(self, step: int, metrics: dict[str, float]) -> None:
        for writer in self.writers:
            writer.write(step, metrics)

    def summary(self, results: dict[str, float]) -> None:
        for writer in self.writers:
            if hasattr(writer, "summary"):
                writer.summary(results)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def create_writers(workdir: Path, config: Any, *, wandb: bool | None = None) -> MultiWriter:
    """JSONL always; the console when there is no progress bar; W&B when config.log.wandb
    (or `wandb`, which overrides it) is true; nothing on processes other than 0."""
    import dataclasses

    from research import distributed

    if not distributed.is_main_process():
        return MultiWriter([])  # process 0 logs for every process of a multi-process run
    log = config.log
    if wandb is None and log.wandb_artifacts and not log.wandb:
        # Checked here, before training: the artifacts would otherwise be silently dropped.
        raise UserError(
            "log.wandb_artifacts=true logs to W&B: add --set log.wandb=true "
            "(or drop log.wandb_artifacts)"
        )
    writers: list[MetricWriter] = [JsonlWriter(workdir / "metrics.jsonl")]
    if not log.progress:
        writers.append(ConsoleWriter())
    if log.wandb if wandb is None else wandb:
        writers.append(
            WandbWriter(
                dataclasses.asdict(config),
                workdir,
                project=log.wandb_project,
                group=log.wandb_group,
                artifacts=log.wandb_artifacts,
            )
        )
    return MultiWriter(writers)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _wandb_logged_in() -> bool:
    if os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        return False
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def _short(value: float) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
