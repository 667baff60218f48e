"""research.search: reading collections, cosine search, the map, and the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from research.errors import UserError
from research.search import draw_map, main, read_collection, search

# Synonyms share a dimension, so a paraphrase with no word in common still matches.
SYNONYMS = {"purchase": "buy", "automobile": "car", "vehicle": "car", "inexpensive": "cheap",
            "airfare": "flights", "pie": "pizza"}  # fmt: skip
VOCAB = ["buy", "car", "pizza", "best", "town", "learn", "python", "cheap", "flights", "rome"]


class SynonymBagOfWords:
    """Bag of words over VOCAB after mapping synonyms; other words are ignored."""

    def __init__(self):
        self.calls = 0

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), len(VOCAB)), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                word = SYNONYMS.get(word, word)
                if word in VOCAB:
                    out[i, VOCAB.index(word)] += 1
        return out

    def embed_spans(self, texts, spans):
        raise AssertionError("search embeds sentences")


COLLECTION = [
    "best pizza in town",
    "learn python fast",
    "how to buy a car",
    "cheap flights to rome",
    "python for data science",
]
LABELS = ["food", "code", "cars", "travel", "code"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_search_returns_the_planted_paraphrase_first():
    queries = ["purchase an automobile", "inexpensive airfare"]
    hits = search(SynonymBagOfWords(), COLLECTION, queries)
    assert [h[0][0] for h in hits] == [2, 3]
    # {buy, car} vs {buy, car}; {cheap, flights} vs {cheap, flights, rome}.
    assert hits[0][0][1] == pytest.approx(1.0)
    assert hits[1][0][1] == pytest.approx(2 / np.sqrt(2 * 3))
    assert all(len(h) == 5 for h in hits)
    scores = [s for _, s in hits[1]]
    assert scores == sorted(scores, reverse=True) and scores[1] == pytest.approx(0.0)
    assert len(search(SynonymBagOfWords(), COLLECTION, ["pie"], top=2)[0]) == 2
    assert search(SynonymBagOfWords(), COLLECTION, []) == []


def test_read_collection_formats(tmp_path):
    txt = write(tmp_path / "titles.txt", "best pizza in town\n\n  learn python fast  \n")
    assert read_collection(txt) == (["best pizza in town", "learn python fast"], None)

    tsv = write(tmp_path / "t.tsv", 'id\ttitle\ttopic\n1\tsay "hi\tchat\n2\tbuy a car\tcars\n')
    assert read_collection(tsv, "title", "topic") == (['say "hi', "buy a car"], ["chat", "cars"])

    csv_path = write(tmp_path / "t.csv", 'text,topic\n"pizza, pasta",food\nrome,travel\n')
    assert read_collection(csv_path, label_column="topic") == (
        ["pizza, pasta", "rome"], ["food", "travel"]
    )  # fmt: skip

    rows = [{"text": "learn python", "topic": "code"}, {"text": "rome", "topic": "travel"}]
    jsonl = write(tmp_path / "t.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_collection(jsonl, label_column="topic") == (
        ["learn python", "rome"], ["code", "travel"]
    )  # fmt: skip

    single = write(tmp_path / "one.tsv", "headline\nfirst\nsecond\n")
    assert read_collection(single)[0] == ["first", "second"]


@pytest.mark.parametrize(
    ("name", "body", "kwargs", "message"),
    [
        ("t.tsv", "id\ttitle\n1\ta\n", {"column": "text"}, "no text column 'text'"),
        ("t.tsv", "id\ttitle\n1\ta\n", {}, "which column holds the text"),
        ("t.tsv", "text\n", {}, "empty collection"),
        ("t.tsv", "text\ttopic\na\tb\nc\n", {}, r"t.tsv:3: 1 cells"),
        ("t.tsv", "text\na\n", {"label_column": "topic"}, "no label column 'topic'"),
        ("t.txt", "\n  \n", {}, "empty collection"),
        ("t.txt", "a\n", {"column": "text"}, "need a .tsv"),
        ("t.jsonl", '{"text": "a"}\n{"title": "b"}\n', {}, r"t.jsonl:2: no key 'text'"),
        ("t.jsonl", '{"text": "a"}\n[1]\n', {}, r"t.jsonl:2: expected a JSON object"),
    ],
)
def test_read_collection_errors(tmp_path, name, body, kwargs, message):
    path = write(tmp_path / name, body)
    with pytest.raises(UserError, match=message):
        read_collection(path, **kwargs)


def test_draw_map_writes_a_png_with_labels(tmp_path):
    out = draw_map(SynonymBagOfWords(), COLLECTION, LABELS, tmp_path / "maps" / "map.png")
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    vectors = SynonymBagOfWords().embed_sentences(COLLECTION)
    plain = draw_map(vectors, COLLECTION, None, tmp_path / "plain.png", annotate=2)
    assert plain.is_file()
    # More labels than the legend holds: the rarest are drawn as "other".
    many = [f"label{i}" for i in range(20)]
    texts = [f"text {i}" for i in range(20)]
    rng = np.random.default_rng(0)
    assert draw_map(rng.normal(size=(20, 4)), texts, many, tmp_path / "many.png").is_file()
    with pytest.raises(ValueError, match="labels"):
        draw_map(vectors, COLLECTION, LABELS[:2], tmp_path / "bad.png")


def test_main_searches_and_maps_with_the_run_encoder(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    loaded: list[Path] = []

    def load_encoder(path):
        loaded.append(Path(path))
        return SynonymBagOfWords()

    # research.embed is the lead's module; a stand-in proves it is imported only inside main.
    fake = types.ModuleType("research.embed")
    fake.load_encoder = load_encoder
    monkeypatch.setitem(sys.modules, "research.embed", fake)
    rows = "".join(f"{t}\t{lab}\n" for t, lab in zip(COLLECTION, LABELS, strict=True))
    collection = write(tmp_path / "titles.tsv", "text\ttopic\n" + rows)
    map_path = tmp_path / "map.png"
    code = main([str(run_dir), "--file", str(collection), "--label-column", "topic",
                 "--query", "purchase an automobile", "--query", "learn python", "--top", "2",
                 "--map", str(map_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and loaded == [run_dir]
    assert "query: purchase an automobile" in out
    first_hit = out.split("query: purchase an automobile")[1].splitlines()[2]
    assert "[cars] how to buy a car" in first_hit
    assert map_path.is_file() and "map of 5 texts written" in out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_file", "does not exist; pass --file"),
        ("empty_file", "empty collection"),
        ("missing_column", "no text column 'title'"),
        ("missing_run", "run directory"),
        ("nothing_to_do", "nothing to do"),
        ("map_type", "unknown map type '.svg'; end the name in .png"),
        ("projection_png", "--projection applies to HTML maps"),
        ("projection_no_map", "--projection needs --map FILE.html"),
    ],
)
def test_main_errors_are_one_line_with_exit_status_2(tmp_path, capsys, setup, message):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    collection = write(tmp_path / "c.tsv", "text\nhello\n")
    args = [str(run_dir), "--file", str(collection), "--query", "hi"]
    if setup == "missing_file":
        args[2] = str(tmp_path / "nope.txt")
    elif setup == "empty_file":
        args[2] = str(write(tmp_path / "empty.txt", "\n"))
    elif setup == "missing_column":
        args += ["--column", "title"]
    elif setup == "missing_run":
        args[0] = str(tmp_path / "no-run")
    elif setup == "nothing_to_do":
        args = args[:3]
    elif setup == "map_type":
        args += ["--map", str(tmp_path / "map.svg")]
    elif setup == "projection_png":
        args += ["--map", str(tmp_path / "map.png"), "--projection", "tsne"]
    elif setup == "projection_no_map":
        args += ["--projection", "pca"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_module_imports_without_the_encoder_loader_jax_or_matplotlib():
    # research.embed (and JAX) load only inside main; matplotlib and plotly only when a map
    # is drawn.
    code = (
        "import sys, research.search; "
        "print(sorted(m for m in ('research.embed', 'jax', 'matplotlib', 'datasets', 'plotly') "
        "if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert done.stdout.strip() == "[]"
