"""Malformed input to every loader and evaluator.

Each file format gets the same battery: an empty file, only blank lines, a header only, a row
with the wrong number of columns, a non-number where a number belongs, invalid UTF-8, a 1 MB
line, random binary junk, random valid-UTF-8 junk (control characters, NUL, line separators),
NUL bytes, deeply nested JSON and a 5000-digit number. Every outcome must be either a UserError
whose one-line message names the file, or a result whose counts account for every data row
(rows used + rows skipped and counted); anything else (another exception type, a row lost
silently) fails. A byte-order mark and CRLF line ends must give exactly the clean file's result.
The junk comes from a seeded generator, so the test is deterministic.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from research import query, search
from research.config import DataConfig, TextDataConfig
from research.data import corpus as corpus_lib
from research.data import sequences
from research.errors import UserError
from research.eval import EVALUATORS, make_evaluator
from research.eval.sense import WIC_COLUMNS
from research.eval.vectors import WordVectors

RNG = np.random.default_rng(20261121)
BINARY_JUNK = RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes()
# Valid UTF-8 that no format expects: controls, NUL, tabs, line and paragraph separators, BOMs,
# combining marks, surrogate-free astral characters.
_ALPHABET = [0, 9, 11, 12, 13, 28, 29, 30, 31, 127, 133, 160, 0x2028, 0x2029, 0xFEFF, 0x0301]
_ALPHABET += list(range(32, 127)) + [0x1F600, 0x10FFFF, 0xE9]
TEXT_JUNK = "".join(chr(c) for c in RNG.choice(_ALPHABET, 4000)).encode("utf-8")
LONG_LINE = b"word " * (1 << 18)  # 1.25 MB on one line, no newline at the end

WORDS = ["cat", "dog", "car", "bus", "ant", "bee"]
VECTORS = WordVectors(WORDS, RNG.standard_normal((len(WORDS), 8)).astype(np.float32))


class HashEncoder:
    """A fake encoder: a fixed pseudo-random vector per distinct text (and span)."""

    def _vector(self, key: str) -> np.ndarray:
        return np.random.default_rng(zlib.crc32(key.encode("utf-8", "replace"))).normal(size=8)

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_spans(self, texts: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
        return np.stack(
            [self._vector(f"{t}|{s}|{e}") for t, (s, e) in zip(texts, spans, strict=True)]
        )


MODEL = HashEncoder()


@dataclass(frozen=True)
class Format:
    """One file format: valid content, one bad row of each kind, and how to load and count it.

    `load(path)` parses the file and, for an evaluator, runs it; `rows(result)` is how many data
    rows the result accounts for (used plus counted skips). `comment` lines are not data.
    """

    name: str
    filename: str
    header: str  # "" when the format has no header line
    rows_ok: tuple[str, ...]
    wrong_columns: str
    non_numeric: str  # "" when no field is a number
    load: Callable[[Path], object]
    rows: Callable[[object], int]
    comment: str = ""


def metrics(evaluator_kind: str, model, **options) -> Callable[[Path], dict]:
    def load(path: Path) -> dict:
        evaluator = make_evaluator(evaluator_kind, name="fuzz", path=path, **options)
        return evaluator.run(model).metrics

    load.evaluator = evaluator_kind  # type: ignore[attr-defined]
    return load


def probes(option: str) -> Callable[[Path], dict]:
    def load(path: Path) -> dict:
        evaluator = make_evaluator("level_probes", name="fuzz", depths=[1], **{option: path})
        return evaluator.run(MODEL).metrics

    load.evaluator = "level_probes"  # type: ignore[attr-defined]
    return load


def context_spaces_examples(path: Path) -> list:
    """The context_spaces evaluator's reading of its polysemy file (its run needs a model with
    trained context spaces; the file is read, and checked, when the evaluator is made)."""
    return make_evaluator("context_spaces", name="fuzz", path=path).examples


context_spaces_examples.evaluator = "context_spaces"  # type: ignore[attr-defined]


def probe_rows(probe: str) -> Callable[[dict], int]:
    def rows(m: dict) -> int:
        return m[f"{probe}/items"] + m[f"{probe}/skipped_rare"] + m.get(f"{probe}/skipped_short", 0)

    return rows


def collection(path: Path, **kwargs) -> tuple:
    return search.read_collection_counted(path, **kwargs)


def wic_row(pair_id: str, label: str, sentence: str = "the bank is near") -> str:
    cells = [pair_id, "dev", "bank", "n", label, "0", "s1", "s2", "l1", "l2", "4", "8", "4", "8"]
    return "\t".join([*cells, sentence, "a bank was there"])


FORMATS = [
    Format(
        "word_similarity", "pairs.tsv", "word1\tword2\tscore",
        ("cat\tdog\t7.5", "car\tbus\t6.0", "cat\tzebra\t2.5"),
        "cat\tdog", "cat\tdog\tabc",
        metrics("word_similarity", VECTORS),
        lambda m: m["pairs_used"] + m["pairs_oov"], comment="#",
    ),
    Format(
        "analogy_questions_words", "questions.txt", ": family",
        ("cat dog car bus", "dog cat bus car", "ant bee cat zebra"),
        "cat dog car", "",
        metrics("analogy", VECTORS), lambda m: m["questions_total"], comment="#",
    ),
    Format(
        "analogy_tsv", "analogies.tsv", "section\ttype\ta\tb\tc\td",
        ("s\tsemantic\tcat\tdog\tcar\tbus", "s\tsemantic\tant\tbee\tcat\tzebra"),
        "s\tsemantic\tcat\tdog", "",
        metrics("analogy", VECTORS), lambda m: m["questions_total"], comment="#",
    ),
    Format(
        "word2vec_vectors", "vectors.txt", "2 3", ("cat 1 2 3", "dog 4 5 6"),
        "cat 1 2", "cat 1 x 3",
        WordVectors.load_word2vec_text, len,
    ),
    Format(
        "query_run_vectors", "vectors.txt", "2 3", ("cat 1 2 3", "dog 4 5 6"),
        "cat 1 2", "cat nan 2 3",
        lambda p: query.load_run_vectors(p.parent), len,
    ),
    Format(
        "sentence_similarity", "sts-dev.csv", "",
        ("main\tf\t2012\t1\t3.5\ta cat sat\ta dog sat", "main\tf\t2012\t2\t1.0\tcars\tbuses",
         "main\tf\t2012\t3\t4.0\tone\ttwo"),
        "main\tf\t2012\t1\t3.5\ta cat", "main\tf\t2012\t1\tabc\ta cat\ta dog",
        metrics("sentence_similarity", MODEL), lambda m: m["pairs"],
    ),
    Format(
        "word_sense", "wic.tsv", "\t".join(WIC_COLUMNS),
        (wic_row("1", "1"), wic_row("2", "0", "the bank of a river"),
         wic_row("3", "1", "the bank rate")),
        "1\tdev\tbank", wic_row("1", "maybe"),
        metrics("word_sense", MODEL), lambda m: m["pairs"],
    ),
    Format(
        "retrieval", "def2word.tsv", "query\ttarget",
        ("a small pet that purrs\tcat", "a loyal pet\tdog", "a vehicle\tcar"),
        "a small pet", "",
        metrics("retrieval", MODEL), lambda m: m["queries"],
    ),
    Format(
        "sense_separation", "polysemy.tsv", "lemma\tsense\ttopic\tstart\tend\tsentence",
        ("bank\tshore\triver\t4\t8\tthe bank of the river", "bank\tshore\triver\t2\t6\ta bank",
         "bank\tmoney\tfinance\t4\t8\tthe bank lent", "bank\tmoney\tfinance\t0\t4\tbank loans"),
        "bank\tshore", "bank\tshore\triver\tfour\t8\tthe bank",
        metrics("sense_separation", MODEL), lambda m: m["examples"],
    ),
    Format(
        "context_spaces", "polysemy.tsv", "lemma\tsense\ttopic\tstart\tend\tsentence",
        ("bank\tshore\triver\t4\t8\tthe bank of the river", "bank\tshore\triver\t2\t6\ta bank",
         "bank\tmoney\tfinance\t4\t8\tthe bank lent", "bank\tmoney\tfinance\t0\t4\tbank loans"),
        "bank\tshore", "bank\tshore\triver\tfour\t8\tthe bank",
        context_spaces_examples, len,
    ),
    Format(
        "level_probes_ladder", "hierarchy.tsv", "lemma\tladder_words",
        tuple(f"{w}{i}\t{top}|animal" for top, w in (("pet", "cat"), ("bug", "ant"))
              for i in range(4)),
        "cat", "",
        probes("ladder"), probe_rows("depth1"),
    ),
    Format(
        "level_probes_topic", "documents.jsonl", "",
        tuple(json.dumps({"topic": t, "sentences": [f"{t} text {i}."]})
              for t in ("pets", "cars") for i in range(4)),
        '{"topic": "pets"}', '{"topic": 3, "sentences": ["x"]}',
        probes("documents"), probe_rows("topic"),
    ),
    Format(
        "search_txt", "titles.txt", "", ("cheap flights to rome", "learn python"), "", "",
        collection, lambda r: len(r[0]) + r[2],
    ),
    Format(
        "search_tsv", "titles.tsv", "text\tlabel", ("cheap flights\ttravel", "python\tcode"),
        "cheap flights", "",
        lambda p: collection(p, label_column="label"), lambda r: len(r[0]) + r[2],
    ),
    Format(
        "search_csv", "titles.csv", "text,label", ('"cheap, flights",travel', "python,code"),
        '"cheap flights', "",
        lambda p: collection(p, label_column="label"), lambda r: len(r[0]) + r[2],
    ),
    Format(
        "search_jsonl", "titles.jsonl", "",
        ('{"text": "cheap flights", "label": "travel"}', '{"text": null, "label": "none"}',
         '{"text": 42, "label": "number"}'),
        '{"label": "code"}', '{"text": ["a list"], "label": "x"}',
        lambda p: collection(p, label_column="label"), lambda r: len(r[0]) + r[2],
    ),
]  # fmt: skip


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def malformed(fmt: Format) -> dict[str, bytes]:
    head = [fmt.header] if fmt.header else []
    ok = fmt.rows_ok[0]
    cases = {
        "empty": b"",
        "blank_lines": b"\n\n   \n\t\r\n",
        "wrong_columns": lines(*head, ok, fmt.wrong_columns),
        "invalid_utf8": lines(*head, ok) + b"caf\xe9\t\xff\xfe\t1\n",
        "long_line": b"\n".join([*(h.encode() for h in head), LONG_LINE]),
        "long_tabbed_line": b"\n".join([*(h.encode() for h in head), b"\t".join([LONG_LINE] * 3)]),
        "binary_junk": BINARY_JUNK,
        "text_junk": TEXT_JUNK,
        "header_then_junk": lines(*head) + TEXT_JUNK,
        "nul_bytes": lines(*head, ok) + b"a\x00b\tc\x00\t1\n",
        "deep_json": b"[" * 100_000 + b"\n",
        "big_number": lines(*head, ok) + b"1" * 5000 + b"\n",
    }
    if fmt.header:
        cases["header_only"] = lines(fmt.header)
    if fmt.non_numeric:
        cases["non_numeric"] = lines(*head, ok, fmt.non_numeric)
    return cases


def data_rows(fmt: Format, content: bytes) -> int:
    """Non-blank, non-comment lines after the header: the rows a result must account for."""
    text = content.decode("utf-8").removeprefix("\ufeff")
    rows = [
        line
        for line in text.split("\n")
        if line.strip() and not (fmt.comment and line.lstrip().startswith(fmt.comment))
    ]
    return len(rows) - (1 if fmt.header else 0)


def write_case(tmp_path: Path, fmt: Format, case: str, content: bytes) -> Path:
    path = tmp_path / case / fmt.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def outcome(load: Callable[[Path], object], path: Path) -> tuple[str, object]:
    """("error", message) for a UserError, else ("ok", result); anything else propagates."""
    try:
        return "ok", load(path)
    except UserError as err:
        message = str(err)
        assert "\n" not in message, f"multi-line message: {message!r}"
        assert path.name in message, f"the message does not name the file: {message!r}"
        return "error", message


CASES = [(fmt, case) for fmt in FORMATS for case in malformed(fmt)]


@pytest.mark.parametrize(("fmt", "case"), CASES, ids=[f"{fmt.name}-{case}" for fmt, case in CASES])
def test_malformed_file_is_a_clear_error_or_counted(tmp_path, fmt, case):
    content = malformed(fmt)[case]
    path = write_case(tmp_path, fmt, case, content)
    kind, result = outcome(fmt.load, path)
    if kind == "ok":
        assert fmt.rows(result) == data_rows(fmt, content), (
            f"{fmt.name} on {case}: the result accounts for {fmt.rows(result)} rows, the file "
            f"has {data_rows(fmt, content)}"
        )


@pytest.mark.parametrize("fmt", FORMATS, ids=[fmt.name for fmt in FORMATS])
def test_valid_file_with_bom_and_crlf_reads_like_the_clean_file(tmp_path, fmt):
    body = "\n".join(([fmt.header] if fmt.header else []) + list(fmt.rows_ok)) + "\n"
    clean = write_case(tmp_path, fmt, "clean", body.encode("utf-8"))
    windows = write_case(
        tmp_path, fmt, "windows", ("\ufeff" + body.replace("\n", "\r\n")).encode("utf-8")
    )
    kind, expected = outcome(fmt.load, clean)
    assert kind == "ok", expected
    assert fmt.rows(expected) == data_rows(fmt, clean.read_bytes())
    kind, got = outcome(fmt.load, windows)
    assert kind == "ok", got
    if isinstance(expected, dict):  # evaluator metrics: NaN equals NaN here
        assert got.keys() == expected.keys()
        np.testing.assert_equal([got[k] for k in expected], list(expected.values()))
    elif isinstance(expected, WordVectors):
        assert got.words == expected.words
        np.testing.assert_array_equal(got.vectors, expected.vectors)
    else:
        assert got == expected


def test_every_registered_evaluator_is_fuzzed():
    fuzzed = {getattr(fmt.load, "evaluator", "") for fmt in FORMATS}
    fuzzed.add("nearest_neighbours")  # takes words, not a file: tested below
    assert set(EVALUATORS) <= fuzzed


def test_nearest_neighbours_counts_junk_queries_as_out_of_vocabulary():
    junk = ["", " ", "\x00", "x" * 100_000, TEXT_JUNK.decode()[:200], "CAT", "dog"]
    result = make_evaluator("nearest_neighbours", name="nn", words=junk, topn=3).run(VECTORS)
    assert result.metrics == {"queries": len(junk), "queries_oov": len(junk) - 2}
    assert "| CAT |" in result.markdown and "| dog |" in result.markdown


@pytest.mark.parametrize(
    "text",
    ["", "   ", "+", "- -", "cat + + dog", "\x00", "x" * 1_000_000, "cat - zebra",
     TEXT_JUNK.decode()[:300], "cat -", "cat\u2028dog", "cat - dog + car"],
)  # fmt: skip
def test_query_with_junk_is_an_answer_or_a_user_error(text):
    try:
        heading, rows = query.answer(VECTORS, text, topn=3)
    except UserError as err:
        assert "\n" not in str(err)
        return
    assert heading and all(word in WORDS for word, _ in rows)


# ----------------------------------------------------------------------------- corpus loaders

CORPUS_CASES = {
    "empty.txt": b"",
    "blank_lines.txt": b"\n  \n\t\n",
    "invalid_utf8.txt": b"good words here\ncaf\xe9 \xff\n",
    "binary_junk.txt": BINARY_JUNK,
    "text_junk.txt": TEXT_JUNK,
    "long_line.txt": b"the cat. " * 120_000,  # 1 MB, one document
    "nul_bytes.txt": b"the cat\x00sat\nthe dog sat. the end\n\n",
    "windows.txt": "\ufeffthe cat sat\r\n\r\nthe dog sat\r\n".encode(),
    "not_json.jsonl": b"hello\n",
    "deep_json.jsonl": b"[" * 100_000 + b"\n",
    "no_text_column.jsonl": b'{"body": "the cat"}\n',
    "non_text_values.jsonl": b'{"text": null}\n{"text": ""}\n{"text": "the cat. the dog."}\n',
    "blank_lines.jsonl": b"\n\n",
    "number_values.jsonl": b'{"text": 5}\n{"text": 6}\n',
    "mixed_values.jsonl": b'{"text": "the cat"}\n{"text": 6}\n',
    "list_values.jsonl": b'{"text": ["the", "cat"]}\n',
    "binary_junk.parquet": BINARY_JUNK,
}


def build_words(path: Path, cache: Path) -> dict:
    config = DataConfig(source=str(path), cache_dir=str(cache), min_count=1)
    return corpus_lib.prepare_corpus(config, progress=False).meta


def build_sequences(path: Path, cache: Path) -> dict:
    config = TextDataConfig(source=str(path), cache_dir=str(cache))
    data = sequences.prepare_sequences(
        config, max_len=16, sentence_len=8, vocab_size=60, progress=False
    )
    return data.meta


@pytest.mark.parametrize("name", list(CORPUS_CASES))
def test_malformed_corpus_is_a_clear_error_or_skips_counted(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CORPUS_CASES[name])
    for build in (build_words, build_sequences):
        kind, meta = outcome(lambda p, build=build: build(p, tmp_path / "cache"), path)
        if kind == "error":
            continue
        # Every row of the source is a document used or a document skipped and counted.
        rows = _source_rows(path)
        assert meta["documents"] + meta["skipped_documents"] <= rows
        if build is build_sequences:
            assert meta["documents"] + meta["skipped_documents"] == rows, (name, meta)


def _source_rows(path: Path) -> int:
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
    # The `datasets` text builder reads with universal newlines (\n, \r\n, \r) and keeps empty
    # lines as rows.
    text = path.read_bytes().decode("utf-8")
    return len(io.StringIO(text, newline=None).readlines())


def test_non_text_values_in_a_corpus_are_skipped_and_counted(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(CORPUS_CASES["non_text_values.jsonl"])
    words = build_words(path, tmp_path / "cache")
    assert (words["documents"], words["skipped_documents"], words["raw_tokens"]) == (1, 2, 4)
    seqs = build_sequences(path, tmp_path / "cache")
    assert (seqs["documents"], seqs["skipped_documents"], seqs["sentences"]) == (1, 2, 2)


@pytest.mark.parametrize(
    ("name", "holds", "builds"),
    [
        ("number_values.jsonl", "int64", (build_words, build_sequences)),
        ("mixed_values.jsonl", "mixed types", (build_words, build_sequences)),
        # A list of strings is a document's sentences to the encoder, not text to word2vec.
        ("list_values.jsonl", "list<item: string>", (build_words,)),
    ],
)
def test_a_text_column_of_other_values_is_named_not_read_as_text(tmp_path, name, holds, builds):
    path = tmp_path / name
    path.write_bytes(CORPUS_CASES[name])
    message = f"column 'text' holds .*{re.escape(holds)}.*, not text"
    for build in builds:
        with pytest.raises(UserError, match=message):
            build(path, tmp_path / "cache")
    if build_sequences not in builds:
        assert build_sequences(path, tmp_path / "cache")["documents"] == 1
