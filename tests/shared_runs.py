"""Runs that several tests read, trained once per test session (not once per xdist worker)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock


def built_once(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> tuple[Path, Any]:
    """`build(workdir)` run once per test session, by whichever xdist worker asks first; the
    others wait for it and read its workdir and its return value (kept beside it as JSON). A
    session fixture alone would train once per worker."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base directories share this parent
    workdir, value_file = root / name, root / f"{name}.value.json"
    with FileLock(str(root / f"{name}.lock")):
        if not value_file.exists():
            if workdir.exists():  # a worker's build raised: its test shows the error
                raise RuntimeError(f"the shared run {name} failed in another worker")
            workdir.mkdir()
            value_file.write_text(json.dumps(build(workdir)))  # written last: the run is whole
    return workdir, json.loads(value_file.read_text())
