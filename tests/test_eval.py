"""Evaluators, word vectors, plots and the results table, on tiny fixture files in tmp_path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from research.errors import UserError
from research.eval import (
    EVALUATORS,
    EvalResult,
    make_evaluator,
    run_evaluators,
)
from research.eval.analogy import Analogy, read_analogies, solve_analogies
from research.eval.common import average_ranks, spearman
from research.eval.neighbours import NearestNeighbours
from research.eval.plots import pairs_from_analogy_file, plot_analogy_pairs
from research.eval.report import format_value, results_markdown
from research.eval.similarity import WordSimilarity, read_word_pairs
from research.eval.vectors import WordVectors, unit_rows


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def random_vectors(words: list[str], dim: int = 8, seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    return WordVectors(words, rng.standard_normal((len(words), dim)).astype(np.float32))


def angle_vectors(angles: dict[str, float]) -> WordVectors:
    """2-D unit vectors at the given angles (degrees): cosines are known exactly."""
    rad = np.deg2rad(list(angles.values()))
    return WordVectors(list(angles), np.stack([np.cos(rad), np.sin(rad)], axis=1))


# ----------------------------------------------------------------------------- Spearman


def test_average_ranks_share_tied_ranks():
    assert average_ranks(np.array([10, 20, 20, 30])).tolist() == [1, 2.5, 2.5, 4]
    assert average_ranks(np.array([3, 1, 3, 3])).tolist() == [3, 1, 3, 3]


def test_spearman_matches_hand_computed_values():
    # No ties: 1 - 6 * sum(d^2) / (n (n^2 - 1)) with d = (-1, 1, -1, 1, 0) gives 1 - 24/120.
    assert spearman(np.array([1, 2, 3, 4, 5]), np.array([2, 1, 4, 3, 5])) == pytest.approx(0.8)
    # Ties in x: ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4) -> 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
    rho = spearman(np.array([1, 2, 2, 3]), np.array([1, 3, 2, 4]))
    assert rho == pytest.approx(3 / math.sqrt(10))
    assert math.isnan(spearman(np.array([1.0]), np.array([2.0])))


# ----------------------------------------------------------------------------- word similarity


def test_word_similarity_counts_oov_pairs_and_lowercases(tmp_path):
    vectors = angle_vectors({"a": 0, "b": 10, "c": 40, "d": 90})
    path = write(
        tmp_path / "sim.tsv",
        "word1\tword2\tscore\nA\tb\t9\na\tc\t6.5\na\td\t1\na\tzzz\t5\nqqq\tB\t3\n",
    )
    metrics = WordSimilarity("toy", path).run(vectors).metrics
    assert metrics["spearman"] == pytest.approx(1.0)
    assert metrics["pearson"] > 0.9
    assert (metrics["pairs_total"], metrics["pairs_used"], metrics["pairs_oov"]) == (5, 3, 2)
    assert metrics["oov_fraction"] == pytest.approx(0.4)
    result = WordSimilarity("toy", path).run(vectors)
    assert "zzz" in result.markdown and "qqq" in result.markdown


def test_word_similarity_reads_gensim_and_simlex_layouts(tmp_path):
    plain = write(tmp_path / "plain.tsv", "word1\tword2\tscore\nold\tnew\t1.5\nsmart\tclever\t9\n")
    gensim = write(
        tmp_path / "gensim.tsv",
        "# The test collection\n# Word 1\tWord 2\tHuman (mean)\nold\tnew\t1.5\nsmart\tclever\t9\n",
    )
    simlex = write(
        tmp_path / "simlex.txt",
        "word1\tword2\tPOS\tSimLex999\tconc(w1)\nold\tnew\tA\t1.5\t2.7\nsmart\tclever\tA\t9\t1.9\n",
    )
    expected = [("old", "new", 1.5), ("smart", "clever", 9.0)]
    assert read_word_pairs(plain) == read_word_pairs(gensim) == read_word_pairs(simlex) == expected


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("word1\tword2\tscore\na\tb\t1\na\tb\n", 3, "columns"),
        ("word1\tword2\tscore\na\tb\t1\nc\td\t2\na\tb\thigh\n", 4, "not a number"),
        ("a\tb\t1\nc\td\t2\te\n", 2, "columns"),
        # a malformed first score is an error on line 1, not a header that drops the pair
        ("tiger\tcat\t7,35\nc\td\t2\n", 1, "not a number"),
        ("tiger\tcat\t8.5*\nc\td\t2\n", 1, "not a number"),
    ],
)
def test_malformed_similarity_file_names_the_line(tmp_path, text, line, fragment):
    path = write(tmp_path / "bad.tsv", text)
    with pytest.raises(UserError, match=rf"bad\.tsv:{line}: .*{fragment}.*word1<TAB>word2"):
        WordSimilarity("bad", path)


@pytest.mark.parametrize("text", ["", "\n\n", "word1\tword2\tscore\n", "# only a comment\n"])
def test_empty_similarity_file_is_a_user_error(tmp_path, text):
    with pytest.raises(UserError, match="no word pairs"):
        read_word_pairs(write(tmp_path / "empty.tsv", text))


def test_missing_benchmark_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        make_evaluator("word_similarity", name="ws", path=tmp_path / "nope.tsv")
    with pytest.raises(UserError, match="does not exist"):
        make_evaluator("analogy", name="an", path=tmp_path / "nope.txt")


# ----------------------------------------------------------------------------- analogy files

QUESTIONS_TXT = """\
: family
boy girl brother sister
Boy girl king queen
: gram2-opposite
aware unaware certain uncertain
"""
QUESTIONS_TSV = """\
section\ttype\ta\tb\tc\td
family\tsemantic\tboy\tgirl\tbrother\tsister
family\tsemantic\tboy\tgirl\tking\tqueen
gram2-opposite\tsyntactic\taware\tunaware\tcertain\tuncertain
"""


def test_word2vec_txt_and_tsv_formats_parse_the_same(tmp_path):
    txt = read_analogies(write(tmp_path / "q.txt", QUESTIONS_TXT))
    tsv = read_analogies(write(tmp_path / "q.tsv", QUESTIONS_TSV))
    assert txt == tsv
    assert txt.kinds == ["semantic", "semantic", "syntactic"]
    assert txt.words[1] == ("boy", "girl", "king", "queen")


@pytest.mark.parametrize(
    ("name", "text", "line", "fragment"),
    [
        ("q.txt", ": family\nboy girl brother sister\nboy girl king\n", 3, "4 words"),
        ("q.txt", ": family\na b c d\n:\na b c d\n", 3, "no name"),
        ("q.txt", "boy girl brother sister\n", 1, "neither"),
        ("q.tsv", "section\ttype\ta\tb\tc\td\nfam\tsemantic\ta\tb\tc\n", 2, "6 tab-separated"),
        ("q.tsv", "a\tb\tc\td\nx\ty\t\tz\n", 2, "empty word"),
    ],
)
def test_malformed_analogy_file_names_the_line(tmp_path, name, text, line, fragment):
    path = write(tmp_path / name, text)
    with pytest.raises(UserError, match=rf"{name.replace('.', '[.]')}:{line}: .*{fragment}"):
        Analogy("bad", path)


@pytest.mark.parametrize("text", ["", "\n", "section\ttype\ta\tb\tc\td\n", ": family\n"])
def test_empty_analogy_file_is_a_user_error(tmp_path, text):
    with pytest.raises(UserError, match="no analogy questions"):
        Analogy("empty", write(tmp_path / "q.txt", text))


# ----------------------------------------------------------------------------- analogy scoring


def planted_analogy_world(seed: int = 0):
    """Vocabulary with noisy planted relations, some case variants and some rare words.

    Returns (words, vectors, question lines by section). Noise makes some answers wrong, rare
    words (beyond restrict_vocab) make some questions uncovered.
    """
    rng = np.random.default_rng(seed)
    dim, per_relation = 16, 8
    words: list[str] = []
    vecs: list[np.ndarray] = []
    sections: dict[str, list[str]] = {}
    for rel in ("family", "gram1-plural"):
        offset = rng.standard_normal(dim) * 1.2
        pairs = []
        for i in range(per_relation):
            x = rng.standard_normal(dim)
            y = x + offset + rng.standard_normal(dim) * 0.9
            pairs.append((f"{rel[:3]}x{i}", f"{rel[:3]}y{i}"))
            words += list(pairs[-1])
            vecs += [x, y]
        sections[rel] = [
            f"{a} {b} {c} {d}" for (a, b) in pairs for (c, d) in pairs if (a, b) != (c, d)
        ]
    fillers = [f"filler{i}" for i in range(40)]
    words += fillers
    vecs += list(rng.standard_normal((len(fillers), dim)))
    # Case variants: "FAMX0" is more frequent than "famx0" (so its vector answers for famx0),
    # "Famy1" etc. are rarer than "famy1" and almost equal to it (so must be excluded with it).
    words.insert(0, "FAMX0")
    vecs.insert(0, rng.standard_normal(dim))
    for variant in ("Famy1", "Famx2", "Gray3"):
        words.append(variant)
        vecs.append(vecs[words.index(variant.lower())] * 1.01)
    # Two rare words go last, so that restrict_vocab = len - 2 leaves their questions uncovered.
    rare = [words.index("famx7"), words.index("gray6")]
    order = [i for i in range(len(words)) if i not in rare] + rare
    vectors = np.stack([vecs[i] for i in order]).astype(np.float32)
    return [words[i] for i in order], vectors, sections


def write_questions(tmp_path: Path, sections: dict[str, list[str]]) -> tuple[Path, Path]:
    txt = "".join(f": {name}\n" + "".join(q + "\n" for q in qs) for name, qs in sections.items())
    tsv = "section\ttype\ta\tb\tc\td\n" + "".join(
        f"{name}\t{'syntactic' if name.startswith('gram') else 'semantic'}\t"
        + "\t".join(q.split())
        + "\n"
        for name, qs in sections.items()
        for q in qs
    )
    return write(tmp_path / "q.txt", txt), write(tmp_path / "q.tsv", tsv)


def test_analogy_matches_gensim_evaluate_word_analogies(tmp_path):
    import gensim.models as gensim_models

    words, vectors, sections = planted_analogy_world()
    restrict = len(words) - 2
    txt, tsv = write_questions(tmp_path, sections)

    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    score, by_section = kv.evaluate_word_analogies(str(txt), restrict_vocab=restrict)
    total = by_section[-1]
    gensim_covered = len(total["correct"]) + len(total["incorrect"])

    wv = WordVectors(words, vectors)
    for path in (txt, tsv):
        metrics = Analogy("toy", path, restrict_vocab=restrict).run(wv).metrics
        assert metrics["questions_covered"] == gensim_covered
        assert metrics["accuracy"] == pytest.approx(score, abs=0, rel=0)
        assert metrics["questions_total"] == sum(len(q) for q in sections.values())
        assert metrics["questions_covered"] < metrics["questions_total"]
        for section in by_section[:-1]:
            n = len(section["correct"]) + len(section["incorrect"])
            kind = "syntactic" if section["section"].startswith("gram") else "semantic"
            assert metrics[f"{kind}_accuracy"] == pytest.approx(len(section["correct"]) / n)
    assert 0.1 < score < 0.9, "the fixture should have both right and wrong answers"


def naive_solutions(unit: np.ndarray, abc: np.ndarray) -> tuple[list[int], list[int]]:
    """Reference: one question at a time, straight from the formulas."""
    add, mul = [], []
    for a, b, c in abc:
        cos = unit @ unit[[a, b, c]].T
        score_add = cos[:, 1] - cos[:, 0] + cos[:, 2]
        s = (cos + 1) / 2
        score_mul = s[:, 1] * s[:, 2] / (s[:, 0] + 1e-3)
        for score in (score_add, score_mul):
            score[[a, b, c]] = -np.inf
        add.append(int(np.argmax(score_add)))
        mul.append(int(np.argmax(score_mul)))
    return add, mul


def test_vectorised_solver_equals_question_by_question_reference():
    rng = np.random.default_rng(1)
    unit = unit_rows(rng.standard_normal((50, 6)).astype(np.float32))
    abc = np.array([rng.choice(50, 3, replace=False) for _ in range(70)])
    exclude = np.arange(50)[:, None]
    # Tiny blocks and a tiny memory cap exercise the block and window boundaries.
    best_add, best_mul = solve_analogies(unit, abc, exclude, block=16, max_bytes=12 * 50 * 20)
    ref_add, ref_mul = naive_solutions(unit, abc)
    assert best_add.tolist() == ref_add
    assert best_mul.tolist() == ref_mul
    assert best_add.tolist() != best_mul.tolist()


def test_3cosmul_prefers_balanced_similarity_where_3cosadd_does_not(tmp_path):
    # a, b, c orthonormal; x1 is very close to b only, x2 is moderately close to both b and c.
    # 3CosAdd: x1 = 0.98 > x2 = 0.90.  3CosMul: x1 = .99 * .5 / .501 = 0.988 < x2 = .725^2 / .501.
    e = np.eye(6, dtype=np.float32)
    vecs = {
        "a": e[0],
        "b": e[1],
        "c": e[2],
        "x1": 0.98 * e[1] + math.sqrt(1 - 0.98**2) * e[3],
        "x2": 0.45 * e[1] + 0.45 * e[2] + math.sqrt(1 - 2 * 0.45**2) * e[4],
    }
    wv = WordVectors(list(vecs), np.stack(list(vecs.values())))
    for answer, add, mul in (("x1", 1.0, 0.0), ("x2", 0.0, 1.0)):
        path = write(tmp_path / f"{answer}.txt", f": toy\na b c {answer}\n")
        metrics = Analogy("toy", path).run(wv).metrics
        assert (metrics["accuracy"], metrics["accuracy_3cosmul"]) == (add, mul)


def test_analogy_accuracy_all_counts_uncovered_as_wrong(tmp_path):
    wv = angle_vectors({"a": 0, "b": 30, "c": 60, "d": 90, "e": 200})
    path = write(tmp_path / "q.txt", ": s\na b c d\na b c unknown\nzz b c d\ne a d c\n")
    metrics = Analogy("toy", path).run(wv).metrics
    assert metrics["questions_total"] == 4 and metrics["questions_covered"] == 2
    assert metrics["coverage"] == 0.5
    assert metrics["accuracy_all"] == pytest.approx(metrics["accuracy"] * 2 / 4)


def test_analogy_runs_on_a_larger_question_set(tmp_path):
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(2000)]
    lines = [": sec"] + [" ".join(rng.choice(vocab[:900], 4)) for _ in range(1500)]
    path = write(tmp_path / "q.txt", "\n".join(lines) + "\n")
    metrics = Analogy("big", path).run(random_vectors(vocab, dim=32)).metrics
    assert metrics["questions_covered"] == 1500


# ----------------------------------------------------------------------------- word vectors


def test_save_word2vec_text_loads_in_gensim_with_identical_vectors(tmp_path):
    import gensim.models as gensim_models

    wv = random_vectors(["the", "of", "König", "x-ray", "a"], dim=7, seed=3)
    wv.vectors[2] *= 1e-8  # tiny and exact values must survive the text round trip
    path = wv.save_word2vec_text(tmp_path / "run" / "vectors.txt")
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=False)
    assert kv.index_to_key == wv.words
    np.testing.assert_array_equal(kv.vectors, wv.vectors)
    back = WordVectors.load_word2vec_text(path)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)


def test_save_word2vec_text_round_trips_every_float32_and_keeps_nan_rows(tmp_path):
    """The array formatter writes 9 significant digits: every finite float32 (random bit patterns,
    the extremes, subnormals, values that round up a decade) reads back bit for bit; rows with
    nan or inf fall back to Python's formatting, and a 0-dim table writes bare words."""
    rng = np.random.default_rng(0)
    edges = np.array(
        [0.0, -0.0, 1.0, -1.0, 0.99999994, 9.9999999e-1, 1e-45, -1.4e-45, 1.17549435e-38,
         3.4028235e38, -3.4028235e38, 123456789.0, 1e-8, 0.1, 5e-5, 9.99999e10],
        np.float32,
    )  # fmt: skip
    patterns = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    finite = patterns.view(np.float32)[np.isfinite(patterns.view(np.float32))]
    values = np.concatenate([edges, finite])[: (len(finite) + len(edges)) // 10 * 10]
    table = values.reshape(-1, 10)
    words = [f"w{i}" for i in range(len(table))]
    path = WordVectors(words, table).save_word2vec_text(tmp_path / "v.txt")
    back = WordVectors.load_word2vec_text(path)
    assert back.words == words
    np.testing.assert_array_equal(back.vectors.view(np.uint32), table.view(np.uint32))
    assert (
        path.read_text()
        .split("\n")[1]
        .startswith(
            "w0 0.00000000e+00 -0.00000000e+00 1.00000000e+00 -1.00000000e+00 9.99999940e-01 "
        )
    )
    diverged = np.array([[1.5, -0.25], [np.nan, np.inf]], np.float32)
    text = WordVectors(["a", "b"], diverged).save_word2vec_text(tmp_path / "n.txt").read_text()
    assert text == "2 2\na 1.50000000e+00 -2.50000000e-01\nb nan inf\n"
    empty = WordVectors(["a", "b"], np.zeros((2, 0), np.float32))
    assert empty.save_word2vec_text(tmp_path / "e.txt").read_text() == "2 0\na\nb\n"


def test_most_similar_matches_gensim(tmp_path):
    import gensim.models as gensim_models

    wv = random_vectors([f"w{i}" for i in range(60)], dim=10, seed=4)
    kv = gensim_models.KeyedVectors(10)
    kv.add_vectors(wv.words, wv.vectors)
    for pos, neg, restrict in ((["w3"], [], None), (["w1", "w2"], ["w50"], 40)):
        ours = wv.most_similar(pos, neg, topn=5, restrict_vocab=restrict)
        theirs = kv.most_similar(positive=pos, negative=neg, topn=5, restrict_vocab=restrict)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
        assert not set(pos) & {w for w, _ in ours}


def test_word_vectors_basics_and_errors(tmp_path):
    wv = WordVectors(["a", "b", "zero"], np.array([[3, 4], [1, 0], [0, 0]], dtype=np.float64))
    assert len(wv) == 3 and "a" in wv and "c" not in wv and wv.vectors.dtype == np.float32
    np.testing.assert_allclose(wv.unit()[0], [0.6, 0.8])
    assert wv.unit()[2].tolist() == [0, 0] and wv.unit() is wv.unit()
    with pytest.raises(UserError, match="'c'.*out of vocabulary.*min_count"):
        wv.index("c")
    with pytest.raises(UserError, match="twice"):
        WordVectors(["a", "a"], np.zeros((2, 2)))
    with pytest.raises(UserError, match="whitespace"):
        WordVectors(["new york"], np.zeros((1, 2))).save_word2vec_text(tmp_path / "v.txt")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2 3\na 1 2 3\nb 1 2\n", r"v\.txt:3: expected a word and 3 numbers"),
        ("2 3\na 1 2 3\nb 1 x 3\n", r"v\.txt:3: non-numeric"),
        ("two three\na 1 2 3\n", r"v\.txt:1: header"),
        ("3 3\na 1 2 3\nb 1 2 3\n", "promises 3 words but the file has 2"),
        ("", r"v\.txt:1: header"),
    ],
)
def test_malformed_vectors_file_is_a_user_error(tmp_path, text, fragment):
    with pytest.raises(UserError, match=fragment):
        WordVectors.load_word2vec_text(write(tmp_path / "v.txt", text))


