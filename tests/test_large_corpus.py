"""Streaming cache builds: chunked equals one-shot, .npy written in pieces, bounded reads."""

import json

import numpy as np
import pytest

from research.config import DataConfig, TextDataConfig
from research.data import corpus as corpus_lib
from research.data import npy, sequences, text, windows
from research.data.sentences import split_sentences

DOCS = [
    "The cat sat on the mat. The dog did not.",
    "",
    "A dog, 2 dogs; the DOG ran! Where? Home.",
    "   ",
    "the cat and the dog " * 40 + "end.",
    "zebra quokka",  # words dropped by min_count: a document with no ids left
    "one more cat. one more dog.",
]


def write_txt(path, docs=DOCS):
    path.write_text("\n".join(docs) + "\n")
    return path


def test_document_pieces_cut_at_whitespace_and_keep_every_word():
    document = "alpha beta\tgamma\ndelta " * 50 + "x" * 12 + " omega"
    pieces = list(corpus_lib.document_pieces(document, size=17))
    assert "".join(pieces) == document
    assert max(len(p) for p in pieces) <= 17
    words = [w for piece in pieces for w in text.normalise_words(piece)]
    assert words == text.normalise_words(document)
    # A run longer than a piece without whitespace is cut where it is.
    assert list(corpus_lib.document_pieces("y" * 40, size=17)) == ["y" * 17, "y" * 17, "y" * 6]


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_word_corpus_built_in_tiny_chunks_equals_one_shot(tmp_path, monkeypatch, chunk):
    source = write_txt(tmp_path / "c.txt")
    one_shot = corpus_lib.prepare_corpus(
        DataConfig(source=str(source), cache_dir=str(tmp_path / "a"), min_count=2),
        progress=False,
        chunk_documents=10_000,
    )
    # Tiny pieces too, so that long documents are normalised piece by piece.
    monkeypatch.setattr(corpus_lib, "PIECE_CHARS", 7)
    chunked = corpus_lib.prepare_corpus(
        DataConfig(source=str(source), cache_dir=str(tmp_path / "b"), min_count=2),
        progress=False,
        chunk_documents=chunk,
    )
    assert chunked.words == one_shot.words
    np.testing.assert_array_equal(chunked.counts, one_shot.counts)
    np.testing.assert_array_equal(chunked.tokens, one_shot.tokens)
    np.testing.assert_array_equal(chunked.doc_offsets, one_shot.doc_offsets)
    drop = {"seconds"}
    assert {k: v for k, v in chunked.meta.items() if k not in drop} == {
        k: v for k, v in one_shot.meta.items() if k not in drop
    }
    # Offsets: one per document that kept an id, plus the end; "zebra quokka" kept none.
    assert one_shot.meta["documents"] == 4 == len(one_shot.doc_offsets) - 1
    assert one_shot.doc_offsets[-1] == one_shot.num_tokens


def test_word_corpus_progress_bar_counts_documents(tmp_path, capsys):
    source = write_txt(tmp_path / "c.txt")
    corpus_lib.prepare_corpus(
        DataConfig(source=str(source), cache_dir=str(tmp_path / "a"), min_count=1),
        progress=True,
        chunk_documents=2,
    )
    err = capsys.readouterr().err
    assert "counting words" in err and "writing token ids" in err and "docs" in err


@pytest.mark.parametrize("chunk", [1, 2])
def test_sequences_built_in_tiny_chunks_equal_one_shot(tmp_path, chunk):
    path = tmp_path / "docs.jsonl"
    docs = [{"sentences": split_sentences(d)} for d in DOCS]
    docs.append({"sentences": ["a very long sentence " + "word " * 60]})
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    settings = {"max_len": 24, "sentence_len": 12, "vocab_size": 200, "progress": False}

    def build(cache, chunk_documents):
        config = TextDataConfig(
            source=str(path), text_field="sentences", cache_dir=str(tmp_path / cache)
        )
        return sequences.prepare_sequences(config, chunk_documents=chunk_documents, **settings)

    one_shot, chunked = build("a", 10_000), build("b", chunk)
    for name in (
        "packed_tokens",
        "packed_sentences",
        "packed_documents",
        "sentence_tokens",
        "sentence_documents",
    ):
        a, b = getattr(one_shot, name), getattr(chunked, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    drop = {"seconds"}
    assert {k: v for k, v in chunked.meta.items() if k not in drop} == {
        k: v for k, v in one_shot.meta.items() if k not in drop
    }
    assert one_shot.meta["documents"] == 6  # the two blank documents are skipped
    assert one_shot.meta["sequences"] == len(one_shot.packed_tokens) > 1


def test_npy_writer_appends_chunks_into_a_valid_array(tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 100, size=(n, 3), dtype=np.int32) for n in (0, 5, 1, 7)]
    with npy.NpyWriter(tmp_path / "a.npy", np.int32, (3,)) as writer:
        for part in parts:
            writer.append(part)
    assert writer.rows == 13
    loaded = np.load(tmp_path / "a.npy")
    np.testing.assert_array_equal(loaded, np.concatenate(parts))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert mapped.shape == (13, 3) and mapped.offset == npy.HEADER_BYTES
    with npy.NpyWriter(tmp_path / "empty.npy", np.int64):
        pass
    assert np.load(tmp_path / "empty.npy").shape == (0,)
    with pytest.raises(ValueError, match="rows of shape"):
        npy.NpyWriter(tmp_path / "b.npy", np.int32, (3,)).append(np.zeros((2, 4)))


