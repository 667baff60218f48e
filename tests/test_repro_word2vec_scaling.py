"""The word2vec scaling reproduction runs a 2x2 grid end to end and resumes a partial one."""

import csv

import pytest

from launch import load_experiment
from research import config as config_lib
from research.config import DataConfig
from research.data import corpus as corpus_lib
from research.errors import UserError

EXPERIMENT = "experiments/repro_word2vec_scaling.py"


def tiny_config(experiment, analogy_path):
    return config_lib.apply_overrides(
        experiment.get_config(),
        [
            "models=[skipgram,cbow]",
            "dims=[8]",
            "tokens=[20000,40000]",
            "noise_dim=8",
            "noise_seeds=[]",
            "word2vec.data.source=synthetic",
            "word2vec.data.synthetic_tokens=60000",
            "word2vec.data.min_count=1",
            # Both prefixes hold more words than this, so every cell of a model has the same
            # shapes and compiles once (the persistent compile cache serves the others).
            "word2vec.data.max_vocab=600",
            "word2vec.train.epochs=1",
            "word2vec.train.batch_size=256",
            "word2vec.train.log_every=20",
            f"word2vec.evals.google.path={analogy_path}",
            "word2vec.eval.neighbours=[]",
        ],
    )


def test_scaling_grid_writes_tables_and_resumes(tmp_path, capsys):
    experiment = load_experiment(EXPERIMENT)
    _, world = corpus_lib.resolve_data_source(DataConfig(synthetic_tokens=60_000))
    config = tiny_config(experiment, world["analogy"])
    # Two models x two prefixes; an extra seed adds a cell per model at the largest prefix.
    assert len(experiment.cells_of(config)) == 4
    noisy = config_lib.apply_overrides(tiny_config(experiment, world["analogy"]), ["noise_seeds=1"])
    assert [c.seed for c in experiment.cells_of(noisy)] == [0, 0, 0, 1, 0, 1]
    # A partial grid first: one cell, finished before the whole grid runs.
    partial = config_lib.apply_overrides(
        tiny_config(experiment, world["analogy"]),
        ["models=[skipgram]", "tokens=[20000]", "noise_seeds=[]"],
    )
    assert len(experiment.run(partial, tmp_path)) == 1
    first_cell = experiment.cells_of(config)[0]
    capsys.readouterr()
    rows = experiment.run(config, tmp_path)
    assert len(rows) == 4
    assert {r["raw_tokens"] for r in rows} == {20000, 40000}
    vocabularies = {
        tokens: corpus_lib.prepare_corpus(
            experiment.cell_config(config, experiment.Cell("cbow", 8, tokens, 0)).data
        ).words
        for tokens in (20000, 40000)
    }
    assert vocabularies[20000] != vocabularies[40000]  # each prefix its own vocabulary
    assert all(0 <= r["total"] <= 1 and 0 < r["coverage"] <= 1 for r in rows)
    markdown = (tmp_path / "scaling.md").read_text()
    for heading in ["## skipgram: total accuracy", "## cbow: total accuracy", "## Seed spread"]:
        assert heading in markdown
    assert "| dim \\ training words | 20k | 40k |" in markdown
    written = list(csv.DictReader((tmp_path / "scaling.csv").open()))
    assert len(written) == 4 and {"semantic", "syntactic", "coverage"} <= set(written[0])
    assert (tmp_path / "plots" / "scaling.png").exists()
    assert (first_cell.directory(tmp_path) / "results.json").exists()
    progress = capsys.readouterr().err
    assert "[1/4] skipgram dim 8, 20k words, seed 0: total" in progress
    assert "[2/4] cbow dim 8, 20k words, seed 0 -> " in progress
    assert progress.count("finished earlier") == 1
    # Re-running reads every finished cell back instead of training again.
    assert experiment.run(config, tmp_path) == rows
    assert "finished earlier" in capsys.readouterr().err


def test_scaling_config_errors_are_one_line(tmp_path):
    experiment = load_experiment(EXPERIMENT)
    config = experiment.get_config()
    config_lib.apply_overrides(config, ["dims=[]"])
    with pytest.raises(UserError, match="dims is empty"):
        experiment.cells_of(config)
    config = config_lib.apply_overrides(experiment.get_config(), ["word2vec.evals.google="])
    with pytest.raises(UserError, match="names no analogy evaluator"):
        experiment.run(config, tmp_path)
