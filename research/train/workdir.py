"""The run contract every model family keeps in its workdir.

config.json   the full config (defaults plus overrides), written before training
run.json      provenance: git commit, versions, devices, the data's fingerprint, family extras
checkpoints/  Orbax checkpoints (research/io/checkpoint.py)

Resuming checks both files: a saved config that differs in anything that changes training is
refused with the list of differences (train.allow_config_change=true resumes anyway and records
them), and data that changed under the same config (a corpus edited in place) is refused by its
fingerprint. Only process 0 writes, and it writes each file whole (a temporary file renamed over
the old one): a process that reads it meanwhile, or a resume after a kill mid-write, sees the old
file or the new one, never a truncated one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

from research import config as config_lib
from research import distributed
from research.errors import UserError
from research.io.writers import git_commit

# Keys that may change when a run is resumed: they do not change what is trained.
RESUMABLE_PREFIXES = (
    "eval.",
    "evals.",
    "log.",
    "train.log_every",
    "train.checkpoint_every",
    "train.devices",  # float rounding only
    "train.shard_tables",
    "data.cache_dir",
    # A path into the cache (a checkpoint's imported tokeniser); its content is what matters,
    # and check_resume_data compares the tokeniser's fingerprint.
    "data.tokenizer",
    "train.allow_config_change",
    "train.cpu_scheduler",  # op order only: the same numbers
)


def flatten(tree: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_resume_config(workdir: Path, config: Any, *, announce: bool = True) -> list[str]:
    """Refuse to resume a run whose saved config differs in anything that changes training.

    With train.allow_config_change=true the run resumes; the differences are returned (for
    run.json) and, with `announce`, printed.
    """
    saved_path = workdir / "config.json"
    if not saved_path.exists() or not (workdir / "checkpoints").exists():
        return []
    saved = flatten(json.loads(saved_path.read_text()))
    current = flatten(config_lib.to_dict(config))
    # A setting added after the run was saved, at its default, changes nothing the run did
    # (a new feature's switch, off by default, e.g. data.phrases).
    try:
        defaults = flatten(config_lib.to_dict(type(config)()))
    except TypeError:  # a config type without defaults for every field
        defaults = {}
    changed = [
        f"{key}: {saved.get(key)!r} -> {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
        and not key.startswith(RESUMABLE_PREFIXES)
        and not (key not in saved and key in defaults and current[key] == defaults[key])
    ]
    if changed and not config.train.allow_config_change:
        raise UserError(
            f"{workdir} holds a run with a different config ({'; '.join(changed)}); use a new "
            "--workdir, the saved settings, or --set train.allow_config_change=true to resume "
            "with the new ones"
        )
    if changed and announce and distributed.is_main_process():
        print(
            f"resuming {workdir} with a changed config (train.allow_config_change=true): "
            f"{'; '.join(changed)}",
            file=sys.stderr,
        )
    return changed


def saved_run_value(workdir: Path, key: str) -> Any:
    """run.json's `key` for a run that has checkpoints to resume from, else None."""
    run_path = workdir / "run.json"
    if not run_path.exists() or not (workdir / "checkpoints").exists():
        return None
    return json.loads(run_path.read_text()).get(key)


def check_resume_data(workdir: Path, fingerprint: str, what: str) -> None:
    """Refuse to resume a run whose data changed under the same config (a file edited in place):
    the checkpoint's rows would be read as other words or tokens."""
    saved = saved_run_value(workdir, "data_fingerprint")
    if saved is not None and saved != fingerprint:
        raise UserError(
            f"{workdir} was trained with a different {what} (fingerprint {saved} -> "
            f"{fingerprint}): the data behind data.source changed since the run began; use a "
            "new --workdir"
        )


def vocabulary_fingerprint(words: list[str], counts: np.ndarray) -> str:
    digest = hashlib.sha256("\n".join(words).encode())
    digest.update(np.asarray(counts, np.int64).tobytes())
    return digest.hexdigest()[:16]


def tokenizer_fingerprint(tokenizer_json: bytes, tokens: int) -> str:
    return hashlib.sha256(tokenizer_json + json.dumps(tokens).encode()).hexdigest()[:16]


def write_whole(path: Path, text: str) -> None:
    """Replace `path` by `text` in one rename, so that no reader sees a partly written file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def write_config(workdir: Path, config: Any) -> None:
    if distributed.is_main_process():
        write_whole(workdir / "config.json", config_lib.to_json(config) + "\n")


def write_run_info(
    workdir: Path, fingerprint: str, config_changes: list[str], **extra: Any
) -> dict:
    """run.json: provenance common to every family, then the family's own `extra` entries."""
    info = {
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        **extra,
        "data_fingerprint": fingerprint,
    }
    if config_changes:
        info["resumed_with_config_changes"] = config_changes
    if distributed.is_main_process():
        write_whole(workdir / "run.json", json.dumps(info, indent=2) + "\n")
    return info


def open_run(workdir: str | Path, config: Any) -> tuple[Path, list[str]]:
    """Create the workdir, check a saved config against this one, write config.json; returns
    (workdir, the accepted config changes)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # Every process compares with the saved config before process 0 replaces it, so that all of
    # them judge the same file (a resume once failed on process 1 alone, which read config.json
    # while process 0 was rewriting it, and process 0 then waited for it for ever); a refusal on
    # any of them stops them all.
    changes = distributed.stop_together(
        "the config check", lambda: check_resume_config(workdir, config)
    )
    write_config(workdir, config)
    return workdir, changes
