"""Reading raw text from any source through Hugging Face `datasets`, and text8-style normalisation.

Local files and hub datasets take the same path (`datasets.load_dataset`), so the tests that read
local text/JSON/parquet files exercise the code that reads the hub.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from research.errors import UserError

_BUILDERS = {
    ".txt": "text",
    ".text": "text",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}
_DIGIT_WORDS = dict(
    zip(
        "0123456789",
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
        strict=True,
    )
)
# text8 spells digits out and keeps only the letters a-z; everything else separates words.
_DIGITS_SPELLED = str.maketrans({d: f" {w} " for d, w in _DIGIT_WORDS.items()})
_NON_LETTERS = re.compile(r"[^a-z]+")
NORMALISER_VERSION = 1


def normalise_words(text: str) -> list[str]:
    """text8-style word tokens: lowercase, digits spelled out, only runs of a-z kept."""
    return [w for w in _NON_LETTERS.split(text.lower().translate(_DIGITS_SPELLED)) if w]


@dataclass(frozen=True)
class TextSource:
    """A resolved `data.source`: how to call `datasets.load_dataset` and what identifies it."""

    builder: str  # "text" | "json" | "parquet" | a hub dataset name
    data_files: tuple[str, ...] = ()
    hub_config: str | None = None
    description: str = ""

    def fingerprint(self) -> str:
        """Changes when the data changes: file sizes and modification times, or the hub name."""
        parts: list[object] = [self.builder, self.hub_config]
        for path in self.data_files:
            stat = os.stat(path)
            parts.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def resolve_source(source: str) -> TextSource:
    """Turn `data.source` (a path, directory, glob or `hf:NAME[:CONFIG]`) into a TextSource."""
    if source.startswith("hf:"):
        name, _, config = source[3:].partition(":")
        if not name:
            raise UserError(f"data.source={source!r}: expected hf:NAME or hf:NAME:CONFIG")
        return TextSource(builder=name, hub_config=config or None, description=source)
    if any(ch in source for ch in "*?["):
        files = sorted(glob.glob(source, recursive=True))
    elif os.path.isdir(source):
        files = sorted(
            p
            for ext in _BUILDERS
            for p in glob.glob(os.path.join(source, "**", f"*{ext}"), recursive=True)
        )
    elif os.path.isfile(source):
        files = [source]
    else:
        raise UserError(
            f"data.source={source!r}: no such file or directory; pass a text file (one document "
            "per line), a directory or glob of .txt/.jsonl/.parquet files, 'synthetic' or hf:NAME"
        )
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise UserError(f"data.source={source!r}: no .txt, .jsonl or .parquet files found there")
    # A single plain file of another extension (corpus.tok, text8) is read as text.
    builders = {_BUILDERS.get(Path(f).suffix.lower(), "text") for f in files}
    if len(builders) > 1:
        raise UserError(
            f"data.source={source!r} mixes file types ({', '.join(sorted(builders))}); "
            "point it at files of one type"
        )
    return TextSource(builder=builders.pop(), data_files=tuple(files), description=source)


@dataclass(frozen=True)
class PreparedText:
    """A source converted to Arrow files by `datasets`, ready to be read in bounded memory."""

    description: str
    columns: tuple[str, ...]
    num_rows: int | None  # None when `datasets` does not say
    files: tuple[str, ...] = ()  # Arrow stream files holding the split, in order
    dataset: object = None  # a datasets.Dataset when the split is not a set of whole files


def open_text(source: TextSource, split: str = "train") -> PreparedText:
    """Build (or find) the `datasets` Arrow cache of `source`; read nothing into memory yet.

    Local files and hub datasets take the same path. The returned files are read as streams
    (`iter_column`), never memory-mapped: a memory map of the whole cache would count towards
    resident memory page by page and grow it with the corpus.
    """
    import datasets
    from datasets.naming import filenames_for_dataset_split

    datasets.disable_progress_bars()
    if source.data_files and all(os.path.getsize(f) == 0 for f in source.data_files):
        raise UserError(
            f"{source.description}: empty file(s) ({len(source.data_files)} of 0 bytes); "
            "point data.source at a non-empty corpus"
        )
    split = "train" if source.data_files else split
    with _dataset_errors(source):
        if source.data_files:
            builder = datasets.load_dataset_builder(
                source.builder, data_files=list(source.data_files)
            )
        else:
            builder = datasets.load_dataset_builder(source.builder, source.hub_config)
        builder.download_and_prepare()
        splits = builder.info.splits or {}
        info = splits.get(split) if split in splits else None
        columns = tuple(builder.info.features or ())
        if info is not None:
            files = filenames_for_dataset_split(
                builder.cache_dir,
                builder.dataset_name,
                split,
                filetype_suffix="arrow",
                shard_lengths=info.shard_lengths,
            )
            if columns and all(os.path.isfile(f) for f in files):
                return PreparedText(source.description, columns, info.num_examples, tuple(files))
        # A split expression ("train[:10%]") or a cache layout this code does not know.
        dataset = builder.as_dataset(split=split)
    return PreparedText(
        source.description, tuple(dataset.column_names), len(dataset), dataset=dataset
    )


def iter_column(data: PreparedText, column: str, batch_size: int = 4096) -> Iterator[list]:
    """Yield the values of `column` (Python objects) in batches of at most `batch_size` rows."""
    if column not in data.columns:
        raise UserError(
            f"{data.description}: no column {column!r} (columns: {', '.join(data.columns)}); "
            f"set data.text_field to the text column"
        )
    if data.dataset is not None:
        for batch in data.dataset.select_columns([column]).iter(batch_size=batch_size):
            yield batch[column]
        return
    import pyarrow as pa

    for path in data.files:
        with pa.OSFile(path) as stream:
            for record_batch in pa.ipc.open_stream(stream):
                values = record_batch.column(column)
                for start in range(0, len(values), batch_size):
                    yield values.slice(start, batch_size).to_pylist()


def iter_documents(
    source: TextSource | PreparedText,
    *,
    text_field: str = "text",
    split: str = "train",
    batch_size: int = 4096,
) -> Iterator[list[str]]:
    """Yield batches of raw documents (strings); empty documents are kept for the caller to skip.

    Memory is bounded by one batch (and the Arrow record batch it comes from), whatever the
    size of the corpus.
    """
    data = source if isinstance(source, PreparedText) else open_text(source, split)
    check_text_column(data, text_field)
    for batch in iter_column(data, text_field, batch_size):
        yield [text if isinstance(text, str) else "" for text in batch]


TEXT_TYPES = ("string", "large_string")
SENTENCE_LIST_TYPES = tuple(f"{t}<item: {s}>" for t in ("list", "large_list") for s in TEXT_TYPES)


def check_text_column(data: PreparedText, column: str, *, sentence_lists: bool = False) -> None:
    """Refuse a column of numbers, mixed values or (unless `sentence_lists`, a document given as
    its list of sentences) lists: it would be read as no text, or as text it does not hold."""
    kind = column_type(data, column)
    allowed = TEXT_TYPES + (SENTENCE_LIST_TYPES if sentence_lists else ())
    if kind is None or kind in allowed or kind == "null":  # "null": every value missing
        return
    if "json" in kind:  # what the json builder makes of a column of mixed types
        kind = "values of mixed types (e.g. strings and numbers)"
    expected = "text or lists of sentences" if sentence_lists else "text"
    raise UserError(
        f"{data.description}: column {column!r} holds {kind}, not {expected}; set "
        f"data.text_field to the text column (columns: {', '.join(data.columns)})"
    )


def column_type(data: PreparedText, column: str) -> str | None:
    """The Arrow type of `column` ("string", "int64", "list<item: string>", ...), None if the
    column is absent or the source has no schema to tell."""
    if column not in data.columns:
        return None
    if data.dataset is not None:
        return str(data.dataset.features.arrow_schema.field(column).type)
    import pyarrow as pa

    for path in data.files[:1]:
        with pa.OSFile(path) as stream:
            return str(pa.ipc.open_stream(stream).schema.field(column).type)
    return None


@contextmanager
def _dataset_errors(source: TextSource) -> Iterator[None]:
    """Turn what `datasets` raises for an unreadable source into a one-line UserError."""
    import datasets

    try:
        yield
    except StopIteration as error:  # what some builders raise for a file holding no rows
        raise UserError(f"{source.description}: no rows found; is the file empty?") from error
    except (ConnectionError, TimeoutError, OSError) as error:
        if source.data_files:
            raise UserError(f"{source.description}: cannot read it ({error})") from error
        raise UserError(
            f"cannot reach the Hugging Face hub for {source.builder!r}; pass a local path as "
            "data.source or go online"
        ) from error
    except datasets.exceptions.DatasetNotFoundError as error:
        raise UserError(
            f"{source.description}: the hub has no such dataset, or it cannot be reached offline; "
            "check the name or pass a local path"
        ) from error
    except ValueError as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        if source.hub_config is None and "config" in str(error).lower():
            raise UserError(
                f"{source.description}: this dataset needs a config; use hf:NAME:CONFIG ({first})"
            ) from error
        if source.data_files:
            raise UserError(f"{source.description}: cannot parse it ({first})") from error
        raise UserError(
            f"{source.description}: {first}; check the dataset name, config and data.split"
        ) from error
    except datasets.exceptions.DatasetGenerationError as error:
        raise UserError(
            f"{source.description}: cannot parse it as {source.builder} "
            f"({(str(error.__cause__ or error).splitlines() or ['no details'])[0][:200]})"
        ) from error
