"""sentence-transformers-style `encode` for every kind of run, and the MTEB v2 encoder adapter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from research.baselines import AveragedWordVectors
from research.embed import load_model
from research.errors import UserError
from research.eval.embedder import EncoderEmbedder
from research.eval.vectors import WordVectors
from research.mteb_encoder import MTEBEncoder, run_name

TEXTS = ["the king walked to the river", "a loan from the bank", "", "queen " * 200, "bank"]
STS_KWARGS = {"task_metadata": SimpleNamespace(name="LocalSTS"), "hf_split": "test"}


@pytest.fixture(scope="module")
def encoder_run(encoder_run_and_results):
    return encoder_run_and_results[0]


@pytest.fixture(scope="module")
def encoder(encoder_run) -> EncoderEmbedder:
    return load_model(encoder_run)


def test_encode_follows_sentence_transformers_conventions(encoder):
    vectors = encoder.encode(TEXTS)
    assert isinstance(vectors, np.ndarray)
    assert vectors.shape == (5, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, encoder.embed_sentences(TEXTS), atol=1e-5)
    single = encoder.encode(TEXTS[0])  # one string: one (D,) vector, as sentence-transformers
    assert single.shape == (64,) and single.dtype == np.float32
    np.testing.assert_allclose(single, vectors[0], atol=1e-5)
    unit = encoder.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unit, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    rows = encoder.encode(TEXTS[:2], convert_to_numpy=False)
    assert isinstance(rows, list) and [r.shape for r in rows] == [(64,), (64,)]
    np.testing.assert_allclose(
        encoder.encode(["river"], prompt="the "), encoder.encode(["the river"]), atol=1e-6
    )
    assert encoder.encode(TEXTS, truncate_dim=8).shape == (5, 8)
    assert encoder.encode([]).shape[0] == 0
    for bad in (
        {"prompt_name": "query"},
        {"output_value": "token_embeddings"},
        {"precision": "int8"},
        {"batch_size": 0},
    ):
        with pytest.raises(UserError):
            encoder.encode(TEXTS, **bad)


def test_encode_gives_the_same_vectors_for_every_batch_size(encoder, capsys):
    big = encoder.encode(TEXTS, batch_size=64)
    np.testing.assert_allclose(encoder.encode(TEXTS, batch_size=1), big, atol=1e-5)
    np.testing.assert_allclose(
        encoder.encode(TEXTS, batch_size=2, show_progress_bar=True), big, atol=1e-5
    )
    assert "Batches" in capsys.readouterr().err  # the bar counts 3 batches of 2


def test_load_model_reads_word2vec_runs_as_averaged_or_sif_vectors(word2vec_run, tmp_path):
    vectors = WordVectors.load_word2vec_text(word2vec_run / "vectors.txt")
    # vocab.txt is gensim's fvocab file: "word count" per line, in the vectors' order.
    lines = (word2vec_run / "vocab.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == vectors.words
    counts = np.array([int(line.split()[1]) for line in lines], np.float64)
    text = " ".join(vectors.words[3:6])

    mean = load_model(word2vec_run)
    assert isinstance(mean, AveragedWordVectors)
    np.testing.assert_allclose(mean.encode(text), vectors.unit()[3:6].mean(0), atol=1e-6)
    sif = load_model(word2vec_run, pooling="sif")
    weights = 1e-3 / (1e-3 + counts / counts.sum())
    expected = (weights[3:6, None] * vectors.unit()[3:6]).sum(0) / 3
    np.testing.assert_allclose(sif.encode(text), expected, rtol=1e-5, atol=1e-7)
    texts = [text, "no such words here", " ".join(vectors.words[:40])]
    for model in (mean, sif):
        out = model.encode(texts, batch_size=1)
        assert out.shape == (3, vectors.dim) and out.dtype == np.float32
        np.testing.assert_allclose(out, model.encode(texts, batch_size=64), atol=1e-6)
        assert not out[1].any()  # out of vocabulary: a zero vector, and it stays zero
        assert not model.encode(texts, normalize_embeddings=True)[1].any()

    bare = tmp_path / "bare"  # a run written before vocab.txt existed
    bare.mkdir()
    shutil.copy(word2vec_run / "vectors.txt", bare / "vectors.txt")
    shutil.copy(word2vec_run / "config.json", bare / "config.json")
    np.testing.assert_allclose(load_model(bare).encode(text), mean.encode(text))
    with pytest.raises(UserError, match="no vocab.txt .*rerun the run's command"):
        load_model(bare, pooling="sif")
    with pytest.raises(UserError, match="pooling 'cls' for a word-vector run; choose one of"):
        load_model(word2vec_run, pooling="cls")
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "missing")


def test_load_model_refuses_word_poolings_for_an_encoder(encoder_run):
    with pytest.raises(UserError, match="pooling 'sif' for the encoder run .*mean, cls, last"):
        load_model(encoder_run, pooling="sif")


def mteb_batches(texts: list[str], size: int = 2) -> list[dict]:
    """What MTEB's DataLoader yields for a text task: dicts of lists, `size` texts each."""
    return [{"text": texts[i : i + size]} for i in range(0, len(texts), size)]


