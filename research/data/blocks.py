"""word2vec's blocks grouped for dispatch: a pure function of (stream, position), so a resumed
run is fed exactly the blocks the original would have been."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from jax.sharding import Mesh

from research import distributed
from research.config import Config
from research.data import windows
from research.data.corpus import WordCorpus


def block_stream(corpus: WordCorpus, config: Config) -> windows.BlockStream:
    """The corpus's subsampled blocks of train.batch_size centres, as configured."""
    return windows.BlockStream(
        corpus.tokens,
        corpus.doc_offsets,
        windows.keep_probabilities(corpus.counts, config.data.sample),
        batch_size=config.train.batch_size,
        window=config.data.window,
        seed=config.train.seed,
    )


def block_groups(
    stream: windows.BlockStream,
    blocks_per_epoch: list[int],
    start: int,
    group_size: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Stacked (ids, docs) of `group_size` blocks from global block `start` on, across epochs.

    The last group is padded with empty blocks (all PAD: no pairs, no updates) so that every
    call has the same shape and nothing recompiles. Yields (ids, docs, real block count).
    """
    size = stream.batch_size + 2 * stream.window
    ids, docs = [], []
    first_block = 0
    for epoch, count in enumerate(blocks_per_epoch):
        if start >= first_block + count:
            first_block += count
            continue
        for block in stream.epoch_blocks(epoch, start=max(0, start - first_block)):
            if block.index >= count:
                break
            ids.append(block.ids)
            docs.append(block.docs)
            if len(ids) == group_size:
                yield np.stack(ids), np.stack(docs), group_size
                ids, docs = [], []
        first_block += count
    if ids:
        real = len(ids)
        empty = np.full(size, windows.PAD, np.int32)
        ids += [empty] * (group_size - real)
        docs += [empty] * (group_size - real)
        yield np.stack(ids), np.stack(docs), real


def parallel_groups(
    groups: Iterator[tuple[np.ndarray, np.ndarray, int]], parallel: int, mesh: Mesh | None
) -> Iterator[tuple[Any, Any, int]]:
    """Groups of S·P blocks from `block_groups` as (S, P, L) arrays (P = parallel > 1), split
    along P over the mesh when there is one: each process transfers only its own blocks."""
    for ids, docs, real in groups:
        if parallel > 1:
            ids = ids.reshape(-1, parallel, ids.shape[-1])
            docs = docs.reshape(-1, parallel, docs.shape[-1])
        if mesh is not None:
            ids, docs = distributed.shard_batch(mesh, (ids, docs), axis=1)
        yield ids, docs, real


def position_of(block: int, blocks_per_epoch: list[int]) -> dict:
    epoch = 0
    remaining = block
    while epoch < len(blocks_per_epoch) and remaining >= blocks_per_epoch[epoch]:
        remaining -= blocks_per_epoch[epoch]
        epoch += 1
    return {"block": block, "epoch": epoch, "block_in_epoch": remaining}
