"""The objective comparison produces a complete table on a tiny configuration."""

import csv

from research import config as config_lib
from research.compare import CompareConfig, run_comparison


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