def test_missing_vectors_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        WordVectors.load_word2vec_text(tmp_path / "missing.txt")


# ----------------------------------------------------------------------------- registry


def test_registry_runs_evaluators_into_flat_results(tmp_path):
    wv = angle_vectors({"a": 0, "b": 10, "c": 40, "d": 90})
    sim = write(tmp_path / "sim.tsv", "word1\tword2\tscore\na\tb\t9\na\tc\t6\nb\tzz\t1\n")
    evaluators = [
        make_evaluator("word_similarity", name="toy_sim", path=sim),
        make_evaluator("nearest_neighbours", name="nn", words=["a", "missing"], topn=2),
    ]
    results, markdown = run_evaluators(evaluators, wv)
    assert results["toy_sim/pairs_oov"] == 1 and isinstance(results["toy_sim/pairs_oov"], int)
    assert results["toy_sim/spearman"] == pytest.approx(1.0)
    assert results["nn/queries"] == 2 and results["nn/queries_oov"] == 1
    assert "| a | b 0.985, c 0.766 |" in markdown and "missing" in markdown
    assert {"word_similarity", "analogy", "nearest_neighbours"} <= set(EVALUATORS)


def test_registry_rejects_unknown_kinds_options_and_duplicate_names(tmp_path):
    with pytest.raises(
        UserError, match="valid kinds: analogy, context_spaces, level_probes, nearest_neighbours"
    ):
        make_evaluator("sts", name="x")
    with pytest.raises(UserError, match="unknown option.*topk.*valid options: words, topn"):
        make_evaluator("nearest_neighbours", name="nn", words=["a"], topk=3)
    with pytest.raises(UserError, match="valid options: path"):
        make_evaluator("word_similarity", name="ws")
    with pytest.raises(UserError, match="name"):
        make_evaluator("nearest_neighbours", name="a/b", words=["a"])
    nn = NearestNeighbours("same", ["a"])
    with pytest.raises(UserError, match="distinct name"):
        run_evaluators([nn, nn], angle_vectors({"a": 0, "b": 1}))


