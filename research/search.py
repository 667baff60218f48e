"""Semantic search over a collection of texts, and a 2-D map of it, with a trained run.

    python -m research.search RUN_DIR --file titles.txt --query "cheap flights to rome" --top 5
    python -m research.search RUN_DIR --file papers.tsv --column title --label-column topic \\
        --map map.png
    python -m research.search RUN_DIR --file papers.tsv --column title --label-column topic \\
        --map map.html --query "graph neural networks"

The collection is one text per line for .txt (and any other extension), a table with a header
line for .tsv (split on tabs only) and .csv (CSV quoting), or one JSON object per line for
.jsonl; --column names the text column or key (default ``text``, or the only column), and
--label-column an optional label that colours the map. Each --query prints the --top most
cosine-similar texts with their scores; --map draws the collection's sentence vectors in a 2-D
PCA, coloured by label (with a legend): FILE.png a static picture, a sample of points annotated
with their text; FILE.html an interactive page (research/embedding_map.py: hover, zoom, a search
box highlighting the --neighbours nearest texts of a --query or a clicked point, WebGL for
100,000 points, --projection pca or tsne).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from research.cli import positive_int
from research.errors import UserError
from research.eval.encoder_api import TextEncoder, cosine_matrix, embed_sentences
from research.eval.vectors import unit_rows
from research.textfile import read_utf8

DEFAULT_COLUMN = "text"
MAX_LEGEND_LABELS = 12  # more distinct labels than this: the rest are drawn as "other"


# ----------------------------------------------------------------------------- reading


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"collection file {path} does not exist; pass --file with texts to search")
    return read_utf8(path)


def _pick_column(path: Path, header: Sequence[str], column: str | None, role: str) -> str:
    if column is not None:
        if column not in header:
            raise UserError(f"{path}: no {role} column {column!r}; columns: {', '.join(header)}")
        return column
    if DEFAULT_COLUMN in header:
        return DEFAULT_COLUMN
    if len(header) == 1:
        return header[0]
    raise UserError(
        f"{path}: which column holds the text? pass --column, one of: {', '.join(header)}"
    )


def _table_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, cells)]) of a .tsv (tabs only) or .csv (CSV quoting) file."""
    if path.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            records = [(reader.line_num, row) for row in reader]
        except csv.Error as err:
            raise UserError(
                f"{path}:{reader.line_num + 1}: not valid CSV ({err}); check the quoting, or save "
                f"the collection as .tsv"
            ) from None
    else:
        records = [(n, line.rstrip("\r").split("\t")) for n, line in enumerate(text.split("\n"), 1)]
    records = [(n, cells) for n, cells in records if any(c.strip() for c in cells)]
    if not records:
        return [], []
    header = [c.strip() for c in records[0][1]]
    for n, cells in records[1:]:
        if len(cells) != len(header):
            raise UserError(
                f"{path}:{n}: {len(cells)} cells, the header has {len(header)}; "
                f"one row per line with the header's columns"
            )
    return header, records[1:]


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{n}: not a JSON object ({err.msg})") from None
        except (ValueError, RecursionError) as err:  # nested too deeply, a 5000-digit number
            raise UserError(f"{path}:{n}: not a JSON object this reader accepts ({err})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{n}: expected a JSON object per line, got {obj!r:.40}")
        rows.append((n, obj))
    return rows


def read_collection(
    path: str | Path, column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str] | None]:
    """(texts, labels or None) from a .txt / .tsv / .csv / .jsonl file; empty texts skipped."""
    texts, labels, _ = read_collection_counted(path, column, label_column)
    return texts, labels


