""".npy files written a chunk at a time, and row ranges read back without memory-mapping.

Every page of a memory-mapped file that a process writes or reads counts towards its resident
memory (RSS) for as long as the mapping lives, so one pass over a token file through np.memmap
grows RSS with the corpus. `NpyWriter` appends with plain writes and fills in the header's row
count at the end; `read_rows` reads a range with a plain read. Both keep memory to one chunk.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from pathlib import Path

import numpy as np

HEADER_BYTES = 128  # fixed header size (a multiple of 64, as numpy aligns it); fits any shape
_MAGIC = b"\x93NUMPY\x01\x00"


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """A version-1.0 .npy header of exactly HEADER_BYTES bytes for a C-ordered array."""
    fields = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": tuple(int(n) for n in shape),
    }
    text = "{" + "".join(f"'{k}': {v!r}, " for k, v in sorted(fields.items())) + "}"
    room = HEADER_BYTES - len(_MAGIC) - 2 - 1  # 2: the length field; 1: the closing newline
    if len(text) > room:
        raise ValueError(f"shape {shape} does not fit a {HEADER_BYTES}-byte .npy header")
    body = (text + " " * (room - len(text)) + "\n").encode("latin1")
    return _MAGIC + struct.pack("<H", len(body)) + body


class NpyWriter:
    """Append rows of a fixed dtype and row shape to a .npy file whose length is not known yet.

    Use as a context manager; the header is written when it closes (also after an error, so the
    file is always a valid array of the rows appended so far).
    """

    def __init__(self, path: str | Path, dtype: np.dtype | type, row_shape: tuple[int, ...] = ()):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.rows = 0
        self._file = self.path.open("wb")
        self._file.write(npy_header(self.dtype, (0, *self.row_shape)))

    def append(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=self.dtype)
        if array.shape[1:] != self.row_shape:
            raise ValueError(
                f"{self.path.name}: rows of shape {array.shape[1:]}, expected {self.row_shape}"
            )
        self._file.write(array.tobytes())
        self.rows += len(array)

    def close(self) -> int:
        """Write the header with the final row count; returns the number of rows."""
        if not self._file.closed:
            self._file.seek(0)
            self._file.write(npy_header(self.dtype, (self.rows, *self.row_shape)))
            self._file.close()
        return self.rows

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _file_backed(array: np.ndarray) -> bool:
    """True for an np.load(..., mmap_mode=...) array itself (not a view of one)."""
    return (
        isinstance(array, np.memmap)
        and isinstance(array.base, mmap.mmap)
        and bool(array.filename)
        and array.flags.c_contiguous
    )


class _Elements:
    """A 1-D memory-mapped array as a sequence whose items are read one by one from the file."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int):
        return read_rows(self.array, i, i + 1)[0]


def search_sorted(array: np.ndarray, value: int) -> int:
    """np.searchsorted(array, value, side="right") for a sorted 1-D array.

    A memory-mapped array is bisected with single-element plain reads: a binary search through
    the map would leave a window of pages resident around every probe.
    """
    if _file_backed(array):
        return bisect.bisect_right(_Elements(array), value)
    return int(np.searchsorted(array, value, side="right"))


def read_rows(array: np.ndarray, start: int, stop: int) -> np.ndarray:
    """A copy of array[start:stop]; a memory-mapped .npy is read with a plain file read.

    np.load(..., mmap_mode="r") arrays (not views of them) take the file-read path, so scanning
    a large file chunk by chunk leaves none of it resident in this process.
    """
    start, stop = max(0, start), max(start, min(stop, len(array)))
    if _file_backed(array):
        per_row = int(np.prod(array.shape[1:], dtype=np.int64))
        data = np.fromfile(
            array.filename,
            dtype=array.dtype,
            count=(stop - start) * per_row,
            offset=array.offset + start * per_row * array.itemsize,
        )
        return data.reshape((stop - start, *array.shape[1:]))
    return np.array(array[start:stop])


def take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """array[rows] as a copy; a memory-mapped .npy is read row by row with plain file reads.

    Random rows of a memory map stay resident once touched, so a long run that samples rows
    would grow its RSS towards the whole file; plain reads keep it at the batch.
    """
    rows = np.asarray(rows)
    if not _file_backed(array):
        return np.asarray(array[rows])
    out = np.empty((len(rows), *array.shape[1:]), array.dtype)
    if not len(rows):
        return out
    if rows.min() < -len(array) or rows.max() >= len(array):
        raise IndexError(f"rows out of range for {len(array)} rows")
    row_bytes = out[0].nbytes
    slots = out.reshape(len(rows), -1).view(np.uint8)
    with open(array.filename, "rb") as file:  # one open per batch, one pread per row
        for i, row in enumerate(int(r) % len(array) for r in rows):
            got = os.preadv(file.fileno(), [slots[i]], array.offset + row * row_bytes)
            if got != row_bytes:
                raise OSError(f"{array.filename}: short read of row {row} ({got} bytes)")
    return out
