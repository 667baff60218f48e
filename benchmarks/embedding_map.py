"""The interactive embedding map at 10,000 and 100,000 points: build time, page size, load time.

    python benchmarks/embedding_map.py --sizes 10000 100000 --write

The vectors are random, not a trained run's (the page's cost depends on the number of points,
their text length and the neighbour count, not on what the vectors mean): `--dim`-dimensional
Gaussian vectors around 20 random centres, labelled by centre, each with a synthetic text of
about 60 characters; 5 queries (the centres). For each size it times `write_html_map` (PCA,
exact top-10 cosine neighbours, the page written), then opens the page in headless Chromium
(software WebGL, SwiftShader) over the DevTools pipe (tests/headless_chrome.py):
  load s     navigation start to the load event (the 4.8 MB of plotly.js and the data parsed)
  ready s    navigation start to the page's script having counted the points plotly drew
  select ms  one click-equivalent (`mapSelect`): the neighbour highlight redrawn
and checks that no console error was logged and every point was drawn. One run per size.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import machine, write_section  # noqa: E402
from research import embedding_map  # noqa: E402
from research.io.writers import git_commit  # noqa: E402
from tests.headless_chrome import Page  # noqa: E402

WORDS = (
    "river bank money loan fish boat bridge city night rain song market train road garden "
    "winter paper light stone glass"
).split()
CENTRES = 20
QUERIES = 5


def collection(n: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, dim)).astype(np.float32)
    which = rng.integers(CENTRES, size=n)
    vectors = centres[which] + rng.normal(scale=0.8, size=(n, dim)).astype(np.float32)
    words = rng.integers(len(WORDS), size=(n, 9))
    texts = [f"text {i}: " + " ".join(WORDS[w] for w in row) for i, row in enumerate(words)]
    labels = [f"centre {c}" for c in which]
    queries = [f"centre {c}" for c in range(QUERIES)]
    return vectors, texts, labels, queries, centres[:QUERIES]


def measure(n: int, dim: int, out_dir: Path) -> dict:
    vectors, texts, labels, queries, query_vectors = collection(n, dim)
    timed = {}
    exact = embedding_map.nearest_neighbours

    def neighbours(*args, **kwargs):  # the build's neighbour search, timed on its own
        start = time.perf_counter()
        out = exact(*args, **kwargs)
        timed["neighbours_s"] = time.perf_counter() - start
        return out

    embedding_map.nearest_neighbours = neighbours
    path = out_dir / f"map_{n}.html"
    start = time.perf_counter()
    embedding_map.write_html_map(
        vectors, texts, labels, path, queries=queries, query_vectors=query_vectors
    )
    build_s = time.perf_counter() - start
    embedding_map.nearest_neighbours = exact
    with Page() as page:
        start = time.perf_counter()
        load_s = page.open(path.as_uri(), timeout=300)
        drawn = page.wait_for("document.getElementById('map').getAttribute('data-points')", 300)
        ready_s = time.perf_counter() - start
        select_ms = page.evaluate(
            "(() => { const t = performance.now(); mapSelect(0); return performance.now() - t; })()"
        )
        errors = list(page.errors)
    if int(drawn) != n or errors:
        raise SystemExit(f"{n} points: drew {drawn}, console errors {errors}")
    return {
        "n": n,
        "build_s": build_s,
        "neighbours_s": timed["neighbours_s"],
        "size_mb": path.stat().st_size / 1e6,
        "load_s": load_s,
        "ready_s": ready_s,
        "select_ms": select_ms,
    }


def report(rows: list[dict], dim: int, command: str, commit: str) -> str:
    memory = _memory_gib()
    lines = [
        "### Interactive embedding map (random vectors)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}, {memory:.0f} GiB; headless Chromium with software WebGL "
        f"(SwiftShader); load average {os.getloadavg()[0]:.1f} at the end (the machine was "
        f"shared: wall times include waiting for a core)",
        f"- date: {datetime.date.today().isoformat()}; commit {commit}",
        f"- data: random {dim}-d vectors around {CENTRES} centres (label = centre), texts of "
        f"about 60 characters, {QUERIES} queries, PCA, 10 neighbours per point",
        "",
        "| points | page MB | build s | of which neighbours s | load s | ready s | select ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['size_mb']:.1f} | {r['build_s']:.1f} | {r['neighbours_s']:.1f} | "
            f"{r['load_s']:.1f} | {r['ready_s']:.1f} | {r['select_ms']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    command = "python benchmarks/embedding_map.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    commit = git_commit()  # at the start: the code this process imports and measures
    rows = []
    with tempfile.TemporaryDirectory(prefix="strata-map-bench-") as tmp:
        for n in args.sizes:
            print(f"[{time.strftime('%H:%M:%S')}] {n:,} points ...", file=sys.stderr, flush=True)
            rows.append(measure(n, args.dim, Path(tmp)))
            print(rows[-1], file=sys.stderr, flush=True)
    text = report(rows, args.dim, command, commit)
    print(text)
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "embedding_map", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
