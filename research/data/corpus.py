"""Word corpora as memory-mapped token arrays, built once per (source, settings) and cached.

A prepared corpus is a directory with
  tokens.npy       int32 word ids of every in-vocabulary token, documents concatenated
  doc_offsets.npy  int64 start of each non-empty document in `tokens` (plus the end)
  vocab.json       words and counts, most frequent first (id = position)
  meta.json        what produced it
It is written to a temporary directory and renamed into place, so an interrupted preparation
never leaves a cache that looks complete. Words rarer than `min_count` are dropped before
windowing, as word2vec and gensim do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research.config import DataConfig
from research.data import text
from research.errors import UserError

CORPUS_FORMAT_VERSION = 1


@dataclass
class WordCorpus:
    path: Path
    words: list[str]
    counts: np.ndarray  # (V,) int64, decreasing
    tokens: np.ndarray  # (N,) int32, memory-mapped
    doc_offsets: np.ndarray  # (D + 1,) int64
    meta: dict

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.shape[0])


def cache_root(config: DataConfig) -> Path:
    root = config.cache_dir or os.environ.get("STRATA_CACHE") or "~/.cache/strata"
    return Path(root).expanduser()


def resolve_data_source(config: DataConfig) -> tuple[text.TextSource, dict]:
    """The text source behind `data.source`, generating the synthetic world when asked for it.

    Returns the source and, for the synthetic world, the paths of its gold files.
    """
    if config.source != "synthetic":
        return text.resolve_source(config.source), {}
    from research.data import synthetic

    key = f"v{synthetic.GENERATOR_VERSION}-n{config.synthetic_tokens}-s{config.synthetic_seed}"
    world_dir = cache_root(config) / "synthetic" / key
    manifest = world_dir / "manifest.json"
    if not manifest.exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(world_dir.parent)))
        synthetic.generate_world(tmp, n_tokens=config.synthetic_tokens, seed=config.synthetic_seed)
        _replace_dir(tmp, world_dir)
    files = {
        "corpus": world_dir / "corpus.txt",
        "analogy": world_dir / "analogy.tsv",
        "similarity": world_dir / "similarity.tsv",
        "manifest": manifest,
    }
    source = text.TextSource(
        builder="text", data_files=(str(files["corpus"]),), description=f"synthetic world {key}"
    )
    return source, files


def prepare_corpus(config: DataConfig, *, progress: bool = True) -> WordCorpus:
    """Load the cached token arrays for `config`, building them first if needed."""
    source, _ = resolve_data_source(config)
    settings = {
        "format": CORPUS_FORMAT_VERSION,
        "normaliser": text.NORMALISER_VERSION,
        "source": source.fingerprint(),
        "text_field": config.text_field,
        "split": config.split,
        "min_count": config.min_count,
        "max_vocab": config.max_vocab,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_root(config) / "words" / key
    if not (directory / "meta.json").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_mkdir(directory.parent)))
        try:
            _build(source, config, tmp, settings, progress=progress)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace_dir(tmp, directory)
    return load_corpus(directory)


def load_corpus(directory: Path) -> WordCorpus:
    vocab = json.loads((directory / "vocab.json").read_text())
    return WordCorpus(
        path=directory,
        words=vocab["words"],
        counts=np.asarray(vocab["counts"], dtype=np.int64),
        tokens=np.load(directory / "tokens.npy", mmap_mode="r"),
        doc_offsets=np.load(directory / "doc_offsets.npy"),
        meta=json.loads((directory / "meta.json").read_text()),
    )


def build_vocab(counter: Counter, min_count: int, max_vocab: int) -> list[tuple[str, int]]:
    """Words with at least `min_count` occurrences, most frequent first (ties alphabetical)."""
    kept = sorted(
        ((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0])
    )
    return kept[:max_vocab] if max_vocab > 0 else kept


def _build(source, config: DataConfig, out: Path, settings: dict, *, progress: bool) -> None:
    started = time.time()
    counter: Counter = Counter()
    raw_tokens = documents = 0
    for batch in _progress(
        text.iter_documents(source, text_field=config.text_field, split=config.split),
        progress,
        "counting words",
    ):
        for document in batch:
            words = text.normalise_words(document)
            counter.update(words)
            raw_tokens += len(words)
            documents += bool(words)
    if raw_tokens == 0:
        raise UserError(
            f"data.source={config.source!r} holds no words (empty files, or no text in column "
            f"{config.text_field!r}); point it at a non-empty corpus"
        )
    vocab = build_vocab(counter, config.min_count, config.max_vocab)
    if len(vocab) < 2:
        raise UserError(
            f"only {len(vocab)} distinct word(s) occur at least data.min_count={config.min_count} "
            f"times in {raw_tokens} tokens; lower data.min_count or use a larger corpus"
        )
    index = {w: i for i, (w, _) in enumerate(vocab)}
    total = sum(c for _, c in vocab)
    tokens = np.lib.format.open_memmap(
        out / "tokens.npy", mode="w+", dtype=np.int32, shape=(total,)
    )
    offsets = [0]
    position = 0
    for batch in _progress(
        text.iter_documents(source, text_field=config.text_field, split=config.split),
        progress,
        "writing token ids",
    ):
        for document in batch:
            ids = [i for i in map(index.get, text.normalise_words(document)) if i is not None]
            if ids:
                tokens[position : position + len(ids)] = ids
                position += len(ids)
                offsets.append(position)
    tokens.flush()
    del tokens
    np.save(out / "doc_offsets.npy", np.asarray(offsets, dtype=np.int64))
    (out / "vocab.json").write_text(
        json.dumps({"words": [w for w, _ in vocab], "counts": [c for _, c in vocab]})
    )
    meta = {
        **settings,
        "source_description": source.description,
        "raw_tokens": raw_tokens,
        "raw_vocab": len(counter),
        "tokens": total,
        "vocab_size": len(vocab),
        "documents": len(offsets) - 1,
        "seconds": round(time.time() - started, 2),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit=" batches", leave=False)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished directory into place; if another process won the race, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists():
            raise