@pytest.mark.parametrize("kind, pooling", [("encoder", None), ("word2vec", "sif")])
def test_mteb_adapter_encodes_batches_in_mteb_shape(request, kind, pooling):
    run = request.getfixturevalue("encoder_run" if kind == "encoder" else "word2vec_run")
    adapter = MTEBEncoder(run, pooling=pooling)
    out = adapter.encode(
        mteb_batches(TEXTS),
        **STS_KWARGS,
        hf_subset="default",
        prompt_type="query",
        batch_size=2,
        show_progress_bar=False,
    )
    expected = adapter.model.encode(TEXTS)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)
    cosines = adapter.similarity(out[:2], out)
    assert cosines.shape == (2, 5)
    np.testing.assert_allclose(np.diag(cosines[:, :2]), 1.0, atol=1e-5)
    np.testing.assert_allclose(adapter.similarity_pairwise(out[:2], out[:2]), [1.0, 1.0], atol=1e-5)
    meta = adapter.describe()
    assert meta["name"] == f"strata/{run.name}" and meta["embed_dim"] == out.shape[1]
    assert run_name(run.parent / "simcse" / "seed2") == "simcse-seed2"
    assert meta["similarity_fn_name"] == "cosine" and len(meta["revision"]) == 12
    assert meta["experiment_kwargs"] == {"pooling": pooling or "mean"}
    with pytest.raises(UserError, match="text only"):
        adapter.encode([{"image": [None]}], **STS_KWARGS, hf_subset="default")
    with pytest.raises(UserError, match="unsupported encode argument"):
        adapter.encode(mteb_batches(TEXTS), **STS_KWARGS, hf_subset="default", top_k=3)
    with pytest.raises(UserError, match="unknown argument"):
        MTEBEncoder(run, pooling=pooling, model=adapter.model, layers=2)


def test_importing_the_adapter_does_not_import_mteb():
    code = (
        "import sys, research, research.mteb_encoder; "
        "sys.exit('mteb' in sys.modules or 'torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def sts_pairs(words: list[str]) -> list[tuple[str, str, float]]:
    """Pairs of five-word sentences sharing 4, 3, 2, 1 or 0 words (never all five), scored
    5 * shared / 4."""
    pairs = []
    for shared in range(4, -1, -1):
        for start in (0, 8):
            first = words[start : start + 5]
            second = first[:shared] + words[start + 20 : start + 25 - shared]
            pairs.append((" ".join(first), " ".join(second), 5 * shared / 4))
    return pairs


def test_mteb_scores_a_local_sts_task(tmp_path, encoder_run, word2vec_run):
    mteb = pytest.importorskip("mteb")  # the optional extra: pip install -e ".[mteb]"
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata
    from scipy.stats import spearmanr  # an mteb dependency

    words = WordVectors.load_word2vec_text(word2vec_run / "vectors.txt").words[20:60]
    path = tmp_path / "local_sts.tsv"
    pairs = sts_pairs(words)
    rows = [f"{a}\t{b}\t{score}" for a, b, score in pairs]
    path.write_text("sentence1\tsentence2\tscore\n" + "\n".join(rows) + "\n")

    class LocalSTS(AbsTaskSTS):
        metadata = TaskMetadata(
            name="StrataLocalSTS",
            description="Ten sentence pairs from a local file, scored by word overlap.",
            reference=None,
            dataset={"path": str(path), "revision": "local"},
            type="STS",
            category="t2t",
            modalities=["text"],
            eval_splits=["test"],
            eval_langs=["eng-Latn"],
            main_score="cosine_spearman",
            date=None,
            domains=None,
            task_subtypes=None,
            license=None,
            annotations_creators=None,
            dialect=None,
            sample_creation=None,
            bibtex_citation=None,
        )
        min_score = 0
        max_score = 5

        def load_data(self, num_proc=None, **kwargs) -> None:
            header, *lines = path.read_text().splitlines()
            cells = [line.split("\t") for line in lines]
            columns = {
                "sentence1": [c[0] for c in cells],
                "sentence2": [c[1] for c in cells],
                "score": [float(c[2]) for c in cells],
            }
            self.dataset = DatasetDict({"test": Dataset.from_dict(columns)})
            self.data_loaded = True

    scores = {}
    for name, adapter in (
        ("encoder", MTEBEncoder(encoder_run)),
        ("word2vec mean", MTEBEncoder(word2vec_run, pooling="mean")),
        ("word2vec sif", MTEBEncoder(word2vec_run, pooling="sif")),
    ):
        result = mteb.evaluate(adapter, LocalSTS(), cache=None, show_progress_bar=False)
        (task,) = result.task_results
        scores[name] = task.get_score()
        assert task.task_name == "StrataLocalSTS"
        assert result.model_name == f"strata/{run_name(adapter.run_dir)}"
        # MTEB scored our embeddings: its number is the Spearman rho of encode's cosines.
        first = adapter.model.encode([a for a, _, _ in pairs])
        second = adapter.model.encode([b for _, b, _ in pairs])
        cosines = adapter.similarity_pairwise(first, second)
        ours = spearmanr(cosines, [g for _, _, g in pairs]).statistic
        assert scores[name] == pytest.approx(ours, abs=1e-6)
    print(scores)
    assert all(-1.0 <= s <= 1.0 for s in scores.values())
    # Word overlap decides the gold scores, so averaged word vectors rank the pairs well.
    assert scores["word2vec mean"] > 0.8 and scores["word2vec sif"] > 0.8
