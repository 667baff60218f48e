"""`python -m research.query`: neighbours, analogies and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from research.errors import UserError
from research.eval.vectors import WordVectors
from research.query import main, parse_expression


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run whose vectors plant king = royal + male, queen = royal + female, among noise."""
    rng = np.random.default_rng(0)
    royal, male, female = np.eye(24, dtype=np.float32)[:3] * 3
    planted = {
        "man": male,
        "woman": female,
        "king": royal + male,
        "queen": royal + female,
        "x-ray": rng.standard_normal(24),
    }
    fillers = {f"w{i}": rng.standard_normal(24) for i in range(30)}
    words = list(planted) + list(fillers)
    vectors = np.stack(list(planted.values()) + list(fillers.values()))
    WordVectors(words, vectors).save_word2vec_text(tmp_path / "run" / "vectors.txt")
    return tmp_path / "run"


def test_single_word_prints_neighbours(run_dir, capsys):
    assert main([str(run_dir), "king", "--topn", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("nearest neighbours of 'king'")
    assert out[1].split() == ["rank", "word", "cosine"]
    assert len(out) == 2 + 3
    assert out[2].split()[1] in {"man", "queen"} and "king" not in " ".join(out[2:])


def test_expression_answers_the_analogy(run_dir, capsys):
    assert main([str(run_dir), "king - man + woman", "--topn", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("king - man + woman")
    assert out[2].split()[:2] == ["1", "queen"]
    assert main([str(run_dir), "KING-man+woman", "--restrict-vocab", "10"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[1] == "queen"


def test_hyphenated_vocabulary_word_is_a_word(run_dir, capsys):
    assert main([str(run_dir), "x-ray"]) == 0
    assert capsys.readouterr().out.startswith("nearest neighbours of 'x-ray'")


def test_oov_words_are_named_with_exit_status_2(run_dir, capsys):
    assert main([str(run_dir), "king - dragon + unicorn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not in the vocabulary") and "dragon, unicorn" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_run_dir_and_missing_vectors_say_train_first(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "king"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty_run").mkdir()
    assert main([str(tmp_path / "empty_run"), "king"]) == 2
    err = capsys.readouterr().err
    assert "no vectors.txt" in err and "train" in err


@pytest.mark.parametrize("query", ["king +", "king man", "king + - man", "+", " "])
def test_malformed_expression_exits_2(run_dir, capsys, query):
    assert main([str(run_dir), query]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "king - man + woman" in err


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("king - man + woman", ["king", "woman"], ["man"]),
        ("king-man+woman", ["king", "woman"], ["man"]),
        ("king -man +woman", ["king", "woman"], ["man"]),
        ("x-ray - bone", ["x-ray"], ["bone"]),
        ("paris", ["paris"], []),
    ],
)
def test_parse_expression(text, positive, negative):
    assert parse_expression(text) == (positive, negative)


def test_parse_expression_rejects_leading_operator():
    with pytest.raises(UserError, match="malformed"):
        parse_expression("-man + woman")


def test_module_entry_point_prints_no_traceback(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "research.query", str(tmp_path / "none"), "king"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "train" in done.stderr