def test_custom_evaluator_follows_the_protocol():
    class Constant:
        name = "const"

        def run(self, vectors: WordVectors) -> EvalResult:
            return EvalResult({"value": 0.5, "n": np.int64(3)}, markdown="### const\n")

    results, markdown = run_evaluators([Constant()], angle_vectors({"a": 0}))
    assert results == {"const/value": 0.5, "const/n": 3} and isinstance(results["const/n"], int)
    assert markdown == "### const\n"


# ----------------------------------------------------------------------------- report, plots


def test_results_markdown_groups_metrics_and_shows_provenance_first():
    results = {
        "ws/spearman": 0.612345,
        "ws/pairs_oov": 12,
        "an/accuracy": float("nan"),
        "an/questions_total": 19544.0,
        "an/coverage": 1.0,
    }
    provenance = {"data": "synthetic world (seed 0)", "tokens": 1_000_000, "steps": 2000, "seed": 0}
    text = results_markdown(results, provenance, extra_markdown="### extra\n\nmore")
    assert text.index("## Provenance") < text.index("| data | synthetic world (seed 0) |")
    assert text.index("| steps | 2000 |") < text.index("## Metrics")
    assert "| ws | spearman | 0.6123 |" in text and "| ws | pairs_oov | 12 |" in text
    assert "| an | accuracy | n/a |" in text and "| an | questions_total | 19544 |" in text
    assert "| an | coverage | 1.0000 |" in text
    assert text.index("| ws | pairs_oov") < text.index("| an | accuracy")
    assert text.rstrip().endswith("more")
    assert format_value(np.float32(0.25)) == "0.2500" and format_value(np.int64(7)) == "7"


