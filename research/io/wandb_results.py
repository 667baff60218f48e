"""What a W&B run shows besides the loss: the run's plots, results and tables, and its artefacts.

At the end of a run (`WandbWriter.summary`) the run's workdir is read back, so W&B shows exactly
what the run wrote to disk:
  plots/*.png          images, keyed plots/<file stem>
  results.json         the run summary (null metrics stay null)
  results.md           every markdown table as a W&B table, keyed results/<section heading>
  vectors.txt          artifact `vectors-<run id>` (type vectors, with vocab.txt when present),
                       when log.wandb_artifacts
  checkpoints/<last>/  artifact `model-<run id>` (type model) with best/, config.json, run.json
                       and tokenizer.json when present: what `load_encoder` reads back
The comparison runner logs its table as one W&B table in its own run of the comparison's group
(`log_comparison`).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Files beside the final checkpoint that a reloaded run needs (config, tokenizer) or that say
# what produced it (run.json: commit, devices, corpus statistics).
MODEL_FILES = ("config.json", "run.json", "tokenizer.json")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def markdown_tables(markdown: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every pipe table in `markdown`; the title is the nearest heading
    above the table ("table <k>" if none). Cells are stripped; escaped pipes (\\|) stay in a
    cell. Rows with a different cell count from the header are padded or cut to its width."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    heading = ""
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", nxt):
            header = _cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = _cells(lines[i].strip())
                rows.append((cells + [""] * len(header))[: len(header)])
                i += 1
            tables.append((heading or f"table {len(tables) + 1}", header, rows))
            continue
        i += 1
    return tables


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:]
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def typed_columns(rows: Sequence[Sequence[str]]) -> list[list[Any]]:
    """Rows with every column that holds only numbers (bold marks, n/a and empty cells allowed)
    turned into floats (no value -> None): W&B tables need one type per column, and numeric
    columns are the ones its charts can plot."""
    if not rows:
        return []
    width = len(rows[0])
    numeric = [
        all(_NUMBER.match(_plain(r[c])) or not _plain(r[c]) for r in rows)
        and any(_plain(r[c]) for r in rows)
        for c in range(width)
    ]
    return [
        [
            (float(_plain(cell)) if _plain(cell) else None) if numeric[c] else cell
            for c, cell in enumerate(row)
        ]
        for row in rows
    ]


_MISSING = {"", "n/a", "nan", "null", "-", "—"}  # cells that say "no value" (results.md's format)


def _plain(cell: str) -> str:
    """The number in a cell without bold marks and thousands separators; "" for no value."""
    text = cell.strip().strip("*").replace(",", "").strip()
    return "" if text.lower() in _MISSING else text


def table_key(title: str) -> str:
    """A W&B key from a section heading: lower case, runs of other characters as one '_'."""
    return re.sub(r"[^0-9a-z@]+", "_", title.lower()).strip("_") or "table"


def latest_checkpoint(workdir: Path) -> Path | None:
    """The highest-numbered step directory under workdir/checkpoints (Orbax's layout)."""
    steps = [p for p in (workdir / "checkpoints").glob("*") if p.is_dir() and p.name.isdigit()]
    return max(steps, key=lambda p: int(p.name)) if steps else None


def log_run_results(
    run: Any, workdir: Path, results: dict[str, float | None], *, artifacts: bool
) -> None:
    """Log the workdir's plots, results.json (as the summary), results.md's tables and, when
    `artifacts`, its vectors and final checkpoint, to the W&B `run`."""
    import wandb

    summary_file = workdir / "results.json"
    if summary_file.exists():  # the file is what the run reports; `results` is the fallback
        results = json.loads(summary_file.read_text())
    finite = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in results.items()
    }
    run.summary.update(finite)
    media: dict[str, Any] = {}
    for png in sorted((workdir / "plots").glob("*.png")):
        media[f"plots/{png.stem}"] = wandb.Image(str(png))
    report = workdir / "results.md"
    if report.exists():
        seen: dict[str, int] = {}
        for title, header, rows in markdown_tables(report.read_text(encoding="utf-8")):
            key = table_key(title)
            seen[key] = seen.get(key, 0) + 1
            key = key if seen[key] == 1 else f"{key}_{seen[key]}"
            try:
                media[f"results/{key}"] = wandb.Table(columns=header, data=typed_columns(rows))
            except (ValueError, TypeError) as err:  # the results are on disk: warn, go on
                print(f"W&B: table {title!r} of results.md not logged ({err})", file=sys.stderr)
    if media:
        # No step: the images and tables belong to the run's last step (an explicit step
        # below the last logged one would be dropped by W&B).
        run.log(media)
    if artifacts:
        log_artifacts(run, workdir)


def log_artifacts(run: Any, workdir: Path) -> list[str]:
    """Log vectors.txt (and vocab.txt) and the final checkpoint (with what reloads it) as
    artifacts; returns
    the artifact names logged. Files are copied to W&B's staging area when logged (its
    default), so an offline run uploads them intact on `wandb sync` even after later
    checkpoints replace these."""
    import wandb

    names = []
    vectors = workdir / "vectors.txt"
    if vectors.exists():
        artifact = wandb.Artifact(f"vectors-{run.id}", type="vectors")
        artifact.add_file(str(vectors))
        if (workdir / "vocab.txt").exists():  # word counts: SIF weights in load_model
            artifact.add_file(str(workdir / "vocab.txt"))
        run.log_artifact(artifact)
        names.append(artifact.name)
    checkpoint = latest_checkpoint(workdir)
    if checkpoint is not None:
        artifact = wandb.Artifact(
            f"model-{run.id}", type="model", metadata={"step": int(checkpoint.name)}
        )
        artifact.add_dir(str(checkpoint), name=f"checkpoints/{checkpoint.name}")
        if (workdir / "best").is_dir():  # model selection's parameters: what load_encoder reads
            artifact.add_dir(str(workdir / "best"), name="best")
        for name in MODEL_FILES:
            if (workdir / name).exists():
                artifact.add_file(str(workdir / name))
        run.log_artifact(artifact)
        names.append(artifact.name)
    return names


def log_comparison(
    run: Any, columns: list[str], rows: list[list[Any]], plots: Sequence[Path] = ()
) -> None:
    """The comparison runner's table as one W&B table (`comparison`) plus its plots."""
    import wandb

    media: dict[str, Any] = {"comparison": wandb.Table(columns=columns, data=rows)}
    for png in plots:
        if png.exists():
            media[f"plots/{png.stem}"] = wandb.Image(str(png))
    run.log(media)
