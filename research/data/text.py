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


def iter_documents(
    source: TextSource, *, text_field: str = "text", split: str = "train", batch_size: int = 4096
) -> Iterator[list[str]]:
    """Yield batches of raw documents (strings); empty documents are kept for the caller to skip."""
    dataset = _load(source, split)
    if text_field not in dataset.column_names:
        raise UserError(
            f"{source.description}: no column {text_field!r} (columns: "
            f"{', '.join(dataset.column_names)}); set data.text_field to the text column"
        )
    for batch in dataset.select_columns([text_field]).iter(batch_size=batch_size):
        yield [text if isinstance(text, str) else "" for text in batch[text_field]]


def _load(source: TextSource, split: str):
    import datasets

    datasets.disable_progress_bars()
    try:
        if source.data_files:
            return datasets.load_dataset(
                source.builder, data_files=list(source.data_files), split="train"
            )
        return datasets.load_dataset(source.builder, source.hub_config, split=split)
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
        if source.hub_config is None and "config" in str(error).lower():
            raise UserError(
                f"{source.description}: this dataset needs a config; use hf:NAME:CONFIG "
                f"({str(error).splitlines()[0][:200]})"
            ) from error
        if source.data_files:
            raise UserError(f"{source.description}: cannot parse it ({error})") from error
        raise
    except datasets.exceptions.DatasetGenerationError as error:
        raise UserError(
            f"{source.description}: cannot parse it as {source.builder} "
            f"({str(error.__cause__ or error).splitlines()[0][:200]})"
        ) from error
