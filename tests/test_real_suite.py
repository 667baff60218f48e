"""The named `real` suites (`--set evals=real`), their data directory, the STS reader's hub
layouts on local files, and the SIF baseline. Tiny files written here; no training."""

import json
from pathlib import Path

import numpy as np
import pytest

from research import config as config_lib
from research.baselines import AveragedWordVectors, TfidfEncoder
from research.config import Config, EncoderRunConfig
from research.errors import UserError
from research.eval import evaluators_from_config, run_evaluators
from research.eval.sts import SentenceSimilarity, read_scored_pairs
from research.eval.suites import resolve_evals
from research.eval.vectors import WordVectors

WORDS = ["the", "a", "cat", "dog", "bank", "river", "money", "loan", "sat", "ran", "water"]
STS_ROWS = [
    (4.8, "the cat sat", "a cat sat"),
    (3.1, "the dog ran", "a dog sat"),
    (0.4, "the bank loan", "the cat ran"),
    (2.2, "river water", "the river bank"),
    (1.0, "money loan", "a dog ran"),
]
WIC_HEADER = (
    "id split lemma pos label coarse_diff synset1 synset2 lexname1 lexname2 start1 end1 "
    "start2 end2 sentence1 sentence2"
).split()


def tiny_vectors() -> WordVectors:
    rng = np.random.default_rng(0)
    counts = np.arange(len(WORDS), 0, -1) * 100
    return WordVectors(WORDS, rng.normal(size=(len(WORDS), 8)).astype(np.float32), counts)


def write_data_dir(root: Path) -> Path:
    """The layout of ../shared/data, a few rows per file."""
    (root / "word").mkdir(parents=True)
    pairs = "word1\tword2\tscore\ncat\tdog\t7\nbank\tmoney\t8\nriver\twater\t9\ncat\tloan\t1\n"
    for name in ("wordsim353", "wordsim353_sim", "wordsim353_rel", "rg65", "mc30"):
        (root / "word" / f"{name}.tsv").write_text(pairs)
    for name in ("mturk287", "mturk771"):
        (root / "word" / f"{name}.tsv").write_text(pairs)
    (root / "word" / "questions_words.tsv").write_text(
        "section\ttype\ta\tb\tc\td\nx\tsemantic\tcat\tdog\tbank\tmoney\n"
        "gram1\tsyntactic\tsat\tran\tcat\tdog\n"
    )
    sts = root / "sentence" / "stsbenchmark"
    sts.mkdir(parents=True)
    for split in ("dev", "test"):
        (sts / f"sts-{split}.csv").write_text(
            "".join(f"g\tf\t2017\t{i}\t{s}\t{a}\t{b}\n" for i, (s, a, b) in enumerate(STS_ROWS))
        )
    wordnet = root / "wordnet"
    wordnet.mkdir()
    wic = ["\t".join(WIC_HEADER)]
    for i, (split, label, s1, s2) in enumerate(
        [
            ("train", 1, "the bank loan", "bank money"),
            ("train", 0, "the river bank", "the bank loan"),
            ("train", 1, "river bank water", "the river bank"),
            ("train", 0, "money bank", "bank river"),
            ("dev", 1, "a bank loan", "money bank"),
            ("dev", 0, "a river bank", "a bank loan"),
        ]
    ):
        start1, start2 = s1.index("bank"), s2.index("bank")
        row = [str(i), split, "bank", "n", str(label), "0", "s1", "s2", "l1", "l2"]
        row += [str(start1), str(start1 + 4), str(start2), str(start2 + 4), s1, s2]
        wic.append("\t".join(row))
    (wordnet / "wordnet_wic_pairs.tsv").write_text("\n".join(wic) + "\n")
    def2word = ["lemma\tpos\tsynset\tlexname\tzipf\tdefinition\tsplit"]
    for lemma, definition, split in [
        ("cat", "a small animal that sat", "dev"),
        ("river", "a flow of water", "dev"),
        ("loan", "money lent by a bank", "dev"),
        ("dog", "an animal that ran", "train"),
    ]:
        def2word.append(f"{lemma}\tn\t{lemma}.n.01\tnoun.x\t4\t{definition}\t{split}")
    (wordnet / "wordnet_def2word_core.tsv").write_text("\n".join(def2word) + "\n")
    ladder = ["lemma\tpos\tlexname\tladder_words\tsplit"]
    for lemma, lexname, words, split in [
        ("cat", "noun.animal", "feline|carnivore|animal|entity", "train"),
        ("dog", "noun.animal", "canine|carnivore|animal|entity", "train"),
        ("water", "noun.substance", "liquid|fluid|matter|entity", "train"),
        ("river", "noun.object", "stream|fluid|matter|entity", "train"),
        ("money", "noun.possession", "asset|possession|relation|entity", "train"),
        ("loan", "noun.possession", "debt|possession|relation|entity", "train"),
        ("bank", "noun.possession", "asset|possession|relation|entity", "dev"),
        ("sat", "noun.animal", "feline|carnivore|animal|entity", "dev"),
    ]:
        ladder.append(f"{lemma}\tn\t{lexname}\t{words}\t{split}")
    (wordnet / "wordnet_hypernym_ladder_core.tsv").write_text("\n".join(ladder) + "\n")
    return root


