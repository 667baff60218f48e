"""An interactive embedding map: one self-contained HTML page of a collection's sentence vectors.

    python -m research.search RUN --file texts.tsv --label-column topic --map map.html \\
        --query "cheap flights" --query "learn python"

The page needs no network when opened: plotly.js is inlined (about 4.8 MB), the points are a
WebGL scatter (`scattergl`, so 100,000 points pan and zoom smoothly), hovering a point shows its
text, a legend entry per label toggles it, and the search box highlights nearest neighbours:
those of a `--query` embedded ahead of time (pick it from the box's list), or of a point you
click or whose text contains what you typed. Neighbours are computed here, not in the page:
the `neighbours` nearest texts of every text by cosine over the full vectors, so the page holds
n × k indices rather than n × dim floats, and highlights are exact, not judged in 2-D.

Projections: `pca` (default; the top two principal components of the unit vectors, fast at any
size) or `tsne` (scikit-learn's t-SNE, `pip install 'research[map]'`: keeps local
neighbourhoods, so clusters separate better, but takes minutes at 100,000 points and its
distances between clusters mean little).
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from research.errors import UserError

PROJECTIONS = ("pca", "tsne")
MAX_LEGEND_LABELS = 12  # as the PNG map: beyond this many labels the rest are grey "other"
HOVER_CHARS = 300  # longer texts are cut in the hover box (and the page) to keep it readable
# Qualitative colours (plotly's D3/Tab10 then light variants) for up to MAX_LEGEND_LABELS labels.
COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78",
]  # fmt: skip
OTHER_COLOUR = "#c8c8c8"


# ----------------------------------------------------------------------------- numbers


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """(n × 2 float32 coordinates, axis description) of the unit vectors."""
    if method not in PROJECTIONS:
        raise UserError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    points = unit(vectors).astype(np.float64)
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise UserError(
                "--projection tsne needs scikit-learn: pip install 'research[map]' "
                "(or use the default --projection pca)"
            ) from None
        if len(points) < 3:
            raise UserError("--projection tsne needs at least 3 texts; use --projection pca")
        perplexity = float(min(30.0, (len(points) - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        return tsne.fit_transform(points).astype(np.float32), "t-SNE of sentence vectors"
    # PCA from the d × d covariance: n·d² work, cheaper than an SVD of the n × d matrix.
    centred = points - points.mean(axis=0, keepdims=True)
    values, vecs = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(values)[::-1][:2]
    coords = centred @ vecs[:, order]
    if coords.shape[1] < 2:  # 1-D vectors
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    total = values.sum()
    explained = values[order] / total if total > 0 else np.zeros(len(order))
    explained = np.pad(explained, (0, 2 - len(explained)))
    axes = f"PCA of sentence vectors: PC1 {explained[0]:.0%}, PC2 {explained[1]:.0%} of variance"
    return coords.astype(np.float32), axes


def nearest_neighbours(
    vectors: np.ndarray, k: int, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(indices n × k int32, cosines n × k float32) of each row's k nearest other rows, best
    first (equal cosines in index order); k is capped at n - 1. Exact: every pair is scored.

    `lax.top_k` under jit, one fixed-shape chunk of rows at a time (the last one padded, so one
    compile): the selection runs in the same program as the chunk's scores, so only k columns
    per row leave the device, never the chunk × n score matrix. This search is most of the
    map's build time (`benchmarks/embedding_map.py`; BENCHMARKS.md, "Interactive embedding
    map")."""
    import jax
    import jax.numpy as jnp

    points = unit(vectors)
    n = len(points)
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), np.int32), np.zeros((n, 0), np.float32)
    chunk = min(chunk, n)
    everything = jnp.asarray(points)

    @jax.jit  # `everything` is an argument: a closed-over array would be baked into the program
    def top(
        block: jax.Array, everything: jax.Array, start: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        scores = block @ everything.T
        rows = jnp.arange(chunk)
        # A text is not its own neighbour; padded rows point past the end and are dropped.
        scores = scores.at[rows, start + rows].set(-jnp.inf, mode="drop")
        return jax.lax.top_k(scores, k)

    padded = np.zeros((-(-n // chunk) * chunk, points.shape[1]), np.float32)
    padded[:n] = points
    values, indices = [], []
    for start in range(0, n, chunk):
        v, i = top(jnp.asarray(padded[start : start + chunk]), everything, jnp.int32(start))
        values.append(v)
        indices.append(i)
    scores = np.concatenate([np.asarray(v) for v in values])[:n]
    return np.concatenate([np.asarray(i) for i in indices])[:n].astype(np.int32), scores


# ----------------------------------------------------------------------------- page


def label_groups(labels: Sequence[str] | None, n: int) -> list[tuple[str, str, np.ndarray]]:
    """(legend name, colour, member indices) per trace: the MAX_LEGEND_LABELS most frequent
    labels, then one grey trace for the rest."""
    if labels is None:
        return [("texts", COLOURS[0], np.arange(n))]
    counts = Counter(labels)
    shown = [lab for lab, _ in counts.most_common(MAX_LEGEND_LABELS)]
    array = np.asarray(labels, dtype=object)
    groups = [
        (lab or "(no label)", COLOURS[k], np.flatnonzero(array == lab))
        for k, lab in enumerate(shown)
    ]
    rest = np.flatnonzero(~np.isin(array, shown))
    if len(rest):
        groups.append((f"other ({len(counts) - len(shown)} labels)", OTHER_COLOUR, rest))
    return groups


def hover_text(text: str, width: int = 60) -> str:
    """Escaped (plotly renders a subset of HTML in hover boxes), cut to HOVER_CHARS characters
    and wrapped at `width` with <br>."""
    if len(text) > HOVER_CHARS:
        text = text[: HOVER_CHARS - 1].rstrip() + "…"
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join(html.escape(part, quote=False) for part in lines + [line])


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def write_html_map(
    vectors: np.ndarray,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    out_path: str | Path,
    *,
    queries: Sequence[str] = (),
    query_vectors: np.ndarray | None = None,
    neighbours: int = 10,
    projection: str = "pca",
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Write the interactive map of `texts` (rows of `vectors`) to `out_path`; see the module
    docstring. `queries` (with their `query_vectors`) are the searches embedded ahead of time.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    vectors = np.asarray(vectors, np.float32)
    n = len(texts)
    if len(vectors) != n:
        raise ValueError(f"{len(vectors)} vectors for {n} texts")
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} texts")
    if len(queries) and (query_vectors is None or len(query_vectors) != len(queries)):
        raise ValueError("one query vector per query")
    coords, axes = project(vectors, projection, seed)
    nn, nn_scores = nearest_neighbours(vectors, neighbours)
    hits = []
    if len(queries):
        scores = unit(query_vectors) @ unit(vectors).T
        top = np.argsort(-scores, axis=1, kind="stable")[:, : max(neighbours, 1)]
        for q, (query, row) in enumerate(zip(queries, top, strict=True)):
            hits.append(
                {"text": query, "hits": [[int(i), round(float(scores[q, i]), 4)] for i in row]}
            )

    hover = [hover_text(t) for t in texts]
    groups = label_groups(labels, n)
    fig = go.Figure()
    size = 6 if n <= 2_000 else 3
    for name, colour, members in groups:
        fig.add_trace(
            go.Scattergl(
                x=coords[members, 0],
                y=coords[members, 1],
                text=[hover[i] for i in members],
                mode="markers",
                name=html.escape(f"{name} ({len(members):,})", quote=False),  # HTML in legends
                marker={"size": size, "color": colour, "opacity": 0.75},
                hovertemplate="%{text}<extra></extra>",
            )
        )
    # Two highlight layers the page's script fills: the neighbours, then the chosen point.
    fig.add_trace(go.Scattergl(
        x=[], y=[], text=[], mode="markers", name="neighbours", showlegend=False,
        marker={"size": 12, "color": "rgba(0,0,0,0)", "line": {"color": "#d62728", "width": 2}},
        hovertemplate="%{text}<extra>neighbour</extra>",
    ))  # fmt: skip
    fig.add_trace(go.Scattergl(
        x=[], y=[], text=[], mode="markers", name="selected", showlegend=False,
        marker={"size": 16, "color": "#000000", "symbol": "star"},
        hovertemplate="%{text}<extra>selected</extra>",
    ))  # fmt: skip
    fig.update_layout(
        title={"text": html.escape(title or f"{n:,} texts"), "font": {"size": 14}},
        xaxis={"title": {"text": axes}, "zeroline": False},
        yaxis={"zeroline": False, "scaleanchor": "x" if projection == "pca" else None},
        dragmode="pan",
        hovermode="closest",
        legend={"itemsizing": "constant"},
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        template="plotly_white",
    )
    data = {
        "n": n,
        "k": int(nn.shape[1]),
        "members": [_b64(members.astype(np.int32)) for _, _, members in groups],
        "neighbours": _b64(nn),
        # Cosines as int16 ten-thousandths: half the bytes of float32, 4 decimals shown.
        "scores": _b64(np.round(nn_scores * 10_000).astype(np.int16)),
        "queries": hits,
    }
    # "<" escaped so no text can close the script element early.
    data_json = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    plot = pio.to_html(
        fig,
        include_plotlyjs=True,
        full_html=False,
        div_id="map",
        config={"scrollZoom": True, "displaylogo": False, "responsive": True},
        post_script=PAGE_SCRIPT,
        default_height="100%",
    )
    page = PAGE.format(
        title=html.escape(title or f"embedding map of {n:,} texts"),
        data=data_json,
        plot=plot,
        queries="".join(f'<option value="{html.escape(q["text"])}">' for q in hits),
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  html, body {{ height: 100%; margin: 0; font: 13px system-ui, sans-serif; }}
  #page {{ display: flex; height: 100%; }}
  #side {{ width: 320px; padding: 10px; overflow-y: auto; border-right: 1px solid #ddd; }}
  #plot {{ flex: 1; min-width: 0; }}
  #search {{ width: 100%; box-sizing: border-box; padding: 5px; font-size: 13px; }}
  #status {{ color: #555; margin: 6px 0; }}
  #results ol {{ padding-left: 22px; }}
  #results li {{ margin: 4px 0; cursor: pointer; }}
  #results li:hover {{ background: #f2f2f2; }}
  .score {{ color: #888; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<div id="page">
  <div id="side">
    <input id="search" list="queries" placeholder="search: a query, or words of a text">
    <datalist id="queries">{queries}</datalist>
    <div id="status"></div>
    <div id="results"></div>
  </div>
  <!-- Before the plot: the plot's script reads it once the plot is drawn. -->
  <script type="application/json" id="map-data">{data}</script>
  <div id="plot">{plot}</div>
</div>
</body>
</html>
"""

# The search box and click handling. Runs after Plotly.newPlot; `gd` is the plot's div.
PAGE_SCRIPT = """
var gd = document.getElementById('{plot_id}');
var data = JSON.parse(document.getElementById('map-data').textContent);
function decode(b64, Type) {
  var bytes = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  return new Type(bytes.buffer);
}
var neighbours = decode(data.neighbours, Int32Array);
var scores = decode(data.scores, Int16Array);
var groups = data.members.map(function (m) { return decode(m, Int32Array); });
var where = new Int32Array(data.n * 2);  // text index -> (trace, position in trace)
groups.forEach(function (members, t) {
  members.forEach(function (i, j) { where[2 * i] = t; where[2 * i + 1] = j; });
});
var hl = groups.length, sel = groups.length + 1;  // the two highlight traces
// Plotly keeps the decoded coordinates in _fullData (gd.data holds the base64 specs).
function point(i) {
  var t = where[2 * i], j = where[2 * i + 1], trace = gd._fullData[t];
  return {x: trace.x[j], y: trace.y[j], text: trace.text[j]};
}
function plain(hoverText) {  // the hover text back to the text (it is escaped, <br>-wrapped)
  return hoverText.split('<br>').join(' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
var lowered = null;  // per trace, the texts in lower case; built on the first text search
var drawn = 0;
for (var t = 0; t < groups.length; t++) { drawn += gd._fullData[t]._length; }
var status = document.getElementById('status');
var results = document.getElementById('results');
gd.setAttribute('data-points', drawn);
status.textContent = drawn.toLocaleString() + ' texts. Click a point, or search.';
var highlighted = [];  // text indices of the neighbour layer's points, for clicks on it
function show(title, centre, hits) {
  var n = hits.length, xs = [], ys = [], ts = [];
  highlighted = hits.map(function (h) { return h[0]; });
  hits.forEach(function (h) { var p = point(h[0]); xs.push(p.x); ys.push(p.y); ts.push(p.text); });
  Plotly.restyle(gd, {x: [xs], y: [ys], text: [ts]}, [hl]);
  var c = centre === null ? {x: [], y: [], text: []} : point(centre);
  Plotly.restyle(gd, centre === null ? {x: [[]], y: [[]], text: [[]]}
                                     : {x: [[c.x]], y: [[c.y]], text: [[c.text]]}, [sel]);
  results.innerHTML = '';
  var head = document.createElement('div');
  head.textContent = title;
  var list = document.createElement('ol');
  hits.forEach(function (h) {
    var li = document.createElement('li');
    var s = document.createElement('span');
    s.className = 'score';
    s.textContent = h[1].toFixed(3) + ' ';
    li.appendChild(s);
    li.appendChild(document.createTextNode(plain(point(h[0]).text)));
    li.onclick = function () { select(h[0]); };
    list.appendChild(li);
  });
  results.appendChild(head);
  results.appendChild(list);
  gd.setAttribute('data-highlighted', n);
}
function select(i) {
  var hits = [];
  for (var r = 0; r < data.k; r++) {
    hits.push([neighbours[i * data.k + r], scores[i * data.k + r] / 10000]);
  }
  show('Nearest neighbours (cosine) of: ' + plain(point(i).text), i, hits);
}
gd.on('plotly_click', function (ev) {
  var p = ev.points[0];
  if (p.curveNumber < groups.length) { select(groups[p.curveNumber][p.pointNumber]); }
  else if (p.curveNumber === hl) { select(highlighted[p.pointNumber]); }
});
function search(q) {
  q = q.trim();
  if (!q) { return; }
  var low = q.toLowerCase();
  for (var k = 0; k < data.queries.length; k++) {
    if (data.queries[k].text.toLowerCase() === low) {
      show('Nearest texts (cosine) to the query: ' + data.queries[k].text, null,
           data.queries[k].hits);
      return;
    }
  }
  if (lowered === null) {
    lowered = groups.map(function (_, t) {
      return gd.data[t].text.map(function (s) { return plain(s).toLowerCase(); });
    });
  }
  for (var t = 0; t < groups.length; t++) {
    for (var j = 0; j < lowered[t].length; j++) {
      if (lowered[t][j].indexOf(low) >= 0) { select(groups[t][j]); return; }
    }
  }
  results.innerHTML = '';
  status.textContent = 'No query or text matches "' + q + '". Queries embedded ahead of time: ' +
    (data.queries.map(function (x) { return x.text; }).join('; ') || 'none (--query)') + '.';
}
document.getElementById('search').addEventListener('change', function (ev) {
  search(ev.target.value);
});
window.mapSearch = search;  // for scripted use and tests
window.mapSelect = select;
"""
