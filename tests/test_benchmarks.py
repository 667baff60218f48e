"""The benchmark scripts still run: nothing else imports them, so a renamed config field or
helper breaks them silently (benchmarks/word2vec_parallel_blocks.py failed with
`AttributeError: output` for a stop before anyone ran it). Their figures are measured by hand,
not here; these tests only check the plumbing."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if p.name != "bench_common.py")


def load_benchmark(script: Path, monkeypatch) -> object:
    """A benchmark script imported as a module, with benchmarks/ on the path as
    `python benchmarks/X.py` has it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmark_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_is_found():
    assert len(SCRIPTS) >= 15, [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_script_imports_and_parses_its_arguments(script, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    module = load_benchmark(script, monkeypatch)
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    assert "usage:" in shown.getvalue()


def test_word2vec_vs_gensim_runs_end_to_end_on_a_tiny_corpus(tmp_path):
    """The headline benchmark, both workers in their own processes as a real run has them, on a
    60 k-word corpus and gensim's own copies of WS-353 and the analogy file."""
    pytest.importorskip("gensim")
    rng = np.random.default_rng(0)
    words = np.array(["king", "queen", "man", "woman", "cat", "dog", "car", "money"])
    words = np.concatenate([words, [f"w{i}" for i in range(300)]])
    weights = 1.0 / np.arange(1, len(words) + 1)
    corpus = tmp_path / "corpus.txt"
    picks = rng.choice(len(words), size=(1000, 30), p=weights / weights.sum())
    corpus.write_text("".join(" ".join(words[row]) + "\n" for row in picks))
    out, raw = tmp_path / "BENCHMARKS.md", tmp_path / "raw.json"
    command = [
        sys.executable,
        "benchmarks/word2vec_vs_gensim.py",
        "--corpus",
        str(corpus),
        "--kinds",
        "cbow",
        "--gensim-modes",
        "corpus_file",
        "--epochs",
        "1",
        "--dim",
        "16",
        "--out",
        str(out),
        "--json",
        str(raw),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads(raw.read_text())
    ran = [(r["kind"], r["impl"].split()[0]) for r in rows]
    assert ran == [("cbow", "ours"), ("cbow", "gensim")]
    assert all(r["words_per_sec"] > 0 and r["process_words_per_sec"] > 0 for r in rows)
    table = out.read_text()
    assert "<!-- begin word2vec_vs_gensim corpus.txt -->" in table
    assert "| cbow | gensim 4" in table and "words/s ours/gensim (training)" in table


def test_parallel_blocks_report_judges_each_set_against_p1(monkeypatch):
    """word2vec_parallel_blocks.report: mean ± std per P, and Δ against P = 1 judged within the
    larger of the two seed spreads (hand-made rows, no training)."""
    module = load_benchmark(BENCHMARKS / "word2vec_parallel_blocks.py", monkeypatch)

    def row(p, seed, ws, analogy, plural):
        return {
            "P": p,
            "seed": seed,
            "devices": 1,
            "train_seconds": 10.0 + seed,
            "ws353/spearman": ws,
            "analogy/accuracy": analogy,
            "analogy/semantic_accuracy": analogy,
            "analogy/syntactic_accuracy": analogy,
            "section/gram8-plural": plural,
        }

    rows = [
        row(1, 0, 0.60, 0.30, 0.50),
        row(1, 1, 0.62, 0.32, 0.52),  # P = 1: std 0.014 everywhere
        row(8, 0, 0.61, 0.25, 0.60),
        row(8, 1, 0.63, 0.25, 0.60),  # WS within, analogy below, plural above
    ]
    for r in rows[2:]:  # P = 1's rows are as stored before run.json recorded the draw weight
        r["negative_draw_hits"] = {"weight": 5.0, "concentration": 24.39}
    args = type("Args", (), {"corpus": "/x/corpus.txt", "kind": "skipgram", "epochs": 5})()
    args.host_devices = 1
    args.set = ["train.row_hit_cap=22"]
    args.reference_defaults = False
    args.wordsim, args.analogy = "wordsim353.tsv", "questions-words.txt"
    args.dev_wordsim = []
    text = module.report(rows, args, "python benchmarks/word2vec_parallel_blocks.py")
    assert "5 epochs, the defaults but train.row_hit_cap=22, 1 device(s)" in text
    assert "| 1 | 0.610 ± 0.014 | 0.310 ± 0.014 |" in text and text.count("| ? |") == 1
    assert "| 8 | 0.620 ± 0.014 | 0.250 ± 0.000 |" in text and "| 5 (24.4) |" in text
    bounded = {**row(32, 1, 0.66, 0.34, 0.60), "curvature_bound": {"curvature_bound": 1.0}}
    bounded["negative_draw_hits"] = {"weight": 1.0, "concentration": 24.39}
    bounded["curvature_bound"]["row_hit_cap"] = 33  # where the default turned the bound on
    assert module.draw_counts([bounded]) == "1 (24.4), bound, cap 33"
    config = module.run_config(args, 8, 1)
    assert config["train"]["parallel_blocks"] == 8 and config["train"]["row_hit_cap"] == 22
    stored = {"P": 8, "seed": 1, "set": args.set, "config": config}
    assert module.same_run(stored, 8, 1, args.set, config)
    assert not module.same_run({**stored, "set": []}, 8, 1, args.set, config)  # the defaults
    assert not module.same_run({**stored, "config": None}, 8, 1, args.set, config)  # no record
    # A stored run whose config differs from what the run would train with now: a default
    # changed since it ran (here the learning rate), so it is not reported as today's default.
    old_default = {**config, "train": {**config["train"], "learning_rate": 0.025}}
    assert not module.same_run({**stored, "config": old_default}, 8, 1, args.set, config)
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert lines["| WS-353 ρ"].endswith("| +0.010 | yes |")
    assert lines["| analogy"].endswith("| -0.060 | **no** |")
    assert lines["| gram8-plural"].endswith("| +0.090 | above |")
    # --reference-defaults: P = 1 runs (and is looked up) without the overrides, and says so.
    assert module.overrides_for(args, 1) == args.set
    args.reference_defaults = True
    assert module.overrides_for(args, 1) == [] and module.overrides_for(args, 8) == args.set
    text = module.report(rows, args, "python benchmarks/word2vec_parallel_blocks.py")
    assert "train.row_hit_cap=22 (P = 1 at the defaults), 1 device(s)" in text
    args.label = "5 seeds"
    assert module.section_settings(args) == (
        " train.row_hit_cap=22, P = 1 at the defaults, 5 seeds"
    )


def test_parallel_blocks_question_report_says_which_questions_each_p_answers(monkeypatch):
    """word2vec_parallel_blocks.question_report on a hand-made store: per P, the questions each
    run answered in one section, those every run answered, any run answered, and the answers."""
    module = load_benchmark(BENCHMARKS / "word2vec_parallel_blocks.py", monkeypatch)
    questions = [
        ("capitals", "athens", "greece", "paris", "france"),
        ("capitals", "paris", "france", "athens", "greece"),
        ("plurals", "cat", "cats", "dog", "dogs"),
    ]

    def run(p, answered):
        return {"P": p, "analogy/correct_questions": answered, "section_covered/capitals": 2}

    rows = [run(1, "111"), run(1, "011"), run(8, "001"), run(8, "101"), {"P": 8}]
    text = module.question_report(rows, "capitals", questions)
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert lines["| 1"] == "| 1 | 2 | 2, 1 of 2 | 1 | 2 | greece 2, france 1 |"
    assert lines["| 8"] == "| 8 | 2 | 0, 1 of 2 | 0 | 1 | france 1 |"
    assert "rerun with a new --store" in module.question_report([{"P": 1}], "capitals", questions)
    with pytest.raises(SystemExit, match="no such section"):
        module.question_report(rows, "capital", questions)
    with pytest.raises(SystemExit, match="another analogy file"):
        module.question_report([run(1, "11")], "capitals", questions)


def test_parallel_blocks_intervals_judge_sets_by_seeds_and_questions(monkeypatch, tmp_path):
    """word2vec_parallel_blocks's two-level bootstrap on hand-made answers: runs that differ
    widen the interval, one question flipped in every run keeps it as narrow as the pairing
    makes it, a section lost everywhere lies outside, too few runs or questions say n/a, and
    the control judges P = 1's later seeds against its earlier ones by both rules."""
    module = load_benchmark(BENCHMARKS / "word2vec_parallel_blocks.py", monkeypatch)
    analogy = tmp_path / "questions.txt"
    analogy.write_text(
        ": capital-common-countries\n"
        + "".join(f"a{i} b{i} c{i} d{i}\n" for i in range(40))
        + ": gram8-plural\n"
        + "".join(f"e{i} f{i} g{i} h{i}\n" for i in range(40))
    )
    covered = "1" * 70 + "0" * 10  # the last 10 plurals are outside the vocabulary

    def run(p, seed, capitals, plurals):
        return {
            "P": p,
            "seed": seed,
            "analogy/correct_questions": capitals + plurals + "0" * 10,
            "analogy/covered_questions": covered,
        }

    def right(count, total):
        return "1" * count + "0" * (total - count)

    # P = 1: capitals 16, 20, 24 of 40 right (0.4, 0.5, 0.6) twice over; plurals 15 of 30.
    reference = [run(1, seed, right(16 + 4 * (seed % 3), 40), right(15, 30)) for seed in range(6)]
    sets = module.question_sets(reference, str(analogy))
    assert {name: int(m.sum()) for name, m in sets.items()} == {
        "analogy": 70,
        "semantic": 40,
        "syntactic": 30,
        "capital-common-countries": 40,
        "gram8-plural": 30,
    }
    capitals, plurals = sets["capital-common-countries"], sets["gram8-plural"]
    same = module.judge_set(reference, reference, capitals)
    low, high = (float(x) for x in same["interval"].split(" to "))
    assert same["delta"] == 0.0 and same["by interval"] == "yes" and same["by std"] == "yes"
    assert low < -0.05 and high > 0.05  # the runs' spread, not only the questions'
    # One plural right at P = 1 and wrong at P = 8 in every run: paired, each round's Δ is minus
    # how often that question was drawn, so the interval spans a few questions, not the
    # unpaired spread of two independent 50 % sets (about ±0.25 here).
    flipped = [
        run(8, seed, r["analogy/correct_questions"][:40], right(14, 30))
        for seed, r in enumerate(reference)
    ]
    low, high = module.delta_interval(
        *(module.answered(group)[:, plurals] for group in (reference, flipped))
    )
    assert -4 / 30 <= low < 0.0 and high == 0.0
    lost = [run(8, seed, right(0, 40), right(15, 30)) for seed in range(6)]
    judged = module.judge_set(reference, lost, capitals)
    assert judged["delta"] == -0.5 and judged["by interval"] == "**no**"
    assert module.judge_set(reference[:2], lost[:2], capitals)["interval"] == "n/a"  # 2 runs
    few = np.zeros(80, bool)
    few[:10] = True
    assert module.judge_set(reference, lost, few)["by interval"] == "n/a"  # 10 questions
    lines = module.interval_report({1: reference, 8: lost}, sets)
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| ")}
    assert rows["| capital-common-countries"].startswith(
        "| capital-common-countries | 40 | -0.500 |"
    )
    assert rows["| capital-common-countries"].endswith("| **no** |")
    assert rows["| gram8-plural"].endswith("| +0.000 | +0.000 to +0.000 | yes |")
    # The control: seeds 3-5 against 0-2 are the same runs, so neither rule flags anything;
    # with seeds 3-5 each 12 capitals down, both flag that section and the sets holding it.
    control = "| P = 1 3, 4, 5 against P = 1 0, 1, 2 | 5 | 0 / 0 | none | 0 / 0 | none |"
    assert control in lines
    for seed in (3, 4, 5):
        reference[seed] = run(1, seed, right(4 + 4 * (seed % 3), 40), right(15, 30))
    lines = module.interval_report({1: reference}, sets)  # P = 1 alone: the control only
    assert not any(line.startswith("| set |") for line in lines)
    control = [line for line in lines if line.startswith("| P = 1 3, 4, 5")][0]
    flagged = "3 / 0 | analogy -0.171, semantic -0.300, capital-common-countries -0.300"
    assert control.endswith(f"| 5 | {flagged} | {flagged} |")
    fewer = module.interval_report({1: reference[:5], 8: lost[:5]}, sets)
    assert not any("Control" in line for line in fewer)  # halves of 2 seeds: no interval
    assert module.question_sets([{"P": 1}], str(analogy)) is None  # stored before coverage
    other = {**reference[0], "analogy/covered_questions": "1" * 80}
    assert module.question_sets([reference[1], other], str(analogy)) is None  # not paired
    with pytest.raises(SystemExit, match="use the --analogy file"):
        module.question_sets([{**reference[0], "analogy/covered_questions": "1"}], str(analogy))


def test_parallel_blocks_similarity_intervals_resample_seeds_and_pairs(monkeypatch, tmp_path):
    """word2vec_parallel_blocks on hand-made pair cosines: row_spearman is the evaluator's
    tie-aware ρ, the same runs lie within their interval, a shuffled set lies below it, and
    --dev-wordsim sets are reported beside WS-353 and the control, each as its own row."""
    module = load_benchmark(BENCHMARKS / "word2vec_parallel_blocks.py", monkeypatch)
    from research.eval.common import spearman

    rng = np.random.default_rng(0)
    gold = rng.permutation(np.repeat(np.arange(20.0), 2))  # ties, as resampled pairs make
    cosines = np.round(rng.normal(size=(3, 40)), 1)
    rho = module.row_spearman(np.tile(gold, (3, 1)), cosines)
    assert np.allclose(rho, [spearman(gold, c) for c in cosines])

    paths = {}
    for name in ("ws353", "mturk"):
        paths[name] = tmp_path / f"{name}.tsv"
        paths[name].write_text(
            "word1\tword2\tscore\n" + "".join(f"a{i}\tb{i}\t{g}\n" for i, g in enumerate(gold))
        )
    args = type("Args", (), {"wordsim": str(paths["ws353"]), "kind": "cbow"})()
    args.dev_wordsim = [f"mturk={paths['mturk']}"]

    def run(p, seed, cosines):
        cells = [None] + [round(float(c), 6) for c in cosines[1:]]  # pair 0 out of vocabulary
        row = {"P": p, "seed": seed}
        for name in ("ws353", "mturk"):
            row[f"{name}/pair_cosines"] = cells
            row[f"{name}/spearman"] = spearman(gold[1:], np.asarray(cells[1:], float))
        return row

    # P = 1: the gold plus noise, 6 seeds; P = 8 the same runs; P = 32 unrelated to the gold.
    noisy = [gold + rng.normal(0, 8, 40) for _ in range(6)]
    reference = [run(1, seed, c) for seed, c in enumerate(noisy)]
    same = [run(8, seed, c) for seed, c in enumerate(noisy)]
    lost = [run(32, seed, rng.permutation(c)) for seed, c in enumerate(noisy)]
    sets = module.similarity_sets(reference + same + lost, args)
    assert list(sets) == ["ws353", "mturk"] and np.array_equal(sets["ws353"], gold[1:])
    judged = module.judge_similarity(sets["ws353"], reference, same, "ws353")
    low, high = (float(x) for x in judged["interval"].split(" to "))
    assert judged["delta"] == 0.0 and judged["by interval"] == "yes" and low < 0.0 < high
    judged = module.judge_similarity(sets["ws353"], reference, lost, "ws353")
    assert judged["delta"] < -0.3 and judged["by interval"] == "**no**"
    assert judged["by std"] == "**no**"
    assert (
        module.judge_similarity(sets["ws353"], reference[:2], lost[:2], "ws353")["interval"]
        == "n/a"
    )
    lines = module.similarity_report({1: reference, 8: same, 32: lost}, sets)
    table = [line for line in lines if line.startswith(("| ws353 | 39", "| mturk (dev) | 39"))]
    # P = 8's Δ is 0 and within its interval; P = 32's interval lies below 0.
    assert len(table) == 2 and all(line.split(" | ")[2] == "+0.000" for line in table)
    assert all(line.split(" | ")[4] == "yes" and line.endswith("| **no** |") for line in table)
    control = [line for line in lines if "| P = 1 3, 4, 5 against P = 1 0, 1, 2 |" in line]
    assert [line.split(" | ")[0] for line in control] == ["| ws353", "| mturk (dev)"]
    # Paired: three copies of one run on both sides give exactly 0 in every round, where
    # pairs drawn apart for each side would spread it (about ±0.2 here).
    copies = np.tile(noisy[0], (3, 1))
    assert module.similarity_interval(gold, copies, copies, 200) == (0.0, 0.0)
    flat = [run(8, seed, np.full(40, 0.5)) for seed in range(3)]  # ρ undefined: no interval
    assert module.judge_similarity(sets["ws353"], reference, flat, "ws353")["interval"] == "n/a"
    # Pairs scored differently (another vocabulary): no interval for that set.
    other = {**reference[0], "ws353/pair_cosines": [0.1] * 40}
    assert "ws353" not in module.similarity_sets([reference[1], other], args)
    assert module.similarity_sets([{"P": 1}], args) == {}  # stored before pair cosines
    few = {**reference[0], "ws353/pair_cosines": [0.1] * 10 + [None] * 30}
    assert "ws353" not in module.similarity_sets([few], args)  # 10 pairs scored
    short = {**reference[0], "ws353/pair_cosines": [0.1] * 39}
    with pytest.raises(SystemExit, match="use the file the store was made with"):
        module.similarity_sets([short], args)
    # A stored run is reused where it scored the same pairs under each name; rows stored before
    # runs recorded the digest are taken on the name; one row per run, the latest.
    args.dev_wordsim = [f"mturk={paths['mturk']}"]
    digests = module.similarity_digests(args)
    assert digests["ws353"] == digests["mturk"]  # the two files hold the same pairs here
    row = {**reference[0], "ws353/pairs_digest": digests["ws353"]}
    assert module.scored_same_sets(row, digests)
    assert not module.scored_same_sets({**row, "ws353/pairs_digest": "another file"}, digests)
    assert module.scored_same_sets({**row, "mturk/pairs_digest": digests["mturk"]}, digests)
    assert not module.scored_same_sets({k: v for k, v in row.items() if "mturk" not in k}, digests)
    older, newer = {**row, "run": "older"}, {**row, "run": "newer"}
    picked = module.latest_runs([older, newer], [(1, 0)], lambda r, p, s: True)
    assert picked == [newer]
    assert module.dev_wordsims(args) == {"mturk": str(paths["mturk"].resolve())}
    for wrong in ("mturk", "ws353=x.tsv", "=x.tsv"):
        args.dev_wordsim = [wrong]
        with pytest.raises(SystemExit, match="expected NAME=PATH"):
            module.dev_wordsims(args)


def test_small_corpus_tables_name_the_kind_and_judge_each_set_against_gensim(monkeypatch):
    """word2vec_small_corpus.tables on a hand-made CBOW store: the heading and corpus line name
    CBOW, and each set's Δ is judged within the larger of the two seed spreads."""
    module = load_benchmark(BENCHMARKS / "word2vec_small_corpus.py", monkeypatch)

    def run(impl, seed, ws, analogy):
        results = {"ws353": ws, "analogy/total": analogy, "covered/total": 10}
        results["analogy/coverage"] = 0.5
        return {"impl": impl, "variant": "default", "seed": seed, "results": results}

    store = {
        "kind": "cbow",
        "runs": [
            run("gensim", 1, 0.60, 0.30),
            run("gensim", 2, 0.62, 0.32),  # std 0.014
            run("ours", 1, 0.62, 0.25),
            run("ours", 2, 0.62, 0.25),  # WS within, analogy below
        ],
    }
    text = module.tables(store, "/x/corpus.txt")
    assert text.startswith("### word2vec on a small corpus: ours vs gensim (corpus.txt, cbow)")
    assert "words); cbow, dim 100" in text
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert lines["| WS-353"].endswith("| 0.620 ± 0.000 | +0.010 | yes | yes |")
    assert lines["| analogy (10)"].endswith("| -0.060 | **below** | **below** |")
    assert "#### Control" not in text  # two seeds a system: no halves to compare


def test_small_corpus_control_counts_what_each_rule_flags_in_a_system_against_itself(
    monkeypatch,
):
    """With 4 seeds a system, word2vec_small_corpus.tables judges each system's later seeds
    against its earlier ones by both rules (the larger std, the sum of stds) and counts the rows
    each rule calls below or above, beside ours against gensim on each half."""
    module = load_benchmark(BENCHMARKS / "word2vec_small_corpus.py", monkeypatch)

    def run(impl, seed, ws, analogy):
        results = {"ws353": ws, "analogy/total": analogy, "analogy/coverage": 0.5}
        return {"impl": impl, "variant": "default", "seed": seed, "results": results}

    store = {
        "runs": [
            run("gensim", 1, 0.60, 0.30),
            run("gensim", 2, 0.62, 0.30),  # WS std 0.014, analogy std 0
            run("gensim", 3, 0.58, 0.30),
            run("gensim", 4, 0.58, 0.30),  # 3-4 against 1-2: WS -0.030, analogy 0
            run("ours", 1, 0.625, 0.31),
            run("ours", 2, 0.645, 0.33),  # WS std 0.014
            run("ours", 3, 0.625, 0.32),
            run("ours", 4, 0.645, 0.32),
        ]
    }
    text = module.tables(store, "/x/corpus_1m.txt")
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    # WS: -0.030 is outside both the larger std (0.014) and the sum (0.014 + 0): below by both
    assert rows["| gensim 3, 4 against gensim 1, 2"] == (
        "| gensim 3, 4 against gensim 1, 2 | 2 | 1 / 0 | 1 / 0 | WS-353 -0.030 |"
    )
    # equal means: within both
    assert rows["| ours 3, 4 against ours 1, 2"] == (
        "| ours 3, 4 against ours 1, 2 | 2 | 0 / 0 | 0 / 0 | none |"
    )
    # first halves: WS +0.025 is above the larger std (0.014) but within the sum (0.028), where
    # the rules differ; analogy +0.020 is above both (0.014, 0.014 + 0)
    assert rows["| ours 1, 2 against gensim 1, 2"] == (
        "| ours 1, 2 against gensim 1, 2 | 2 | 0 / 2 | 0 / 1 | none |"
    )
    # second halves: WS +0.055 and analogy +0.020 against gensim's std 0: above by both
    assert rows["| ours 3, 4 against gensim 3, 4"] == (
        "| ours 3, 4 against gensim 3, 4 | 2 | 0 / 2 | 0 / 2 | none |"
    )


def test_word2vec_vs_gensim_rounds_take_median_rows_and_median_ratios(monkeypatch):
    """word2vec_vs_gensim.table over 3 rounds (hand-made results, no training): each row is the
    implementation's median round by whole-process words/s, each ratio the median of the rounds'
    ratios with every round's beside it."""
    module = load_benchmark(BENCHMARKS / "word2vec_vs_gensim.py", monkeypatch)

    def run(impl, round_, words_per_sec, whole, analogy):
        results = {"ws353/spearman": 0.6, "ws353/pairs_used": 349, "analogy/coverage": 0.4}
        results.update({"analogy/accuracy": analogy, "analogy/semantic_accuracy": analogy})
        results.update({"analogy/syntactic_accuracy": analogy})
        return {
            "impl": impl, "kind": "cbow", "round": round_, "raw_words": 1000,
            "train_seconds": 1.0, "words_per_sec": words_per_sec, "process_seconds": 2.0,
            "process_words_per_sec": whole, "prepare_seconds": 0.0, "peak_rss_mb": 100.0,
            "results": results,
        }  # fmt: skip

    gensim = "gensim 4.4.0 corpus_file"
    results = [
        run("ours", 1, 300.0, 100.0, 0.30),
        run(gensim, 1, 100.0, 100.0, 0.31),  # ratios 3.0× (training) and 1.0× (whole)
        run(gensim, 2, 200.0, 200.0, 0.32),
        run("ours", 2, 200.0, 150.0, 0.30),  # 1.0× and 0.75×
        run("ours", 3, 400.0, 200.0, 0.30),
        run(gensim, 3, 100.0, 50.0, 0.33),  # 4.0× and 4.0×
    ]
    args = type("Args", (), {"corpus": "/x/corpus.txt", "kinds": ["cbow"], "output": "negative"})
    for name, value in dict(dim=16, window=5, negative=5, sample=1e-3, min_count=5).items():
        setattr(args, name, value)
    args.epochs, args.seed, args.workers = 1, 0, 2
    text = module.table(results, args, "python benchmarks/word2vec_vs_gensim.py --rounds 3")
    assert "- 3 rounds, each a fresh process per implementation" in text
    rows = [line for line in text.splitlines() if line.startswith("| cbow |")]
    # ours first although its median round (2) ran after gensim's (1)
    assert rows[0].startswith("| cbow | ours | 1.0 | 200 |")  # median whole: 150 of 100/150/200
    assert rows[0].endswith("| 100 / 150 / 200 |")
    assert rows[1].startswith(f"| cbow | {gensim} | 1.0 | 100 | 2.0 | 100 |")
    assert rows[2] == (
        f"| cbow | {gensim} | 3.00× (3.00×, 1.00×, 4.00×) | 1.00× (1.00×, 0.75×, 4.00×) "
        "| +0.0000 | -1.00 | 1.00 |"
    )
    assert f"- cbow {gensim}, quality per round: WS-353 ρ 0.6000 / 0.6000 / 0.6000; " in text


def test_matmul_gflops_times_each_step_product_with_its_two_gradients(monkeypatch):
    """Each forward product Y = A . B comes with dA (A's stored shape) and dB (B's stored
    shape), and the step's products add up to three times the mini model's forward count."""
    module = load_benchmark(BENCHMARKS / "matmul_gflops.py", monkeypatch)
    products = module.step_products()
    assert len(products) % 3 == 0
    for forward, grad_a, grad_b in zip(products[::3], products[1::3], products[2::3], strict=True):
        a = (forward.m, forward.k)
        b = (forward.n, forward.k) if forward.rhs_transposed else (forward.k, forward.n)
        assert (grad_a.m, grad_a.n) == a and grad_a.k == forward.n
        assert (grad_b.m, grad_b.n) == b and grad_b.k == forward.m and grad_b.lhs_transposed
        assert forward.batch == grad_a.batch == grad_b.batch
        assert forward.calls == grad_a.calls == grad_b.calls
    rows, layers = 32 * 128, 4
    per_layer = 4 * 2 * rows * 256 * 256 + 2 * 2 * 128 * 128 * 128 * 64 + 2 * 2 * rows * 256 * 1024
    head = 2 * 1120 * 256 * (256 + 4000)
    assert sum(p.calls * p.flop for p in products) == 3 * (layers * per_layer + head)
    # a step's product time: each product's calls x its FLOPs at its own rate
    rates = {p.name: 100.0 for p in products}
    rates[products[0].name] = 50.0
    first = products[0].calls * products[0].flop
    slow = first / 50e9 - first / 100e9
    expected = 1e3 * (sum(p.calls * p.flop for p in products) / 100e9 + slow)
    assert module.step_ms(products, rates) == pytest.approx(expected)
    table = module.render(products, ["xla", "torch"], {"xla": [rates], "torch": [rates]}, {},
                          {"xla": "jax", "torch": "torch"}, "cmd", 1)  # fmt: skip
    assert f"**{expected:.0f} ms**" in table and "torch / xla speed **1.00x**" in table


def test_encoder_profile_names_each_operation_by_its_jax_source(monkeypatch):
    module = load_benchmark(BENCHMARKS / "encoder_profile.py", monkeypatch)
    assert module.source("jit(train_step)/transpose(jvp(bld,dhk->blhk))/add_any") == (
        "bld,dhk->blhk/add_any"
    )
    assert module.source("jit(train_step)/jvp()/div") == "div"
    bits = "jit(train_step)/jvp(jit(_bernoulli))/jit(_uniform)/while/body/add"
    assert module.source(bits) == "jit(_bernoulli)/jit(_uniform)/while/body/add"
    assert module.source("jit(train_step)/jvp(f)") == "f"
    assert module.source("") == "?"


def test_encoder_throughput_refuses_attention_dropout_where_it_would_change_nothing(monkeypatch):
    """--arch ours runs our layout, which has no attention dropout on either side: a value of
    --attention-dropout would change nothing but the section's name, so it is refused in one
    line before any worker starts."""
    module = load_benchmark(BENCHMARKS / "encoder_throughput.py", monkeypatch)
    argv = ["encoder_throughput.py", "--arch", "ours", "--attention-dropout", "0"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit, match="--attention-dropout applies to --arch bert only"):
        module.main()


def test_word2vec_step_time_takes_median_rounds_and_per_round_ratios(monkeypatch):
    """word2vec_step_time.summarise over 3 rounds (hand-made results, no training): each row is
    the variant's median round, and its ratio the median over rounds of its rate over the first
    variant's in the same round (not the ratio of the medians)."""
    module = load_benchmark(BENCHMARKS / "word2vec_step_time.py", monkeypatch)
    assert module.parse_variant("n16=train.shared_negatives=16,model.dim=50") == (
        "n16",
        ["train.shared_negatives=16", "model.dim=50"],
    )
    assert module.parse_variant("defaults=") == ("defaults", [])
    for bad in ("=model.dim=8", "dim8", "model.dim=8"):  # no name, no overrides' "="
        with pytest.raises(SystemExit, match="is not NAME=KEY=VALUE"):
            module.parse_variant(bad)
    with pytest.raises(SystemExit, match="two --variant are named 'a'"):
        module.parse_variants(["a=", "a=model.dim=8"])

    def run(variant, round_, rate):
        return {"variant": variant, "round": round_, "words_per_sec": rate, "set": []}

    runs = [
        run("a", 1, 100.0), run("b", 1, 300.0),  # 3.0×
        run("b", 2, 100.0), run("a", 2, 200.0),  # 0.5×
        run("a", 3, 50.0), run("b", 3, 100.0),  # 2.0×
    ]  # fmt: skip
    rows = module.summarise(runs, ["a", "b"])
    assert [r["variant"] for r in rows] == ["a", "b"]
    assert rows[0]["words_per_sec"] == 100.0 and rows[0]["ratio"] == 1.0
    assert rows[1]["words_per_sec"] == 100.0  # median of 300 / 100 / 100
    assert rows[1]["rates"] == [300.0, 100.0, 100.0]
    assert rows[1]["ratio"] == 2.0  # median of 3.0, 0.5, 2.0; the medians' ratio would be 1.0
