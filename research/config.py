"""Typed experiment configs and dotted `key=value` overrides.

Every default lives in these dataclasses; `apply_overrides` rejects unknown keys and values of the
wrong type with one line that names the valid keys, so a typo can never silently train the wrong
thing. Override names follow gensim's vocabulary (`window`, `negatives`, `sample`, `min_count`).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal

from research.errors import UserError


@dataclasses.dataclass
class DataConfig:
    source: str = "synthetic"  # "synthetic", a local path/dir/glob, or "hf:NAME[:CONFIG]"
    text_field: str = "text"  # column holding the text in json/parquet/hub datasets
    split: str = "train"  # split to read from a hub dataset
    synthetic_tokens: int = 1_000_000  # size of the generated world when source=synthetic
    synthetic_seed: int = 0
    min_count: int = 5
    max_vocab: int = 0  # keep at most this many most frequent words; 0 = no limit
    window: int = 5  # maximum distance between centre and context word
    sample: float = 1e-3  # frequent-word subsampling threshold (word2vec's formula); 0 = off
    negatives: int = 5  # negative samples per positive pair
    cache_dir: str = ""  # where token arrays are cached; "" = $STRATA_CACHE or ~/.cache/strata


@dataclasses.dataclass
class ModelConfig:
    kind: Literal["skipgram", "cbow"] = "skipgram"
    dim: int = 100


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 5
    # Centre tokens per SGD step (one block). Blocks turn the work into matrix products (see
    # objectives/negative_sampling.py); much larger blocks make word2vec's SGD stale (row_hit_cap).
    batch_size: int = 1024
    chunk_size: int = 32  # centre tokens that share one window matrix and one set of negatives
    shared_negatives: int = 32  # negatives drawn per chunk, reweighted to `negatives` per pair
    # Rows hit more than this many times in one block have their summed update scaled down to
    # it (see train/word2vec_step.py: stale summed updates diverge for frequent words); 0 = off.
    row_hit_cap: int = 16
    steps_per_dispatch: int = 16  # blocks processed per jitted call (lax.scan)
    learning_rate: float = 0.025  # gensim's alpha
    min_learning_rate: float = 0.0001  # gensim's min_alpha; the rate decays linearly to it
    seed: int = 0
    log_every: int = 200  # steps between metric reads (the only host-device syncs)
    checkpoint_every: int = 2000  # steps between checkpoints; a final one is always written


@dataclasses.dataclass
class EvalConfig:
    wordsim: str = ""  # path to a word-pair score TSV (WordSim-353 format); "" = none
    analogy: str = ""  # path to an analogy file (questions-words .txt or .tsv); "" = none
    neighbours: str = ""  # comma-separated query words for the nearest-neighbour table
    restrict_vocab: int = 30000  # analogy search space, as gensim
    synthetic: bool = True  # evaluate on the synthetic world's gold files when source=synthetic


@dataclasses.dataclass
class LogConfig:
    wandb: bool = False
    wandb_project: str = "strata"
    wandb_group: str = ""
    progress: bool = True  # progress bar on stderr


@dataclasses.dataclass
class Config:
    name: str = "word2vec"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), indent=2, sort_keys=True)


def from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from `to_dict` output, e.g. a run's config.json."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        if dataclasses.is_dataclass(hints[field.name]):
            value = from_dict(hints[field.name], value)
        kwargs[field.name] = value
    return cls(**kwargs)


def valid_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += valid_keys(value, f"{prefix}{field.name}.")
        else:
            keys.append(f"{prefix}{field.name}")
    return keys


def _parse_value(key: str, text: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if text not in choices:
            raise UserError(f"--set {key}={text}: expected one of {', '.join(choices)}")
        return text
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"config field {key} has a union type; give it one concrete type")
    if annotation is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise UserError(f"--set {key}={text}: expected true or false")
    if annotation is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise UserError(f"--set {key}={text}: expected an integer") from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise UserError(f"--set {key}={text}: expected a number") from None
    if annotation is str:
        return text
    raise TypeError(f"config field {key} has unsupported type {annotation!r}")


def apply_override(config: Any, assignment: str) -> None:
    """Apply one `a.b.c=value` assignment in place, checking the key and the value's type."""
    if "=" not in assignment:
        raise UserError(f"--set {assignment}: expected KEY=VALUE, e.g. --set train.epochs=5")
    key, text = assignment.split("=", 1)
    key = key.strip()
    *parents, leaf = key.split(".")
    target = config
    for part in parents:
        child = getattr(target, part, None) if dataclasses.is_dataclass(target) else None
        if child is None or not dataclasses.is_dataclass(child):
            target = None
            break
        target = child
    fields = {f.name for f in dataclasses.fields(target)} if target is not None else set()
    if target is None or leaf not in fields or dataclasses.is_dataclass(getattr(target, leaf)):
        raise UserError(f"unknown config key {key!r}; valid keys: {', '.join(valid_keys(config))}")
    annotation = typing.get_type_hints(type(target))[leaf]
    setattr(target, leaf, _parse_value(key, text.strip(), annotation))


def apply_overrides(config: Any, assignments: list[str]) -> Any:
    for assignment in assignments:
        apply_override(config, assignment)
    return config
