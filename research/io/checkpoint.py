"""Orbax checkpoints of a train state plus the data position, with resume from the workdir.

Saves are synchronous: the train step donates its state, so an asynchronous save could read
buffers the next step has already reused. Orbax writes each step to a temporary directory and
renames it when complete, so a crash mid-save leaves the previous checkpoint intact (a leftover
temporary directory is not a step and is ignored on resume).

Orbax does not checksum array data: a flipped byte inside a stored chunk restores without error
as a wrong number (`tests/test_preemption.py` flips one). Each save therefore also writes a
CRC-32 per array (`integrity` item), checked on restore. A restore that cannot succeed stops
with one line naming the cause: a state whose shapes differ from the configured model
(different size or vocabulary), or a corrupt step, with the step to fall back to.

Array data is stored uncompressed (`PyTreeCheckpointHandler(use_compression=False)`; the
StandardCheckpointHandler default is zstd): float32 weights barely compress, while TensorStore
holds every compressed chunk in memory until the whole array is written, so a compressed save
of large tables roughly doubles the process's memory; an uncompressed one writes from the
arrays' own buffers. `benchmarks/checkpoint_memory.py` measures both (BENCHMARKS.md, "Large
corpora: peak memory"). Checkpoints written with compression still restore: the codec is
recorded in each array's metadata.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from research.errors import UserError


def _host_copy(leaf: Any) -> np.ndarray | None:
    """The array's full value on this host, or None when this process holds only a shard."""
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        if not leaf.is_fully_replicated:
            return None
        leaf = leaf.addressable_data(0)
    return np.asarray(jax.device_get(leaf))


def _leaves(tree: Any) -> dict[str, Any]:
    """{"params.input_embeddings.value": leaf}: one spelling of a leaf's path, whether the tree
    holds NNX states and optax named tuples (attributes) or the plain dicts Orbax reads back."""

    def name(entry: Any) -> str:
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                return str(getattr(entry, attribute))
        return str(entry)

    return {
        ".".join(name(e) for e in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
    }


def state_checksums(state: Any) -> dict[str, int]:
    """{leaf path: CRC-32 of its bytes} for every array this process holds in full."""
    checksums = {}
    for key, leaf in _leaves(state).items():
        value = _host_copy(leaf)
        if value is not None:
            # Bytes viewed as uint8: a buffer of an ml_dtypes type (bfloat16) has no memoryview.
            checksums[key] = zlib.crc32(np.ascontiguousarray(value).reshape(-1).view(np.uint8))
    return checksums


def shape_mismatches(saved: Any, like: Any) -> list[str]:
    """Leaves whose saved shape or dtype differs from `like`'s, as 'path: saved -> expected'."""
    saved_leaves, expected = _leaves(saved), _leaves(like)
    differences = []
    for key in sorted(set(saved_leaves) | set(expected)):
        old, new = saved_leaves.get(key), expected.get(key)
        if old is None or new is None:
            differences.append(
                f"{key}: {'absent' if old is None else 'saved'} -> "
                f"{'absent' if new is None else 'expected'}"
            )
            continue
        old_sig = (tuple(old.shape), np.dtype(old.dtype).name)
        new_sig = (tuple(np.shape(new)), np.dtype(new.dtype).name)
        if old_sig != new_sig:
            differences.append(f"{key}: {old_sig[0]} {old_sig[1]} -> {new_sig[0]} {new_sig[1]}")
    return differences


def abstract_state(like: Any, shardings: Any = None) -> Any:
    """`like` as ShapeDtypeStructs that carry a sharding, which Orbax needs to restore jax.Arrays
    (given none, it returns numpy arrays). `shardings` is a pytree matching `like`; without it
    a leaf keeps its own sharding, or goes to the first local device if it has none."""
    leaves, treedef = jax.tree.flatten(like)
    if shardings is None:
        chosen = [getattr(leaf, "sharding", None) for leaf in leaves]
    else:
        chosen = treedef.flatten_up_to(shardings)
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return treedef.unflatten(
        [
            jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=sharding or default)
            for leaf, sharding in zip(leaves, chosen, strict=True)
        ]
    )