def read_collection_counted(
    path: str | Path, column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str] | None, int]:
    """`read_collection` plus the number of rows skipped because their text is empty or null
    (blank lines between rows are not rows)."""
    path = Path(path).expanduser()
    content = _read_text(path)
    suffix = path.suffix.lower()
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    if suffix in (".tsv", ".csv"):
        header, records = _table_rows(path, content)
        if not header:
            raise UserError(f"{path}: empty collection; it needs a header line and rows")
        col = header.index(_pick_column(path, header, column, "text"))
        lab = None
        if label_column is not None:
            lab = header.index(_pick_column(path, header, label_column, "label"))
        for _, cells in records:
            if cells[col].strip():
                texts.append(cells[col].strip())
                labels.append(cells[lab].strip() if lab is not None else "")
            else:
                skipped += 1
    elif suffix == ".jsonl":
        key = column or DEFAULT_COLUMN
        for n, obj in _jsonl_rows(path, content):
            for k in (key, label_column):
                if k is not None and k not in obj:
                    raise UserError(
                        f"{path}:{n}: no key {k!r}; keys: {', '.join(map(str, obj))} "
                        f"(choose the text with --column, the label with --label-column)"
                    )
            value = _json_text(obj[key], path, n, key)
            if value:
                texts.append(value)
                labels.append(
                    _json_text(obj[label_column], path, n, label_column) if label_column else ""
                )
            else:
                skipped += 1
    else:
        if column is not None or label_column is not None:
            raise UserError(
                f"{path}: --column and --label-column need a .tsv, .csv or .jsonl file; "
                f"other files are read as one text per line"
            )
        texts = [line.strip() for line in content.split("\n") if line.strip()]
    if not texts:
        raise UserError(f"{path}: empty collection; it has no texts to search")
    return texts, (labels if label_column is not None else None), skipped