def test_plot_analogy_pairs_writes_png_and_skips_oov(tmp_path):
    wv = random_vectors(["man", "woman", "king", "queen", "boy", "girl"], dim=5)
    out = plot_analogy_pairs(
        wv, [("man", "woman"), ("king", "queen"), ("uncle", "aunt")], tmp_path / "plots" / "a.png"
    )
    assert out.is_file() and out.read_bytes()[:4] == b"\x89PNG"
    empty = plot_analogy_pairs(wv, [("uncle", "aunt")], tmp_path / "empty.png")
    assert empty.is_file()


def test_pairs_from_analogy_file_prefers_the_gender_section(tmp_path):
    path = write(
        tmp_path / "q.txt",
        ": capital-common-countries\nathens greece baghdad iraq\n"
        ": family\nboy girl brother sister\nboy girl king queen\nbrother sister king queen\n",
    )
    wv = random_vectors(["athens", "greece", "baghdad", "iraq", "boy", "girl", "King", "queen"])
    assert pairs_from_analogy_file(path, wv) == [("boy", "girl"), ("King", "queen")]
    assert pairs_from_analogy_file(path, wv, max_pairs=1) == [("boy", "girl")]
    only_capitals = random_vectors(["athens", "greece", "baghdad", "iraq"])
    expected = [("athens", "greece"), ("baghdad", "iraq")]
    assert pairs_from_analogy_file(path, only_capitals) == expected