class Checkpointer:
    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
            ),
            item_handlers={
                "state": ocp.PyTreeCheckpointHandler(use_compression=False),
                "position": ocp.JsonCheckpointHandler(),
                "integrity": ocp.JsonCheckpointHandler(),
            },
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, position: dict) -> None:
        if step in self._manager.all_steps():
            return
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.PyTreeSave(state),
                position=ocp.args.JsonSave(position),
                integrity=ocp.args.JsonSave({"crc32": state_checksums(state)}),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def _corrupt(self, step: int, cause: str) -> UserError:
        earlier = [s for s in self._manager.all_steps() if s < step]
        fallback = (
            f"delete {self.directory / str(step)} to resume from step {max(earlier)}, or use a "
            "new --workdir"
            if earlier
            else "use a new --workdir"
        )
        return UserError(
            f"the checkpoint at step {step} in {self.directory} is corrupt ({cause}); {fallback}"
        )

    def restore(self, step: int, like: Any, shardings: Any = None) -> tuple[Any, dict]:
        """Restore checkpoint `step` into the structure, shapes and dtypes of `like`.

        `like` may be abstract (`jax.eval_shape` of the init function): a concrete template
        would hold a second copy of the state during the restore. Leaves are placed on
        `shardings` (a matching pytree) when given, else on their own sharding, else on the
        first local device.
        """
        try:
            saved = self._manager.item_metadata(step)["state"]
        except Exception as error:  # orbax/tensorstore raise bare Exception on unreadable data
            raise self._corrupt(step, _first_line(error)) from error
        if saved is not None:
            differences = shape_mismatches(saved, like)
            if differences:
                shown = "; ".join(differences[:3]) + (
                    f"; and {len(differences) - 3} more" if len(differences) > 3 else ""
                )
                raise UserError(
                    f"the checkpoint at step {step} in {self.directory} holds a different train "
                    f"state ({shown}): it was trained with another model size, vocabulary, "
                    "tokeniser or optimizer setting; use a new --workdir"
                )
        abstract = abstract_state(like, shardings)
        restored = self._restore_checked(step, abstract, with_position=True)
        return restored.state, restored.position

    def restore_params(self, step: int, like_params: Any) -> Any:
        """Only the `params` subtree of checkpoint `step`, restored into `like_params`' shapes
        (abstract or concrete) on the first local device, CRC-checked like `restore`. For using
        a trained model: the optimizer state and anything else in the state are not read."""
        abstract = {"params": abstract_state(like_params)}
        return self._restore_checked(step, abstract, with_position=False).state["params"]

    def read_position(self, step: int) -> dict:
        """The JSON data position saved with checkpoint `step` (no arrays are read)."""
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(position=ocp.args.JsonRestore())
            )
        except Exception as error:  # orbax raises bare Exception on unreadable data
            raise self._corrupt(step, _first_line(error)) from error
        return restored.position

    def _restore_checked(self, step: int, abstract: Any, *, with_position: bool) -> Any:
        """Restore `abstract` (all of the saved state, or with_position=False a part of it) and
        check the CRC-32 of every restored array the checkpoint recorded."""
        items = {
            "state": ocp.args.PyTreeRestore(
                abstract,
                restore_args=ocp.checkpoint_utils.construct_restore_args(abstract),
                partial_restore=not with_position,
            )
        }
        if with_position:
            items["position"] = ocp.args.JsonRestore()
        has_integrity = (self.directory / str(step) / "integrity").exists()
        if has_integrity:
            items["integrity"] = ocp.args.JsonRestore()
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as error:  # orbax/tensorstore raise bare Exception on unreadable data
            raise self._corrupt(step, _first_line(error)) from error
        if has_integrity:
            expected = restored.integrity.get("crc32", {})
            actual = state_checksums(restored.state)
            bad = sorted(k for k in expected if k in actual and actual[k] != expected[k])
            if bad:
                raise self._corrupt(step, f"checksum mismatch in {', '.join(bad[:3])}")
        return restored

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else type(error).__name__
    return first.split(" See full TensorStore details")[0][:160]
