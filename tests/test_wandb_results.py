"""W&B shows the run's results: plots, summary, results.md tables, comparison table, artifacts.

Every test runs W&B offline (conftest sets WANDB_MODE=offline) and reads the offline run
directory back: the media files under files/ and the records of the run's .wandb file.
"""

from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from research.io.wandb_results import markdown_tables, table_key, typed_columns


@pytest.fixture(autouse=True, scope="module")
def _wandb_dirs(tmp_path_factory):
    """W&B's staging and cache directories (artifacts are copied there) go to a temporary
    directory, not ~/.local/share/wandb. Once per module: changing them between runs of one
    process made later offline runs lose records (wandb 0.31's service is per process)."""
    home = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_ARTIFACT_DIR"):
            patch.setenv(name, str(home / name.lower()))
        yield


# ----------------------------------------------------------------------------- reading back


def wandb_records(run_dir: Path, timeout: float = 20.0) -> list:
    """The protobuf records of a finished offline run's .wandb file.

    `run.finish()` can return before W&B's service process has written the whole file (seen
    here: a read straight after it found no records, a later read all of them), so this reads
    until the run's `exit` record is there.

    wandb 0.31 no longer ships a Python reader (wandb.sdk.internal.datastore went with the Go
    core), so this reads the file's LevelDB-log framing: a 7-byte header (":W&B", magic, version)
    then 32 KiB blocks of chunks, each 4-byte CRC, 2-byte length, 1-byte type (1 full record,
    2/3/4 first/middle/last piece); a block's tail shorter than a chunk header is padding."""
    (path,) = run_dir.glob("*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        records = _read_records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: no exit record after {timeout:.0f} s")
        time.sleep(0.1)


def _read_records(path: Path) -> list:
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    if len(data) < 7:
        return []
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pieces, pos, block = [], [], 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):
            break  # a chunk still being written
        pieces.append(data[pos + 7 : pos + 7 + length])
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(pieces))
            records.append(record)
            pieces = []
    return records


def offline_run(workdir: Path) -> Path:
    (run_dir,) = (workdir / "wandb").glob("offline-run-*")
    return run_dir


def summary_of(records) -> dict:
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


def artifacts_of(records) -> dict[str, tuple[str, list[str]]]:
    """{artifact name: (type, manifest paths)}."""
    return {
        r.artifact.name: (r.artifact.type, [c.path for c in r.artifact.manifest.contents])
        for r in records
        if r.WhichOneof("record_type") == "artifact"
    }


def logged_tables(run_dir: Path) -> dict[str, dict]:
    """{key: table json} of the tables under files/media/table (key = path, step suffix cut)."""
    tables = {}
    root = run_dir / "files" / "media" / "table"
    for path in root.rglob("*.table.json"):
        key = str(path.relative_to(root)).rsplit("_", 2)[0]
        tables[key] = json.loads(path.read_text())
    return tables


def logged_images(run_dir: Path) -> set[str]:
    root = run_dir / "files" / "media" / "images"
    return {str(p.relative_to(root)).rsplit("_", 2)[0] for p in root.rglob("*.png")}


# ----------------------------------------------------------------------------- tests


def test_markdown_tables_keep_headings_cells_and_number_columns():
    text = (
        "# Results\n\n## Metrics\n\n| evaluation | metric | value |\n|---|---|---|\n"
        "| sts | spearman | **0.71** |\n| sts | pairs | 1,500 |\n| sim | spearman | n/a |\n\n"
        "### neighbours: nearest (cosine)\n\n| word | neighbours |\n|:--|--:|\n"
        "| a\\|b | c 0.9, d 0.8 |\n| short |\n"
    )
    (t1, h1, r1), (t2, h2, r2) = markdown_tables(text)
    assert (t1, h1) == ("Metrics", ["evaluation", "metric", "value"])
    assert typed_columns(r1) == [
        ["sts", "spearman", 0.71],
        ["sts", "pairs", 1500.0],
        ["sim", "spearman", None],
    ]
    assert table_key(t2) == "neighbours_nearest_cosine"
    assert r2 == [["a|b", "c 0.9, d 0.8"], ["short", ""]]
    assert typed_columns(r2) == r2  # text columns stay text
    assert markdown_tables("no tables | here\n") == []