def test_evals_real_selects_the_encoder_suite_under_the_data_directory(tmp_path):
    data_dir = write_data_dir(tmp_path / "data")
    config = config_lib.apply_overrides(
        EncoderRunConfig(), ["evals=real", f"eval.data_dir={data_dir}"]
    )
    assert config.evals == {"real": {"kind": "suite"}}
    evals = resolve_evals({}, config.evals, family="encoder", data_dir=config.eval.data_dir)
    assert list(evals) == ["stsb_dev", "stsb_test", "wordnet_wic", "def2word", "hypernym_probes"]
    assert evals["stsb_test"]["path"] == str(data_dir / "sentence/stsbenchmark/sts-test.csv")
    evals["hypernym_probes"]["min_class_items"] = 1  # a handful of items
    model = AveragedWordVectors(tiny_vectors(), weighting="sif", remove_components=1)
    model.fit_components(["the cat sat", "river water", "money loan bank"])
    results, markdown = run_evaluators(evaluators_from_config(evals), model)
    assert results["stsb_dev/pairs"] == results["stsb_test/pairs"] == len(STS_ROWS)
    assert results["wordnet_wic/pairs"] == 2 and results["wordnet_wic/tune_pairs"] == 4
    assert "withheld by the data's authors" in markdown
    assert 0 <= results["wordnet_wic/baseline_overlap_accuracy"] <= 1
    assert results["def2word/queries"] == results["def2word/candidates"] == 3
    assert "each embedded as a text on its own" in markdown
    assert "hypernym_probes/sentence/depth2/linear" in results
    # Coarser classes: counted from the root (root2 of bank = relation) and the supersense.
    assert "hypernym_probes/sentence/root2/linear" in results
    assert "hypernym_probes/sentence/lexname/linear" in results
    assert results["hypernym_probes/root2/classes"] == 3  # animal, matter, relation


def test_evals_real_for_word_vectors_scores_every_similarity_set_and_the_analogies(tmp_path):
    data_dir = write_data_dir(tmp_path / "data")
    config = config_lib.apply_overrides(Config(), ["evals=real", f"eval.data_dir={data_dir}"])
    evals = resolve_evals({}, config.evals, family="word", data_dir=config.eval.data_dir)
    assert evals["google_analogy"]["restrict_vocab"] == 30000
    results, _ = run_evaluators(evaluators_from_config(evals), tiny_vectors())
    for name in ("ws353", "ws353_sim", "ws353_rel", "rg65", "mc30", "mturk287", "mturk771"):
        assert f"{name}/spearman" in results
    assert "google_analogy/semantic_accuracy" in results
    assert "google_analogy/syntactic_accuracy" in results


