"""Tokeniser, packed sequences and the sentence table."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from research.config import TextDataConfig
from research.data import sequences
from research.data import tokenizer as tok
from research.errors import UserError

ROOT = Path(__file__).resolve().parents[1]

DOCS = [
    {"sentences": ["the river bank was muddy.", "fish swam near the bank."]},
    {
        "sentences": [
            "she took a loan from the bank.",
            "the bank raised its rates.",
            "money is tight.",
        ]
    },
    {"sentences": ["a very long sentence " + "word " * 60]},
]


def prepare(tmp_path, docs=DOCS, **kw):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    config = TextDataConfig(
        source=str(path), text_field="sentences", cache_dir=str(tmp_path / "cache")
    )
    settings = {"max_len": 24, "sentence_len": 12, "vocab_size": 200, **kw}
    return sequences.prepare_sequences(config, progress=False, **settings)


def test_special_token_ids_are_fixed(tmp_path):
    data = prepare(tmp_path)
    for i, token in enumerate(tok.SPECIAL_TOKENS):
        assert data.tokenizer.token_to_id(token) == i


def test_packing_keeps_sentences_whole_with_ids(tmp_path):
    data = prepare(tmp_path)
    tokens, sent, docs = data.packed_tokens, data.packed_sentences, data.packed_documents
    assert tokens.shape[1] == 24 and tokens.dtype == np.int32
    assert (tokens[:, 0] == tok.CLS).all()
    first = tokens[0]
    # Sentence ids run 0, 1, ... over real tokens; specials carry -1.
    specials = np.isin(first, [tok.CLS, tok.SEP, tok.PAD])
    assert (sent[0][specials] == -1).all() and (sent[0][~specials] >= 0).all()
    assert (np.diff(sent[0][~specials]) >= 0).all()
    # Every [SEP] closes a sentence: the count of sentences equals the count of [SEP]s.
    total_sep = int((tokens == tok.SEP).sum())
    assert total_sep == data.meta["sentences"]
    # Documents: the first sequence's ids start at 0 and only grow.
    assert docs[0][~specials][0] == 0
    assert (np.diff(docs[0][~specials]) >= 0).all()


def test_long_sentences_are_truncated_and_counted(tmp_path):
    data = prepare(tmp_path)
    assert data.meta["truncated_sentences_in_packing"] == 1
    assert data.meta["truncated_sentences_in_table"] >= 1
    table = data.sentence_tokens
    assert table.shape == (6, 12)
    assert ((table == tok.SEP).sum(axis=1) == 1).all()


def test_neighbour_anchors_stay_inside_documents(tmp_path):
    data = prepare(tmp_path)
    anchors = data.neighbour_anchors()
    np.testing.assert_array_equal(anchors, [0, 2, 3])
    docs = data.sentence_documents
    assert (docs[anchors] == docs[anchors + 1]).all()


def test_plain_text_lines_are_split_into_sentences(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("One sentence here. Another one! A third?\nsecond document without a stop\n")
    config = TextDataConfig(source=str(path), cache_dir=str(tmp_path / "cache"))
    data = sequences.prepare_sequences(
        config, max_len=32, sentence_len=16, vocab_size=100, progress=False
    )
    assert data.meta["sentences"] == 4 and data.meta["documents"] == 2


def test_empty_corpus_is_an_error(tmp_path):
    with pytest.raises(UserError):
        prepare(tmp_path, docs=[{"sentences": []}, {"sentences": [""]}])


def test_prose_paragraphs_split_and_rows_kept_whole(tmp_path):
    path = tmp_path / "prose.jsonl"
    docs = [
        {"text": "Overview\n\nMr. Smith came. He sat down.\n\nThe end."},
        {"text": "One row, e.g. this one. It has two sentences."},
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    settings = {"max_len": 32, "sentence_len": 16, "vocab_size": 100, "progress": False}

    def build(mode):
        config = TextDataConfig(source=str(path), sentences=mode, cache_dir=str(tmp_path / "cache"))
        return sequences.prepare_sequences(config, **settings)

    split = build("split")
    assert split.meta["sentences"] == 6 and split.meta["documents"] == 2
    np.testing.assert_array_equal(split.sentence_documents, [0, 0, 0, 0, 1, 1])
    rows = build("rows")  # one sentence per row: another cache
    assert rows.path != split.path and rows.meta["sentences"] == 2


TRAIN_IN_A_FRESH_PROCESS = """
import random, string, sys
from research.data import tokenizer as tok
rng = random.Random(0)
words = [
    "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 7)))
    for _ in range(400)
]
texts = [" ".join(rng.choice(words) for _ in range(10)) for _ in range(100)]
tok.train_tokenizer(texts, 200, sys.argv[1])
"""


def test_the_tokeniser_learns_the_same_vocabulary_in_every_process(tmp_path):
    """The trainer breaks ties in hash order, new in each process (tokenizers#1794).

    On these texts (400 random words, so many merges tie) the unpatched trainer gave five
    different vocabularies in five processes; a fresh process is the only way to get a new hash
    seed, hence the subprocesses.
    """
    paths = [tmp_path / f"tokenizer{i}.json" for i in range(3)]
    for path in paths:
        subprocess.run(
            [sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, str(path)], check=True, cwd=ROOT
        )
    first = paths[0].read_bytes()
    assert all(path.read_bytes() == first for path in paths[1:])
    saved = json.loads(first)
    # The continuation tokens handed to the trainer are ordinary vocabulary, not special tokens.
    assert [t["content"] for t in saved["added_tokens"]] == tok.SPECIAL_TOKENS
    assert len(saved["model"]["vocab"]) == 200
    assert "##e" in saved["model"]["vocab"]


def test_tokeniser_training_reads_texts_with_line_breaks_once(tmp_path):
    texts = iter(["first line\nsecond line", "third\r\nline", "first second third"] * 5)
    tokenizer = tok.train_tokenizer(texts, 60, tmp_path / "tokenizer.json")
    assert tokenizer.encode("second line").tokens == ["second", "line"]
    # Only the tokeniser is left behind: the training text file is removed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json"]
