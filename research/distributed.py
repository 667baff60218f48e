"""Several devices and processes: joining a multi-process run, the data mesh, and placement.

One mesh axis, `data`. Batches are split over it along their "parallel" axis (the encoder's rows,
word2vec's parallel blocks); parameters are replicated, or for word2vec's large tables optionally
split over `data` along the vocabulary. Every process builds the same global batch plan and puts
only its own slice on its devices (`shard_batch`), so the jitted step sees one global batch and
does the same math as a one-device run.

Process 0 writes the run's files and prints; the others train, checkpoint (orbax writes each
process's shards) and exit. On CPU, cross-process collectives use gloo, jax's default
(jax_cpu_collectives_implementation); nothing needs setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from research.errors import UserError

DATA = "data"
T = TypeVar("T")


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UserError(f"${name}={text!r} is not an integer") from None


def initialize(coordinator: str = "", num_processes: int = 0, process_id: int = -1) -> None:
    """Join a multi-process run if one is asked for; one process otherwise (no-op).

    Each argument falls back to an environment variable: JAX_COORDINATOR_ADDRESS (host:port of
    process 0), JAX_NUM_PROCESSES, JAX_PROCESS_ID. coordinator="auto" lets jax detect a cluster
    (Slurm, Open MPI, Cloud TPU) and fill in all three. Call before anything touches a device.
    """
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    count = num_processes or _env_int("JAX_NUM_PROCESSES") or 0
    index = process_id if process_id >= 0 else _env_int("JAX_PROCESS_ID")
    if coordinator == "auto":
        jax.distributed.initialize()
        return
    if not coordinator and count <= 1:
        return
    if count < 1 or index is None or not coordinator:
        raise UserError(
            "a multi-process run needs a coordinator address (host:port of process 0), the "
            "number of processes and this process's id: --coordinator, --num-processes, "
            "--process-id (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID); "
            f"got {coordinator or 'no address'}, {count or 'no count'}, "
            f"{'no id' if index is None else index}"
        )
    if not 0 <= index < count:
        raise UserError(f"process id {index} is not in 0..{count - 1} (--num-processes {count})")
    if ":" not in coordinator:
        raise UserError(f"coordinator address {coordinator!r} must be host:port")
    jax.distributed.initialize(coordinator, count, index)


def is_main_process() -> bool:
    """True on process 0, the one that logs and writes the run's files."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process gets here (no-op with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def main_process_first(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on process 0, then on the others: for preparation that fills a shared cache.

    If `fn` raises on any process, every process raises (see `stop_together`).
    """
    first = is_main_process()
    on_first = stop_together(f"{name} on process 0", fn if first else None)
    on_others = stop_together(f"{name} on the other processes", None if first else fn)
    return on_first if first else on_others


def stop_together(name: str, fn: Callable[[], T] | None) -> T | None:
    """Run `fn` here (None: nothing), then wait for every process; if it raised on any of them,
    every process raises, so none is left waiting in a collective for one that has exited.

    The process where `fn` failed raises its own error; the others a one-line `UserError` naming
    it (its message is in its own output). With one process this is just `fn()`.
    """
    result, error = None, None
    if fn is not None:
        try:
            result = fn()
        except Exception as caught:  # shared with the others first, then re-raised
            error = caught
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        failed = multihost_utils.process_allgather(np.array([error is not None], np.int32))
        failed_ids = [int(i) for i in np.flatnonzero(np.asarray(failed).reshape(-1))]
        if failed_ids and error is None:
            raise UserError(
                f"process {', '.join(map(str, failed_ids))} stopped at {name}; its error is in "
                "its own output"
            )
    if error is not None:
        raise error
    return result


def data_mesh(devices: int = 0) -> Mesh | None:
    """A 1-D mesh ("data",) over the first `devices` devices (0 = all); None for one device.

    None keeps the one-device path free of any sharding annotation. With several processes the
    mesh must span every device of every process.
    """
    available = jax.devices()
    count = devices or len(available)
    if count > len(available):
        raise UserError(f"train.devices={devices} but only {len(available)} device(s) are visible")
    if jax.process_count() > 1 and count != len(available):
        raise UserError(
            f"train.devices={devices}: a run of {jax.process_count()} processes must use all "
            f"{len(available)} devices (set train.devices=0)"
        )
    if count == 1:
        return None
    return Mesh(np.array(available[:count]), (DATA,))


def mesh_size(mesh: Mesh | None) -> int:
    return 1 if mesh is None else mesh.devices.size


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def split_along(mesh: Mesh, axis: int, ndim: int) -> NamedSharding:
    """Sharding of an `ndim`-array whose `axis` is split over the data axis."""
    spec = [None] * ndim
    spec[axis] = DATA
    return NamedSharding(mesh, PartitionSpec(*spec))


def place(tree: Any, shardings: Any) -> Any:
    """Put a pytree whose leaves are identical on every process onto `shardings` (a matching
    pytree, or one sharding for all): each device gets its part from the local copy."""
    if isinstance(shardings, jax.sharding.Sharding):
        shardings = jax.tree.map(lambda _: shardings, tree)

    def put(value, sharding):
        host = np.asarray(jax.device_get(value))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree, shardings)


def process_slice(sharding: NamedSharding, shape: tuple[int, ...], axis: int) -> slice:
    """The range of `axis` that this process's devices hold under `sharding`."""
    indices = sharding.addressable_devices_indices_map(shape).values()
    starts = sorted({index[axis].indices(shape[axis])[:2] for index in indices})
    lo, hi = starts[0][0], starts[-1][1]
    if sum(stop - start for start, stop in starts) != hi - lo:
        raise ValueError(f"this process's devices hold a non-contiguous part of axis {axis}")
    return slice(lo, hi)


def shard_batch(mesh: Mesh, batch: Any, axis: int = 0) -> Any:
    """A global host batch (the same on every process) as global arrays split along `axis`.

    Each process transfers only its own slice of every leaf; the sizes along `axis` must divide
    by the mesh size (checked when the config is validated).
    """

    def put(value):
        value = np.asarray(value)
        sharding = split_along(mesh, axis, value.ndim)
        part = process_slice(sharding, value.shape, axis)
        local = value[(slice(None),) * axis + (part,)]
        return jax.make_array_from_process_local_data(sharding, local, value.shape)

    return jax.tree.map(put, batch)


def to_local(tree: Any) -> Any:
    """Global arrays as arrays on this process's first device, gathering shards held by other
    processes; for evaluation and export after training."""

    def get(value):
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            if value.is_fully_replicated:
                value = value.addressable_data(0)
            else:
                from jax.experimental import multihost_utils

                value = multihost_utils.process_allgather(value, tiled=True)
        return jax.device_put(np.asarray(jax.device_get(value)), jax.local_devices()[0])

    return jax.tree.map(get, tree)
