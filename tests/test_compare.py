"""The objective comparison produces a complete table on a tiny configuration."""

import csv
import re

import numpy as np
import pytest

from research import config as config_lib
from research.compare import CompareConfig, encoder_run_config, methods_of, run_comparison
from research.errors import UserError
from research.eval.geometry import alignment, positive_pairs, uniformity


def test_comparison_runner_writes_a_complete_table(tmp_path):
    config = CompareConfig(name="tiny_compare")
    config_lib.apply_overrides(
        config,
        [
            "objectives=mlm,multi_abstraction",
            "seeds=0,1",
            "baselines=tfidf",
            "encoder.train.steps=6",
            "encoder.data.synthetic_tokens=60000",
            "encoder.data.max_len=64",
            "encoder.data.sentence_len=32",
            "encoder.data.vocab_size=800",
            "encoder.train.batch_size=4",
            "encoder.train.sentence_batch_size=4",
            "encoder.train.warmup_steps=2",
            "encoder.train.log_every=3",
            "encoder.train.checkpoint_every=6",
            "encoder.eval.probe_folds=2",  # cross-validated probes; 10 folds cost 5x the fits
            "log.progress=false",
        ],
    )
    table = run_comparison(config, tmp_path)
    assert set(table) == {
        "mlm",
        "multi_abstraction",
        "baseline: tfidf",
        "baseline: word overlap",  # the sense pairs' Jaccard baseline, from the runs' results
    }
    assert set(table["baseline: word overlap"]) == {
        "synthetic_sense/accuracy",
        "synthetic_sense/roc_auc",
    }
    markdown = (tmp_path / "comparison.md").read_text()
    for method in table:
        assert f"| {method} |" in markdown
    assert "**" in markdown and " ± " in markdown
    for column in ["sense acc", "STS ρ", "retrieval R@1", "probe topic"]:
        assert column in markdown
    rows = list(csv.DictReader((tmp_path / "comparison.csv").open()))
    assert {r["method"] for r in rows} == set(table)
    assert all(r["n"] == "2" for r in rows if r["method"] == "mlm")
    assert (tmp_path / "plots" / "compare_metrics.png").exists()
    assert (tmp_path / "plots" / "training_curves.png").exists()
    assert (tmp_path / "runs" / "mlm" / "seed1" / "plots" / "level_probe_matrix.png").exists()
    # A second call reads the finished runs back instead of training again.
    again = run_comparison(config, tmp_path)
    assert again == table


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
