"""The objective comparison produces a complete table on a tiny configuration."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import launch
from research import config as config_lib
from research.compare import CompareConfig, encoder_run_config, methods_of, run_comparison
from research.errors import UserError
from research.eval.geometry import alignment, positive_pairs, uniformity


def test_simcse_reproduction_smoke_over_seeds(tmp_path):
    """experiments/repro_simcse.py at toy size: its five recipes (staged one included) and two
    baselines over 2 of its 3 seeds (the seed loop, mean ± std and the staged run's parent per
    seed need two; a third only adds runs), on an equal token budget, scored on a small STS
    file."""
    sts = tmp_path / "sts.csv"
    pairs = [
        ("the river bank was flooded", "water rose over the river bank", 4.6),
        ("the bank raised its rates", "interest at the bank went up", 4.2),
        ("a dog ran in the park", "the stock market fell today", 0.2),
        ("she sold the old house", "the old house was sold by her", 5.0),
        ("the farmer planted corn", "corn was planted by the farmer", 4.8),
        ("a storm hit the coast", "the recipe needs two eggs", 0.0),
        ("the bank lends money", "the boat reached the bank", 1.0),
        ("rain fell all day", "it rained the whole day", 4.4),
    ]
    sts.write_text(
        "".join(f"g\tf\t2017\t{i}\t{s}\t{a}\t{b}\n" for i, (a, b, s) in enumerate(pairs))
    )
    config = launch.load_experiment("experiments/repro_simcse.py").get_config()
    config_lib.apply_overrides(
        config,
        [
            "encoder.data.source=synthetic",
            "encoder.data.synthetic_tokens=60000",
            "encoder.data.max_len=64",
            "encoder.data.sentence_len=32",
            "encoder.data.vocab_size=800",
            # One narrow block: the test checks the comparison's plumbing (recipes, seeds,
            # staging, table, plots), not what depth buys; a deeper step only costs compiles.
            "encoder.model.layers=1",
            "encoder.model.dim=32",
            "encoder.model.mlp_dim=64",
            "encoder.eval.default_suite=false",
            "encoder.evals={}",
            "encoder.evals.stsb_test.kind=sentence_similarity",
            f"encoder.evals.stsb_test.path={sts}",
            "encoder.train.batch_size=4",
            "encoder.train.sentence_batch_size=4",
            "encoder.train.warmup_steps=1",
            "encoder.train.log_every=2",
            "encoder.train.checkpoint_every=100",
            "token_budget=600",
            "baselines=[tfidf,sif]",
            "word2vec.data.source=synthetic",
            "word2vec.data.synthetic_tokens=60000",
            "word2vec.model.dim=16",
            "word2vec.train.epochs=1",
        ],
    )
    assert config.seeds == [0, 1, 2]  # the experiment's own seeds
    config.seeds = [0, 1]
    table = run_comparison(config, tmp_path)
    methods = ["mlm", "simcse", "neighbour", "mlm_half", "mlm_then_simcse", "mlm+simcse"]
    assert set(table) == {*methods, "baseline: tfidf", "baseline: sif"}
    for method in methods:
        assert table[method]["stsb_test/spearman"][2] == 2  # every seed scored
        assert "stsb_test/uniformity" in table[method]
    # The staged run started from its parent (same seed) and read the other half of the budget.
    info = json.loads((tmp_path / "runs/mlm_then_simcse/seed1/run.json").read_text())
    assert Path(info["init_from"]["path"]) == tmp_path / "runs/mlm_half/seed1"
    markdown = (tmp_path / "comparison.md").read_text()
    assert "Token budget 600 data tokens per method" in markdown
    # Compute per step beside each method: a SimCSE step encodes every sentence twice.
    gflop = {
        m: float(re.search(rf"^- {re.escape(m)}: .*; ([\d.]+) GFLOP a step", markdown, re.M)[1])
        for m in methods
    }
    assert all(g > 0 for g in gflop.values())
    assert gflop["mlm+simcse"] > gflop["mlm"]
    assert "- mlm_then_simcse:" in markdown and "after mlm_half" in markdown
    for method in table:
        assert f"| {method} |" in markdown
    assert "STS-B test ρ" in markdown and "STS-B uniform ↓" in markdown
    assert "**" in markdown and " ± " in markdown
    rows = list(csv.DictReader((tmp_path / "comparison.csv").open()))
    assert {r["method"] for r in rows} == set(table)
    assert all(r["n"] == "2" for r in rows if r["method"] in methods)
    assert (tmp_path / "plots" / "compare_metrics.png").exists()
    assert (tmp_path / "plots" / "training_curves.png").exists()
    # A second call reads the finished runs back instead of training again.
    assert run_comparison(config, tmp_path) == table


def test_methods_are_checked_and_ordered_parents_first():
    config = CompareConfig(objectives=["mlm"])
    config_lib.apply_overrides(
        config,
        [
            'methods.staged={"init_from": "half", "objective.kind": "contrastive", '
            '"objective.positives": "dropout", "budget": 0.5}',
            'methods.half={"objective.kind": "mlm", "budget": 0.5}',
        ],
    )
    methods = methods_of(config)
    assert list(methods) == ["mlm", "half", "staged"]
    run = encoder_run_config(config, "staged", 2, methods["staged"])
    assert (run.objective.kind, run.objective.positives, run.train.seed) == (
        "contrastive",
        "dropout",
        2,
    )
    for spec, message in [
        ({"init_from": "nobody"}, "methods.x.init_from='nobody': expected another method's name"),
        ({"budget": 0}, "methods.x.budget=0: expected a share in (0, 1]"),
        ({"data.max_len": 8}, "methods.x sets data.max_len: compared methods share their data"),
    ]:
        config.methods = {"x": spec}
        with pytest.raises(UserError, match=re.escape(message)):
            methods_of(config)
    config.methods = {"a": {"init_from": "b"}, "b": {"init_from": "a"}}
    with pytest.raises(UserError, match="init_from cycle a -> b -> a"):
        methods_of(config)
    with pytest.raises(UserError, match=re.escape("methods.x: unknown config key 'objective.kin'")):
        encoder_run_config(config, "x", 0, {"objective.kin": "mlm"})


def test_alignment_and_uniformity_on_known_geometries():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    assert alignment(x, 2 * x) == pytest.approx(0.0)
    assert alignment(x, -x) == pytest.approx(4.0)  # antipodal unit vectors: distance² 4
    assert uniformity(np.ones((6, 4))) == pytest.approx(0.0)  # one point: the worst spread
    assert uniformity(np.eye(8)) == pytest.approx(-4.0)  # orthonormal: distance² 2 everywhere
    assert list(positive_pairs(np.array([0.0, 3.9, 4.0, 5.0]))) == [2, 3]  # STS-B: score >= 4


def test_flops_per_step_scale_with_the_batch():
    """XLA's count of a step's operations: twice the sequences, about twice the compute (the
    optimizer update over the weights does not grow with the batch)."""
    from research.train import encoder as encoder_trainer
    from tests.test_multilevel import tiny_config

    small = tiny_config(**{"objective.kind": "mlm", "train.batch_size": 8})
    large = tiny_config(**{"objective.kind": "mlm", "train.batch_size": 16})
    data = encoder_trainer.prepare_data(small, main=True)
    ratio = encoder_trainer.flops_per_step(large, data) / encoder_trainer.flops_per_step(
        small, data
    )
    assert 1.8 < ratio < 2.05