def _json_text(value: object, path: Path, line_no: int, key: str) -> str:
    """A JSONL value as text: strings and numbers as written, null as empty; else an error."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise UserError(
            f"{path}:{line_no}: {key!r} holds a JSON {type(value).__name__}, not text; "
            f"point --column / --label-column at a string"
        )
    return str(value).strip()


# ----------------------------------------------------------------------------- search


def search(
    model: TextEncoder, texts: Sequence[str], queries: Sequence[str], top: int = 5
) -> list[list[tuple[int, float]]]:
    """For each query, the `top` (text index, cosine) pairs, best first (ties: lower index)."""
    if not queries:
        return []
    vectors = embed_sentences(model, list(texts))
    return search_vectors(vectors, embed_sentences(model, list(queries)), top)


def search_vectors(
    vectors: np.ndarray, query_vectors: np.ndarray, top: int = 5
) -> list[list[tuple[int, float]]]:
    """`search` on precomputed vectors."""
    scores = cosine_matrix(query_vectors, vectors)
    top = min(top, scores.shape[1])
    results = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:top]
        results.append([(int(i), float(row[i])) for i in order])
    return results


def format_hits(
    query: str,
    hits: Sequence[tuple[int, float]],
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
) -> str:
    lines = [f"query: {query}", f"{'rank':>4}  {'cosine':>6}  text"]
    for rank, (i, score) in enumerate(hits, start=1):
        label = f"[{labels[i]}] " if labels is not None and labels[i] else ""
        lines.append(f"{rank:>4}  {score:6.3f}  {label}{texts[i]}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- map


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def draw_map(
    model_or_vectors: TextEncoder | np.ndarray,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    out_path: str | Path,
    annotate: int = 15,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """A 2-D PCA map of the texts' sentence vectors, coloured by label, `annotate` texts shown.

    Labels beyond the MAX_LEGEND_LABELS most frequent are drawn grey as "other". Parent
    directories of `out_path` are created.
    """
    # Imported here so that searching alone never loads matplotlib.
    import matplotlib.pyplot as plt

    from research.eval.plots import pca_2d  # selects the file-only Agg backend

    if isinstance(model_or_vectors, np.ndarray):
        vectors = model_or_vectors
    else:
        vectors = embed_sentences(model_or_vectors, list(texts))
    if len(vectors) != len(texts):
        raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"{len(labels)} labels for {len(texts)} texts")
    coords, explained = pca_2d(unit_rows(np.asarray(vectors, np.float32)).astype(np.float64))

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 7))
    size = 24 if len(texts) <= 500 else 8
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, color="tab:blue", alpha=0.8)
    else:
        counts = Counter(labels)
        shown = [lab for lab, _ in counts.most_common(MAX_LEGEND_LABELS)]
        cmap = plt.get_cmap("tab10" if len(shown) <= 10 else "tab20")
        groups = [(lab, cmap(k % cmap.N)) for k, lab in enumerate(shown)]
        if len(counts) > len(shown):
            groups.append((None, "lightgrey"))
        for lab, colour in groups:
            rows = [i for i, x in enumerate(labels) if (x == lab if lab else x not in shown)]
            name = lab if lab is not None else f"other ({len(counts) - len(shown)} labels)"
            name = name or "(no label)"
            ax.scatter(coords[rows, 0], coords[rows, 1], s=size, color=colour, alpha=0.8,
                       label=f"{name} ({len(rows)})")  # fmt: skip
        ax.legend(fontsize=8, loc="best", markerscale=1.5)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(texts), size=min(annotate, len(texts)), replace=False)
    for i in sample:
        ax.annotate(_shorten(texts[i]), coords[i], xytext=(4, 3), textcoords="offset points",
                    fontsize=7, alpha=0.9)  # fmt: skip
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    ax.set_title(title or f"{len(texts)} texts (PCA of sentence vectors)", fontsize=10)
    ax.margins(0.08)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m research.search",
        description="Semantic search over a file of texts, and a 2-D map of it, with a run.",
    )
    parser.add_argument("run_dir", help="the trained run's --workdir")
    parser.add_argument(
        "--file", required=True,
        help="texts: .txt one per line; .tsv/.csv with a header; .jsonl objects",
    )  # fmt: skip
    parser.add_argument("--column", default=None, help="text column or key (default: text)")
    parser.add_argument("--label-column", default=None, help="column colouring the map")
    parser.add_argument(
        "--query", action="append", default=[], help="a search query (repeat for several)"
    )
    parser.add_argument("--top", type=positive_int, default=5, help="hits shown per query")
    parser.add_argument(
        "--map", default=None,
        help="write a 2-D map of the collection: FILE.png (static) or FILE.html (interactive)",
    )  # fmt: skip
    parser.add_argument(
        "--annotate", type=int, default=15, help="texts written next to their point on the map"
    )
    parser.add_argument(
        "--projection", choices=("pca", "tsne"), default=None,
        help="HTML map: pca (default) or tsne (needs scikit-learn: pip install 'research[map]')",
    )  # fmt: skip
    parser.add_argument(
        "--neighbours", type=positive_int, default=10,
        help="HTML map: nearest texts highlighted per query or clicked point (default 10)",
    )  # fmt: skip
    return parser


MAP_KINDS = (".png", ".html")


def _check_map_args(args: argparse.Namespace) -> None:
    """Refuse a map file type we cannot write, and HTML-only options with a PNG map, before the
    encoder is loaded."""
    if args.map is None:
        if args.projection is not None:
            raise UserError("--projection needs --map FILE.html")
        return
    suffix = Path(args.map).suffix.lower()
    if suffix not in MAP_KINDS:
        raise UserError(
            f"--map {args.map}: unknown map type {suffix or '(no extension)'!r}; "
            f"end the name in .png (static picture) or .html (interactive page)"
        )
    if suffix == ".png" and args.projection is not None:
        raise UserError("--projection applies to HTML maps; use --map FILE.html")
    if args.projection == "tsne" and importlib.util.find_spec("sklearn") is None:
        raise UserError(
            "--projection tsne needs scikit-learn: pip install 'research[map]' (or use pca)"
        )


def load_run_encoder(run_dir: str | Path) -> TextEncoder:
    """The run's encoder via research.embed.load_encoder; a UserError if there is no run."""
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise UserError(
            f"run directory {run_dir} does not exist; pass the --workdir of a trained run"
        )
    from research.embed import load_encoder  # imported late: loads JAX and the model code

    return load_encoder(run_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.query and args.map is None:
            raise UserError(
                "nothing to do: pass --query TEXT (repeatable) and/or --map FILE.png|FILE.html"
            )
        _check_map_args(args)
        texts, labels, skipped = read_collection_counted(args.file, args.column, args.label_column)
        model = load_run_encoder(args.run_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if skipped:
        note = f"note: {skipped} row(s) of {args.file} have no text and were skipped"
        print(note, file=sys.stderr)
    vectors = embed_sentences(model, texts)
    query_vectors = embed_sentences(model, args.query) if args.query else None
    if args.query:
        hits = search_vectors(vectors, query_vectors, args.top)
        blocks = [format_hits(q, h, texts, labels) for q, h in zip(args.query, hits, strict=True)]
        print("\n\n".join(blocks))
    if args.map is not None:
        if Path(args.map).suffix.lower() == ".html":
            from research.embedding_map import write_html_map  # loads plotly only here

            try:
                path = write_html_map(
                    vectors, texts, labels, args.map,
                    queries=args.query, query_vectors=query_vectors,
                    neighbours=args.neighbours, projection=args.projection or "pca",
                    title=f"{len(texts):,} texts of {Path(args.file).name}, "
                    f"run {Path(args.run_dir).expanduser().resolve().name}",
                )  # fmt: skip
            except UserError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
        else:
            path = draw_map(vectors, texts, labels, args.map, annotate=max(args.annotate, 0))
        print(f"{'' if not args.query else chr(10)}map of {len(texts)} texts written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
