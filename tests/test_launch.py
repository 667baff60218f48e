"""launch.py's ergonomics: --help lists the experiments, --print-config shows the docstring."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import launch


def test_help_lists_every_experiment_with_its_one_line_summary(capsys):
    with pytest.raises(SystemExit) as exit_:
        launch.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for path in sorted(Path("experiments").glob("*.py")):
        assert f"experiments/{path.name}" in out, path.name
    assert re.search(
        r"experiments/word2vec\.py +word2vec \(skip-gram, negative sampling\) on the built-in "
        r"synthetic world\.\n",
        out,
    )
    # A long first paragraph is cut at a word, on one line.
    lion = next(line for line in out.splitlines() if "encoder_mlm_lion.py" in line)
    assert lion.endswith(" …") and len(lion.split("  ")[-1]) <= 100


def test_no_experiment_prints_the_list_and_a_one_line_error(capsys):
    assert launch.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "experiments:" and any("experiments/encoder_mlm.py" in e for e in err)
    assert err[-1] == "error: no experiment given; run python launch.py experiments/NAME.py"


def test_print_config_shows_the_docstring_above_the_resolved_config(capsys):
    code = launch.main(
        [
            "experiments/encoder_mlm.py",
            "--print-config",
            "--set",
            "objective.levels=[token,span]",
            "--set",
            'objective.weights={"contrastive": 0.5}',
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[0] == "# experiments/encoder_mlm.py"
    assert err[1] == (
        "# Transformer encoder trained by masked-token prediction (BERT's MLM, 80/10/10 masking)."
    )
    assert "#     python launch.py experiments/encoder_mlm.py --workdir runs/encoder_mlm" in err
    config = json.loads(captured.out)  # stdout stays JSON
    assert config["objective"]["levels"] == ["token", "span"]
    assert config["objective"]["weights"] == {"contrastive": 0.5}