def test_read_rows_matches_slicing_for_memmaps_views_and_arrays(tmp_path):
    array = np.arange(60, dtype=np.int32).reshape(20, 3)
    np.save(tmp_path / "x.npy", array)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    for source in (mapped, mapped[2:], array):
        for start, stop in ((0, 5), (3, 20), (7, 7), (15, 99)):
            got = npy.read_rows(source, start, stop)
            np.testing.assert_array_equal(got, np.asarray(source)[start:stop])
            assert not isinstance(got, np.memmap)


def test_block_stream_over_memmaps_equals_in_memory_arrays(tmp_path, monkeypatch):
    monkeypatch.setattr(windows, "RAW_CHUNK", 64)  # many chunks: the offsets are read per chunk
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 50, size=1000, dtype=np.int32)
    offsets = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 1000), 60, replace=False))])
    offsets = np.append(offsets, 1000).astype(np.int64)
    np.save(tmp_path / "t.npy", tokens)
    np.save(tmp_path / "o.npy", offsets)
    keep = rng.uniform(0.3, 1.0, size=50)
    streams = [
        windows.BlockStream(t, o, keep, batch_size=32, window=3, seed=0)
        for t, o in (
            (tokens, offsets),
            (
                np.load(tmp_path / "t.npy", mmap_mode="r"),
                np.load(tmp_path / "o.npy", mmap_mode="r"),
            ),
        )
    ]
    blocks = [list(s.epoch_blocks(0)) for s in streams]
    assert len(blocks[0]) == len(blocks[1]) == streams[0].blocks_in_epoch(0) > 10
    for a, b in zip(*blocks, strict=True):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.docs, b.docs)
    # Document ids agree with a global search over all offsets.
    positions = np.arange(1000)
    np.testing.assert_array_equal(
        windows.document_ids(offsets, positions[100:200], 100, 200),
        np.searchsorted(offsets, positions[100:200], side="right") - 1,
    )


def test_search_sorted_matches_numpy_on_memmaps_and_arrays(tmp_path):
    offsets = np.array([0, 3, 3, 7, 20, 21, 50], dtype=np.int64)
    np.save(tmp_path / "o.npy", offsets)
    mapped = np.load(tmp_path / "o.npy", mmap_mode="r")
    for value in (-1, 0, 2, 3, 6, 7, 20, 49, 50, 99):
        expected = int(np.searchsorted(offsets, value, side="right"))
        assert npy.search_sorted(mapped, value) == expected == npy.search_sorted(offsets, value)


def test_take_rows_reads_a_memory_map_like_fancy_indexing(tmp_path):
    table = np.arange(7 * 5, dtype=np.int32).reshape(7, 5)
    np.save(tmp_path / "table.npy", table)
    mapped = np.load(tmp_path / "table.npy", mmap_mode="r")
    rows = np.array([6, 0, 3, 3])
    np.testing.assert_array_equal(npy.take_rows(mapped, rows), table[rows])
    np.testing.assert_array_equal(npy.take_rows(table, rows), table[rows])
    assert npy.take_rows(mapped, np.array([], int)).shape == (0, 5)
    np.testing.assert_array_equal(npy.take_rows(mapped, np.array([-1, -7])), table[[-1, -7]])
    with pytest.raises(IndexError):
        npy.take_rows(mapped, np.array([7]))
    vector = np.arange(9, dtype=np.float64)  # 1-D: rows are elements
    np.save(tmp_path / "vector.npy", vector)
    mapped_vector = np.load(tmp_path / "vector.npy", mmap_mode="r")
    np.testing.assert_array_equal(npy.take_rows(mapped_vector, [8, 1]), vector[[8, 1]])
