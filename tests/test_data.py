"""Text loading, normalisation, corpus caching, subsampling and block streams."""

import json

import numpy as np
import pytest

from research.config import DataConfig
from research.data import corpus as corpus_lib
from research.data import text, windows
from research.errors import UserError

DOCS = ["The cat sat on the mat.", "", "A dog, 2 dogs; the DOG ran!", "the cat and the dog"]


def write_txt(path, docs=DOCS):
    path.write_text("\n".join(docs) + "\n")
    return path


def data_config(tmp_path, source, **overrides) -> DataConfig:
    overrides.setdefault("min_count", 1)
    return DataConfig(source=str(source), cache_dir=str(tmp_path / "cache"), **overrides)


def test_normalise_words_text8_style():
    assert text.normalise_words("The CAT's 2 hats, naïve!") == [
        "the",
        "cat",
        "s",
        "two",
        "hats",
        "na",
        "ve",
    ]
    assert text.normalise_words("  \t ") == []


def test_corpus_from_text_file(tmp_path):
    corpus = corpus_lib.prepare_corpus(
        data_config(tmp_path, write_txt(tmp_path / "c.txt")), progress=False
    )
    assert corpus.words[0] == "the"  # most frequent first
    assert corpus.counts[0] == 5
    assert list(np.diff(corpus.counts) <= 0) == [True] * (len(corpus.counts) - 1)
    # Three non-empty documents; the empty line is skipped, not a zero-length document.
    assert len(corpus.doc_offsets) == 4
    decoded = [corpus.words[i] for i in corpus.tokens[: corpus.doc_offsets[1]]]
    assert decoded == ["the", "cat", "sat", "on", "the", "mat"]
    assert isinstance(corpus.tokens, np.memmap)


def test_local_jsonl_and_parquet_read_like_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = tmp_path / "j" / "docs.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text("".join(json.dumps({"text": d, "id": i}) + "\n" for i, d in enumerate(DOCS)))
    parquet_dir = tmp_path / "p"
    parquet_dir.mkdir()
    pq.write_table(pa.table({"text": DOCS}), parquet_dir / "part-0.parquet")
    reference = corpus_lib.prepare_corpus(
        data_config(tmp_path, write_txt(tmp_path / "c.txt")), progress=False
    )
    for source in [jsonl.parent, parquet_dir, tmp_path / "p" / "*.parquet"]:
        corpus = corpus_lib.prepare_corpus(data_config(tmp_path, source), progress=False)
        assert corpus.words == reference.words
        np.testing.assert_array_equal(corpus.tokens, reference.tokens)


def test_token_cache_is_reused_and_keyed_by_settings(tmp_path):
    source = write_txt(tmp_path / "c.txt")
    first = corpus_lib.prepare_corpus(data_config(tmp_path, source), progress=False)
    again = corpus_lib.prepare_corpus(data_config(tmp_path, source), progress=False)
    assert again.path == first.path
    assert again.meta["seconds"] == first.meta["seconds"]  # loaded, not rebuilt
    other = corpus_lib.prepare_corpus(data_config(tmp_path, source, min_count=2), progress=False)
    assert other.path != first.path
    assert set(other.words) == {"the", "cat", "dog"}


def test_max_vocab_keeps_the_most_frequent(tmp_path):
    source = write_txt(tmp_path / "c.txt")
    corpus = corpus_lib.prepare_corpus(data_config(tmp_path, source, max_vocab=2), progress=False)
    assert corpus.words == ["the", "dog"]


def test_max_tokens_reads_a_prefix_with_its_own_vocabulary(tmp_path):
    source = write_txt(tmp_path / "c.txt")
    whole = corpus_lib.prepare_corpus(data_config(tmp_path, source), progress=False)
    # 6 words in the first document, then the prefix ends one word into the third line.
    prefix = corpus_lib.prepare_corpus(data_config(tmp_path, source, max_tokens=7), progress=False)
    assert prefix.path != whole.path
    assert [prefix.words[i] for i in prefix.tokens] == [
        "the",
        "cat",
        "sat",
        "on",
        "the",
        "mat",
        "a",
    ]
    assert list(prefix.doc_offsets) == [0, 6, 7]
    assert set(prefix.words) == {"the", "cat", "sat", "on", "mat", "a"}
    assert prefix.meta["raw_tokens"] == 7 and prefix.meta["max_tokens"] == 7
    # A budget beyond the source reads all of it.
    beyond = corpus_lib.prepare_corpus(
        data_config(tmp_path, source, max_tokens=10**6), progress=False
    )
    np.testing.assert_array_equal(beyond.tokens, whole.tokens)
    with pytest.raises(UserError, match="data.max_tokens=-1 must be >= 0"):
        corpus_lib.prepare_corpus(data_config(tmp_path, source, max_tokens=-1), progress=False)


