"""Host-side word2vec data: subsampling, the noise distribution, and fixed-shape token blocks.

Training consumes blocks of `batch_size` consecutive *kept* tokens (after subsampling), each with
a halo of `window` tokens on both sides so that pairs across block edges are not lost. Pairs are
formed on the device from the block (see objectives/negative_sampling.py), never materialised.

Everything here is a pure function of (corpus, seed, epoch): the subsampling draws for raw chunk
k of epoch e come from `default_rng([seed, e, k])`, so a resumed run sees exactly the blocks an
uninterrupted run would, and the data position is just (epoch, block).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from research.data.npy import read_rows, search_sorted

PAD = -1  # token id of halo positions outside the epoch's stream
RAW_CHUNK = 1 << 20  # raw tokens subsampled at a time; bounds host memory for any corpus size


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's subsampling: keep a word of frequency f with probability (sqrt(f/s) + 1) s/f.

    This is the formula of the word2vec C code and gensim (not the paper's 1 - sqrt(s/f)).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Unigram^0.75 noise distribution for negative sampling (sums to 1)."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def document_ids(
    doc_offsets: np.ndarray, positions: np.ndarray, start: int, stop: int
) -> np.ndarray:
    """Index of the document holding each of `positions` (all within [start, stop)).

    Only the offsets of the documents overlapping [start, stop) are read (two binary searches
    with single-element reads find them), so a memory-mapped offsets array is never mapped in.
    """
    first = search_sorted(doc_offsets, start) - 1
    last = search_sorted(doc_offsets, max(stop - 1, start))
    local = read_rows(doc_offsets, max(first, 0), last)
    return max(first, 0) + np.searchsorted(local, positions, side="right") - 1


@dataclass(frozen=True)
class Block:
    ids: np.ndarray  # (batch_size + 2 * window,) int32, PAD outside the stream
    docs: np.ndarray  # (batch_size + 2 * window,) int32 document index, -1 outside
    epoch: int
    index: int  # block index within the epoch


class BlockStream:
    """Deterministic fixed-shape blocks of subsampled tokens, epoch by epoch."""

    def __init__(
        self,
        tokens: np.ndarray,
        doc_offsets: np.ndarray,
        keep_prob: np.ndarray,
        *,
        batch_size: int,
        window: int,
        seed: int,
    ):
        self.tokens = tokens
        self.doc_offsets = doc_offsets
        self.keep_prob = keep_prob
        self.batch_size = batch_size
        self.window = window
        self.seed = seed

    def _keep_masks(self, epoch: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(start, raw ids, keep mask) per raw chunk: the epoch's subsampling draws."""
        for k, start in enumerate(range(0, len(self.tokens), RAW_CHUNK)):
            ids = read_rows(self.tokens, start, start + RAW_CHUNK)
            rng = np.random.default_rng([self.seed, epoch, k])
            yield start, ids, rng.random(len(ids)) < self.keep_prob[ids]

    def _kept_chunks(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start, ids, keep in self._keep_masks(epoch):
            positions = np.flatnonzero(keep) + start
            docs = document_ids(self.doc_offsets, positions, start, start + len(ids))
            yield ids[keep], docs.astype(np.int32)

    def blocks_in_epoch(self, epoch: int) -> int:
        # Counted from the draws alone: looking up the kept tokens' documents as well would
        # cost several times the draws alone, for a count that does not need them.
        kept = sum(int(keep.sum()) for _, _, keep in self._keep_masks(epoch))
        return kept // self.batch_size

    def epoch_blocks(self, epoch: int, start: int = 0) -> Iterator[Block]:
        """Blocks of `epoch` from block `start` on; the incomplete last block is dropped."""
        size = self.batch_size + 2 * self.window
        pad = np.full(self.window, PAD, np.int32)
        buf_ids, buf_docs = pad, pad
        index = 0

        def drain(buf_ids, buf_docs, index):
            while len(buf_ids) >= size:
                if index >= start:
                    yield Block(buf_ids[:size].copy(), buf_docs[:size].copy(), epoch, index)
                index += 1
                buf_ids, buf_docs = buf_ids[self.batch_size :], buf_docs[self.batch_size :]
            return buf_ids, buf_docs, index

        for ids, docs in self._kept_chunks(epoch):
            buf_ids = np.concatenate([buf_ids, ids.astype(np.int32)])
            buf_docs = np.concatenate([buf_docs, docs])
            buf_ids, buf_docs, index = yield from drain(buf_ids, buf_docs, index)
        buf_ids = np.concatenate([buf_ids, pad])
        buf_docs = np.concatenate([buf_docs, pad])
        yield from drain(buf_ids, buf_docs, index)


def prefetch(iterator: Iterator, depth: int = 4) -> Iterator:
    """Run `iterator` in a background thread, `depth` items ahead, so host work overlaps steps."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                if stop.is_set():
                    return
                items.put(item)
            items.put(done)
        except BaseException as error:  # surfaced in the consumer's thread
            items.put(error)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