def test_a_suite_file_is_replaced_by_path_and_a_missing_one_names_the_setting(tmp_path):
    data_dir = write_data_dir(tmp_path / "data")
    mine = tmp_path / "mine.csv"
    mine.write_text("g\tf\t2017\t0\t1.0\ta cat\ta dog\ng\tf\t2017\t1\t2.0\tthe bank\tthe loan\n")
    config = config_lib.apply_overrides(
        EncoderRunConfig(),
        ["evals=real", f"evals.stsb_test.path={mine}", f"eval.data_dir={data_dir}"],
    )
    evals = resolve_evals({}, config.evals, family="encoder", data_dir=config.eval.data_dir)
    assert evals["stsb_test"] == {"kind": "sentence_similarity", "path": str(mine)}
    (data_dir / "sentence/stsbenchmark/sts-dev.csv").unlink()
    with pytest.raises(UserError) as err:
        resolve_evals({}, config.evals, family="encoder", data_dir=str(data_dir))
    message = str(err.value)
    assert "\n" not in message and "sts-dev.csv" in message
    assert "eval.data_dir" in message and "evals.stsb_dev.path" in message
    with pytest.raises(UserError, match="no suite 'nope'"):
        resolve_evals({}, {"nope": {"kind": "suite"}}, family="encoder")


def test_the_data_directory_comes_from_the_setting_then_the_environment(tmp_path, monkeypatch):
    from research.eval.suites import eval_data_dir

    monkeypatch.setenv("STRATA_EVAL_DATA", str(tmp_path / "env"))
    assert eval_data_dir(str(tmp_path / "set")) == tmp_path / "set"
    assert eval_data_dir("") == tmp_path / "env"


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_sts_reads_the_mteb_hub_layout_from_local_files(tmp_path, suffix):
    """MTEB's STS sets (hf:mteb/sts12-sts ...) have columns sentence1, sentence2, score; a local
    file in that layout goes through `datasets` as the hub does and scores as the TSV file."""
    import datasets

    tsv = tmp_path / "sts.csv"
    tsv.write_text(
        "".join(f"g\tf\t2017\t{i}\t{s}\t{a}\t{b}\n" for i, (s, a, b) in enumerate(STS_ROWS))
    )
    rows = [{"sentence1": a, "sentence2": b, "score": s} for s, a, b in STS_ROWS]
    path = tmp_path / f"sts12-test{suffix}"
    if suffix == ".parquet":
        datasets.Dataset.from_list(rows).to_parquet(str(path))
    elif suffix == ".jsonl.gz":
        import gzip

        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = read_scored_pairs(path)
    assert pairs.sentences1 == [a for _, a, _ in STS_ROWS]
    np.testing.assert_allclose(pairs.scores, [s for s, _, _ in STS_ROWS])
    model = AveragedWordVectors(tiny_vectors())
    from_table = SentenceSimilarity(name="sts12", path=path).run(model).metrics
    from_tsv = SentenceSimilarity(name="stsb", path=tsv).run(model).metrics
    assert from_table == from_tsv


def test_sts_table_without_the_score_column_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"sentence1": "a", "sentence2": "b", "similarity": 1}) + "\n")
    with pytest.raises(UserError, match="expected sentence1, sentence2 and score"):
        read_scored_pairs(path)