def test_a_word2vec_run_logs_plots_summary_tables_and_artifacts(tmp_path, word2vec_run):
    """The shared finished run, copied and run again with W&B on: a finished run is evaluated
    again without training, through the same writers as a training run (log.* may change)."""
    from research.train import word2vec as loop
    from tests.test_train import small_config

    shutil.copytree(word2vec_run, tmp_path / "run")
    config = small_config(**{"log.wandb": "true", "log.wandb_artifacts": "true"})
    results = loop.train_and_evaluate(config, tmp_path / "run")
    run_dir = offline_run(tmp_path / "run")
    records = wandb_records(run_dir)

    # Every plot the run wrote, as an image.
    plots = {p.stem for p in (tmp_path / "run" / "plots").glob("*.png")}
    assert plots == {"analogy_pca", "loss"}
    assert logged_images(run_dir) == {f"plots/{p}" for p in plots}
    # results.json is the summary.
    summary = summary_of(records)
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk.keys() == results.keys()
    for key, value in on_disk.items():
        assert summary[key] == pytest.approx(value), key
    # results.md's tables, numbers as numbers.
    tables = logged_tables(run_dir)
    metrics = tables["results/metrics"]
    assert metrics["columns"] == ["evaluation", "metric", "value"]
    row = next(r for r in metrics["data"] if r[:2] == ["synthetic_analogy", "accuracy"])
    assert row[2] == pytest.approx(results["synthetic_analogy/accuracy"], abs=1e-4)
    assert {"results/provenance", "results/neighbours_nearest_neighbours_cosine"} <= set(tables)
    # The vectors and the final checkpoint (with the files that reload it) as artifacts.
    run_id = (tmp_path / "run" / "wandb_id.txt").read_text().strip()
    artifacts = artifacts_of(records)
    assert artifacts[f"vectors-{run_id}"] == ("vectors", ["vectors.txt", "vocab.txt"])
    kind, paths = artifacts[f"model-{run_id}"]
    step = max(int(p.name) for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert kind == "model" and {"config.json", "run.json"} <= set(paths)
    assert any(p.startswith(f"checkpoints/{step}/state/") for p in paths), paths


def test_without_wandb_artifacts_only_tables_are_artifacts(tmp_path):
    """log.wandb_artifacts defaults to false: no vectors or model artifact (W&B stores each
    table as an artifact of type run_table)."""
    from research.config import LogConfig
    from research.io.writers import WandbWriter

    assert LogConfig().wandb_artifacts is False
    workdir = tmp_path / "run"
    (workdir / "checkpoints" / "7").mkdir(parents=True)
    (workdir / "checkpoints" / "7" / "state").write_text("weights")
    (workdir / "vectors.txt").write_text("1 2\na 0.5 0.25\n")
    (workdir / "results.md").write_text("## Metrics\n\n| a | b |\n|---|---|\n| x | 1 |\n")
    writer = WandbWriter({}, workdir, project="strata-test", group="")
    writer.summary({"x/y": float("nan"), "x/z": 2.0})
    writer.close()
    records = wandb_records(offline_run(workdir))
    assert {t for t, _ in artifacts_of(records).values()} == {"run_table"}
    summary = summary_of(records)
    assert summary["x/y"] is None and summary["x/z"] == 2.0
    assert logged_tables(offline_run(workdir))["results/metrics"]["data"] == [["x", 1.0]]


def test_artifacts_without_wandb_are_refused_before_training(tmp_path):
    from research.errors import UserError
    from research.train import word2vec as loop
    from tests.test_train import small_config

    config = small_config(**{"log.wandb_artifacts": "true"})
    with pytest.raises(UserError, match="log.wandb_artifacts=true logs to W&B: add --set log"):
        loop.train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_comparison_table_is_one_table_in_the_comparison_group(tmp_path):
    from research.compare import CompareConfig, comparison_rows, log_comparison_to_wandb

    config = CompareConfig(name="cmp_test")
    config.log.wandb = True
    table = {
        "mlm": {"synthetic_sts/spearman": (0.7, 0.02, 3), "synthetic_sense/accuracy": (0.6, 0, 2)},
        "baseline: tfidf": {"synthetic_sts/spearman": (0.8, 0.0, 3)},
    }
    (tmp_path / "plots").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "plots" / "compare_metrics.png")
    log_comparison_to_wandb(config, tmp_path, table)

    run_dir = offline_run(tmp_path)
    records = wandb_records(run_dir)
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.run_group, run.display_name) == ("cmp_test", "comparison")
    logged = logged_tables(run_dir)
    assert list(logged) == ["comparison"]
    columns, rows = comparison_rows(table)
    assert (
        logged["comparison"]["columns"]
        == columns
        == [
            "method",
            "seeds",
            "sense acc",
            "sense acc std",
            "STS ρ",
            "STS ρ std",
        ]
    )
    assert logged["comparison"]["data"] == [
        ["mlm", 2, 0.6, 0, 0.7, 0.02],
        ["baseline: tfidf", 3, None, None, 0.8, 0.0],
    ]
    assert logged_images(run_dir) == {"plots/compare_metrics"}
