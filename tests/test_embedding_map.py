"""The interactive HTML embedding map: neighbours, projection, and the page in headless Chromium."""

from __future__ import annotations

import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from research.embedding_map import label_groups, nearest_neighbours, project, write_html_map
from research.errors import UserError
from research.search import main
from tests.headless_chrome import ChromeUnavailable, Page, ensure_chromium
from tests.test_search import COLLECTION, LABELS, SynonymBagOfWords, write


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed here when missing (as root); a failure, not a skip, when it
    cannot be had: the map's test must run in CI."""
    try:
        return ensure_chromium()
    except ChromeUnavailable as err:
        pytest.fail(f"headless Chromium is needed for the HTML map test: {err}")


def test_nearest_neighbours_are_exact_and_exclude_the_text_itself():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors[7] = vectors[3]  # a duplicate: cosine 1 with 3, and ties everywhere else
    indices, scores = nearest_neighbours(vectors, 5, chunk=64)  # several chunks
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    expected = np.argsort(-cos, axis=1, kind="stable")[:, :5]  # ties: lower index first
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(cos, expected, 1), rtol=1e-5)
    assert indices[3, 0] == 7 and scores[3, 0] == pytest.approx(1.0)
    assert nearest_neighbours(vectors[:3], 10)[0].shape == (3, 2)  # k capped at n - 1
    assert nearest_neighbours(vectors[:1], 10)[0].shape == (1, 0)


def test_pca_projection_finds_the_spread_direction_and_tsne_runs():
    rng = np.random.default_rng(1)
    # Two clusters apart along dimension 0: PC1 separates them.
    vectors = rng.normal(scale=0.05, size=(40, 8)) + np.eye(8)[1]
    vectors[:20, 0] += 1.0
    coords, axes = project(vectors)
    assert coords.shape == (40, 2) and axes.startswith("PCA of sentence vectors: PC1 ")
    assert (np.sign(coords[:20, 0]) != np.sign(coords[20:, 0][:, None])).all()
    tsne, tsne_axes = project(vectors, "tsne")
    assert tsne.shape == (40, 2) and np.isfinite(tsne).all() and "t-SNE" in tsne_axes
    with pytest.raises(UserError, match="unknown projection 'umap'"):
        project(vectors, "umap")


def test_label_groups_keep_the_most_frequent_labels_and_grey_the_rest():
    labels = [f"l{i % 15}" for i in range(100)] + [""] * 20
    groups = label_groups(labels, len(labels))
    assert len(groups) == 13 and groups[0][0] == "(no label)"
    assert groups[-1][0] == "other (4 labels)" and len(groups[-1][2]) == 4 * 6
    assert sum(len(members) for *_, members in groups) == len(labels)
    assert label_groups(None, 3)[0][0] == "texts"


def test_html_map_in_headless_chromium(tmp_path, monkeypatch, capsys, chromium):
    """The command writes a page that loads with no console error, draws every text, highlights
    a query's neighbours from the search box and a clicked point's, and screenshots."""
    fake = types.ModuleType("research.embed")
    fake.load_encoder = lambda path: SynonymBagOfWords()
    monkeypatch.setitem(sys.modules, "research.embed", fake)
    # A text that would end the page's script early, and markup that must show as text.
    texts = [*COLLECTION, "</script><script>throw 1</script> <b>buy</b> car & co"]
    labels = [*LABELS, "cars"]
    rows = "".join(f"{t}\t{lab}\n" for t, lab in zip(texts, labels, strict=True))
    collection = write(tmp_path / "titles.tsv", "text\ttopic\n" + rows)
    out = tmp_path / "maps" / "map.html"
    args = ["--label-column", "topic", "--query", "purchase an automobile", "--neighbours", "3"]
    code = main([str(tmp_path), "--file", str(collection), *args, "--map", str(out)])
    assert code == 0 and f"map of 6 texts written to {out}" in capsys.readouterr().out

    with Page(binary=chromium) as page:
        page.open(out.as_uri())
        drawn = page.wait_for("document.getElementById('map').getAttribute('data-points')")
        assert page.errors == []
        # Self-contained: the page asks for nothing beyond itself (data: URLs are inline).
        assert {u for u in page.requests if not u.startswith("data:")} == {out.as_uri()}
        assert int(drawn) == 6
        # Independently of the page's own count: the points plotly holds per trace.
        traces = page.evaluate(
            "document.getElementById('map')._fullData.map(t => [t.name, t._length, t.type])"
        )
        names = ["code (2)", "cars (2)", "food (1)", "travel (1)"]  # most frequent first
        assert [t[:2] for t in traces[:-2]] == [[name, int(name[-2])] for name in names]
        assert {t[2] for t in traces} == {"scattergl"}  # WebGL
        # The search box: a query embedded ahead of time highlights its 3 nearest texts.
        page.evaluate(
            "var s = document.getElementById('search'); s.value = 'purchase an automobile';"
            "s.dispatchEvent(new Event('change'))"
        )
        listed = page.evaluate("document.getElementById('results').innerText")
        assert page.evaluate("document.getElementById('map').getAttribute('data-highlighted')")
        assert listed.splitlines()[1:2] == ["1.000 how to buy a car"], listed
        assert len(listed.strip().splitlines()) == 4  # heading + 3 hits
        # Words of a text select it and show its neighbours (the <b> shows as text).
        page.evaluate("mapSearch('<b>buy</b>')")
        listed = page.evaluate("document.getElementById('results').innerText")
        assert "of: </script><script>throw 1</script> <b>buy</b> car & co" in listed
        assert "how to buy a car" in listed.splitlines()[1]
        assert page.evaluate("document.getElementById('map')._fullData.at(-1)._length") == 1
        # A click (plotly's event, as the plot emits it): on a point, then on a highlighted one.
        click = "document.getElementById('map').emit('plotly_click', {points: [%s]})"
        page.evaluate(click % "{curveNumber: 2, pointNumber: 0}")  # food: the only point
        listed = page.evaluate("document.getElementById('results').innerText")
        assert listed.startswith("Nearest neighbours (cosine) of: best pizza in town"), listed
        first = listed.splitlines()[1].split(" ", 1)[1]
        page.evaluate(click % "{curveNumber: 4, pointNumber: 0}")  # the neighbour layer
        listed = page.evaluate("document.getElementById('results').innerText")
        assert listed.startswith(f"Nearest neighbours (cosine) of: {first}"), listed
        shot = page.screenshot(tmp_path / "map.png")
        assert page.errors == []
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24])[0] == 1200  # the window's width


def test_write_html_map_checks_its_inputs(tmp_path):
    vectors = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="2 vectors for 3 texts"):
        write_html_map(vectors[:2], ["a", "b", "c"], None, tmp_path / "m.html")
    with pytest.raises(ValueError, match="one query vector per query"):
        write_html_map(vectors, ["a", "b", "c"], None, tmp_path / "m.html", queries=["q"])
    path = write_html_map(vectors, ["a", "b", "c"], None, Path(tmp_path / "sub" / "m.html"))
    assert path.is_file() and path.stat().st_size > 1_000_000  # plotly.js inlined