def test_sif_weights_words_by_inverse_frequency_and_removes_the_first_component():
    vectors = tiny_vectors()
    plain = AveragedWordVectors(vectors)
    unit = vectors.unit()
    np.testing.assert_allclose(
        plain.embed_sentences(["the cat"])[0], (unit[0] + unit[2]) / 2, rtol=1e-6
    )
    sif = AveragedWordVectors(vectors, weighting="sif", a=1e-3)
    p = vectors.counts / vectors.counts.sum()
    w = 1e-3 / (1e-3 + p)
    np.testing.assert_allclose(
        sif.embed_sentences(["the cat"])[0], (w[0] * unit[0] + w[2] * unit[2]) / 2, rtol=1e-5
    )
    reference = ["the cat sat", "a dog ran", "the river water", "money loan bank", "the bank"]
    removed = AveragedWordVectors(
        vectors, weighting="sif", remove_components=1, reference_texts=reference
    )
    assert removed.components.shape == (1, vectors.dim)
    out = removed.embed_sentences(["the cat sat", "unknown words only"])
    np.testing.assert_allclose(out @ removed.components.T, 0, atol=1e-5)
    assert not out[1].any()  # no known word: the zero vector, as plain averaging gives
    with pytest.raises(UserError, match="word counts"):
        AveragedWordVectors(WordVectors(WORDS, unit), weighting="sif")
    with pytest.raises(UserError, match="no component was fitted"):
        AveragedWordVectors(vectors, weighting="sif", remove_components=1).embed_sentences(["a"])


def test_tfidf_takes_its_idf_from_any_iterable_of_training_documents():
    model = TfidfEncoder(iter(["the cat sat", "the dog ran", "the bank"]))
    vectors = model.embed_sentences(["cat", "the"])
    assert model.idf[model.index["cat"]] > model.idf[model.index["the"]]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-6)


def test_word_vector_baselines_share_one_word2vec_run_on_a_real_source(tmp_path):
    """compare.run_baseline on a text file with the real suite: TF-IDF takes its IDF from the
    file's lines, word2vec and SIF read the same word2vec run."""
    from research.compare import CompareConfig, run_baseline

    data_dir = write_data_dir(tmp_path / "data")
    rng = np.random.default_rng(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(" ".join(rng.choice(WORDS, size=12)) + " .\n" for _ in range(1500)))
    config = config_lib.apply_overrides(
        CompareConfig(),
        [
            f"encoder.data.source={corpus}",
            "encoder.data.vocab_size=200",
            "encoder.data.max_len=32",
            "encoder.data.sentence_len=16",
            "encoder.evals=real",
            f"encoder.eval.data_dir={data_dir}",
            "encoder.evals.hypernym_probes.min_class_items=1",
            "word2vec.train.epochs=1",
            "word2vec.train.batch_size=64",
            "word2vec.model.dim=8",
            "log.progress=false",
        ],
    )
    shared = tmp_path / "word2vec"
    results = {
        name: run_baseline(config, name, 0, tmp_path / name, shared)
        for name in ("tfidf", "word2vec", "sif")
    }
    for name, result in results.items():
        assert result["stsb_test/pairs"] == len(STS_ROWS), name
        assert "def2word/mrr" in result and "wordnet_wic/accuracy" in result
    assert "ws353/spearman" not in results["tfidf"]
    assert results["word2vec"]["stsb_dev/spearman"] != results["sif"]["stsb_dev/spearman"]
    assert (shared / "checkpoints").is_dir()
    assert not (tmp_path / "sif" / "word2vec").exists()


def test_linear_probe_through_the_kernel_matches_the_primal_probe():
    """More dimensions than items (TF-IDF on WordNet probes): the dual path computes the same
    iterates as the primal one, up to float32 rounding."""
    from research.eval.classifiers import fit_linear_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 300)) * (rng.random((40, 300)) < 0.05)
    y = rng.integers(0, 5, 40)
    primal = fit_linear_probe(x, y, 5, dual=False, iterations=100)
    dual = fit_linear_probe(x, y, 5, iterations=100)  # chosen by the shapes
    np.testing.assert_allclose(dual.weights, primal.weights, atol=1e-4)
    np.testing.assert_allclose(dual.bias, primal.bias, atol=1e-4)
    np.testing.assert_array_equal(dual.predict(x), primal.predict(x))
