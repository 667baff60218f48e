"""Orbax checkpoints of a train state plus the data position, with resume from the workdir.

Saves are synchronous: the train step donates its state, so an asynchronous save could read
buffers the next step has already reused, and word2vec states are small enough (tens of MB) that
a blocking save costs well under a second. Orbax writes each step to a temporary directory and
renames it when complete, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from research.errors import UserError


class Checkpointer:
    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
            ),
            item_names=("state", "position"),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, position: dict) -> None:
        if step in self._manager.all_steps():
            return
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), position=ocp.args.JsonSave(position)
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> tuple[Any, dict]:
        """Restore checkpoint `step` into the structure, shapes and dtypes of `like`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), position=ocp.args.JsonRestore()
                ),
            )
        except (ValueError, KeyError, FileNotFoundError) as error:
            raise UserError(
                f"cannot restore the checkpoint at step {step} in {self.directory} ("
                f"{str(error).splitlines()[0][:160]}); it was written by a different model or "
                "is corrupt: use a new --workdir"
            ) from error
        return restored.state, restored.position

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