@pytest.mark.parametrize(
    "make_source, message",
    [
        (lambda p: p / "missing.txt", "no such file or directory"),
        (lambda p: write_txt(p / "empty.txt", ["", "  ", "!!!"]), "holds no words"),
        (lambda p: p / "emptydir", "no .txt, .jsonl or .parquet files found"),
    ],
)
def test_bad_sources_give_one_line_errors(tmp_path, make_source, message):
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(UserError) as error:
        corpus_lib.prepare_corpus(data_config(tmp_path, make_source(tmp_path)), progress=False)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_min_count_above_every_word_is_an_error(tmp_path):
    source = write_txt(tmp_path / "c.txt")
    with pytest.raises(UserError, match="lower data.min_count"):
        corpus_lib.prepare_corpus(data_config(tmp_path, source, min_count=50), progress=False)


def test_missing_text_column_is_an_error(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"body": "hello world"}) + "\n")
    with pytest.raises(UserError, match="set data.text_field"):
        corpus_lib.prepare_corpus(data_config(tmp_path, path), progress=False)


def test_hub_source_offline_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="pass a local path"):
        corpus_lib.prepare_corpus(
            data_config(tmp_path, "hf:nobody/no-such-dataset"), progress=False
        )


def test_keep_probabilities_word2vec_formula():
    counts = np.array([900_000, 90_000, 9_000, 1_000])
    sample = 1e-3
    keep = windows.keep_probabilities(counts, sample)
    f = counts / counts.sum()
    expected = np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)
    np.testing.assert_allclose(keep, expected)
    assert keep[-1] == 1.0 and keep[0] < 0.05
    np.testing.assert_array_equal(windows.keep_probabilities(counts, 0.0), 1.0)


def make_stream(batch_size=16, window=2, seed=0, n=5000, keep=None):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, n).astype(np.int32)
    doc_offsets = np.arange(0, n + 1, 37)
    doc_offsets[-1] = n
    keep = np.full(50, 0.5) if keep is None else keep
    stream = windows.BlockStream(
        tokens, doc_offsets, keep, batch_size=batch_size, window=window, seed=seed
    )
    return stream, tokens, doc_offsets


def test_subsampling_rate_matches_keep_probability():
    keep = np.linspace(0.1, 1.0, 50)
    stream, tokens, _ = make_stream(n=200_000, keep=keep, batch_size=64)
    kept = np.concatenate([ids for ids, _ in stream._kept_chunks(0)])
    rate = np.bincount(kept, minlength=50) / np.bincount(tokens, minlength=50)
    np.testing.assert_allclose(rate, keep, atol=0.03)


def test_blocks_have_fixed_shape_halo_and_deterministic_content():
    stream, tokens, _ = make_stream()
    blocks = list(stream.epoch_blocks(0))
    assert len(blocks) == stream.blocks_in_epoch(0) > 10
    assert all(b.ids.shape == (16 + 4,) and b.docs.shape == (16 + 4,) for b in blocks)
    assert (blocks[0].ids[:2] == windows.PAD).all()  # nothing before the epoch's first token
    # The halo of block b is the tail of block b-1's centres: no pair is lost at block edges.
    np.testing.assert_array_equal(blocks[1].ids[:2], blocks[0].ids[16:18])
    np.testing.assert_array_equal(blocks[0].ids[-2:], blocks[1].ids[2:4])
    again = list(stream.epoch_blocks(0))
    assert all((a.ids == b.ids).all() for a, b in zip(blocks, again, strict=True))
    other_epoch = list(stream.epoch_blocks(1))
    assert not all((a.ids == b.ids).all() for a, b in zip(blocks, other_epoch, strict=False))


def test_doc_ids_follow_document_offsets():
    stream, tokens, doc_offsets = make_stream(keep=np.ones(50))
    for block in stream.epoch_blocks(0):
        valid = block.ids >= 0
        assert (np.diff(block.docs[valid]) >= 0).all()
    block = next(iter(stream.epoch_blocks(0)))
    # With nothing subsampled, block 0's centres are tokens 0..15 of document 0.
    np.testing.assert_array_equal(block.ids[2:18], tokens[:16])
    assert (block.docs[2:18] == 0).all()


def test_starting_mid_epoch_matches_skipping_blocks():
    stream, _, _ = make_stream()
    full = list(stream.epoch_blocks(0))
    resumed = list(stream.epoch_blocks(0, start=7))
    assert [b.index for b in resumed] == list(range(7, len(full)))
    assert all((a.ids == b.ids).all() for a, b in zip(full[7:], resumed, strict=True))


def test_prefetch_preserves_order_and_errors():
    assert list(windows.prefetch(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(windows.prefetch(failing()))
