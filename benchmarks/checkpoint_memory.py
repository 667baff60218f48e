"""Peak memory of drawing, saving and restoring two large word2vec tables (1 M x 300 by default).

    python benchmarks/checkpoint_memory.py --rows 1000000 --dim 300

Each variant runs in its own process (peak RSS = ru_maxrss, so each peak is its own):
- imports: importing jax and the word2vec trainer, nothing else;
- init: drawing one (rows, dim) float32 uniform table in one `jax.random.uniform` call (threefry
  counters for the whole table) against `research.models.word2vec.uniform_rows` (blocks of rows,
  row r keyed by fold_in(key, r)), each jitted, compile included;
- save: two tables of uniform random floats (drawn in numpy a slice at a time, so the heap holds
  no scratch of the draw, then copied by a jitted function so that they are XLA outputs like a
  trained state's; they compress about as little as trained ones) plus step and key,
  saved with `research.io.checkpoint.Checkpointer` as the project does (uncompressed) and with
  the same manager using Orbax's default zstd compression; freed heap is returned to the system
  before the save (`malloc_trim`) and the save's own peak is sampled every 20 ms;
- restore: the uncompressed checkpoint read back by `Checkpointer.restore` into
  `jax.eval_shape` of the init function (what a resumed run does), into a freshly drawn state
  (what resumed runs did before), and by Orbax as numpy arrays (no device arrays).

The table goes into BENCHMARKS.md between markers with the command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402

VARIANTS = {
    "imports": "import jax and research.train.word2vec only",
    "init-one-call": "one table, one `jax.random.uniform` call (threefry over the whole table)",
    "init-rows": "one table, `uniform_rows` (blocks of 32,768 rows, row r from fold_in(key, r))",
    "save-uncompressed": "save both tables, `Checkpointer` as the project does (no compression)",
    "save-zstd": "save both tables, the same manager with Orbax's default zstd compression",
    "restore-eval-shape": "`Checkpointer.restore` into `jax.eval_shape` of init (resumed runs now)",
    "restore-initialised": "`Checkpointer.restore` into a freshly drawn state (resumes before)",
    "restore-numpy": "Orbax restoring the tables as numpy arrays, no device arrays",
}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class _RssSampler:
    """Highest VmRSS seen while the `with` block runs, sampled every 20 ms: the peak of that
    phase alone, where ru_maxrss would also count an earlier, higher phase of the process."""

    def __enter__(self) -> _RssSampler:
        import threading

        self.peak_mb, self._stop = _rss_mb(), threading.Event()

        def sample() -> None:
            while not self._stop.wait(0.02):
                self.peak_mb = max(self.peak_mb, _rss_mb())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


def _malloc_trim() -> None:
    """Return freed heap pages to the system (glibc keeps them), so a phase starts from the
    memory it really holds."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def worker(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from research.io.checkpoint import Checkpointer
    from research.models.word2vec import uniform_rows
    from research.train import word2vec  # noqa: F401  (what a run imports)

    bound = 0.5 / args.dim
    key = jax.random.key_data(jax.random.PRNGKey(0))

    def init() -> dict:
        k_in, k_out = jax.random.split(jax.random.wrap_key_data(key))
        return {
            "params": {
                "input": uniform_rows(k_in, args.rows, args.dim, -bound, bound),
                "output": uniform_rows(k_out, args.rows, args.dim, -bound, bound),
            },
            "step": jnp.int32(0),
            "key": key,
        }

    variant, directory = args.worker, Path(args.ckpt)
    before = _rss_mb()
    result: dict = {"variant": variant, "rss_before_mb": before}
    started = time.time()
    if variant.startswith("init-"):
        k = jax.random.wrap_key_data(key)
        if variant == "init-one-call":
            draw = jax.jit(
                lambda: jax.random.uniform(k, (args.rows, args.dim), jnp.float32, -bound, bound)
            )
        else:
            draw = jax.jit(lambda: uniform_rows(k, args.rows, args.dim, -bound, bound))
        table = jax.block_until_ready(draw())
        result["peak_rss_mb"] = peak_rss_mb()  # before the check below allocates anything
        rows = np.asarray(table)
        sums = [
            (float(c.sum(dtype=np.float64)), float(np.square(c, dtype=np.float64).sum()))
            for c in np.array_split(rows, 64)
        ]
        mean = sum(s for s, _ in sums) / rows.size
        result["std"] = (sum(q for _, q in sums) / rows.size - mean**2) ** 0.5
    elif variant.startswith("save-"):
        # Drawn in numpy, a slice at a time, so that no scratch of the draw is left in the heap,
        # then copied by a jitted function: a trained state's arrays are XLA's own outputs, and
        # the save reads those without a copy (an array put from numpy is copied for the CRC).
        rng = np.random.default_rng(0)
        copy = jax.jit(lambda x: x + 0.0)

        def table() -> jax.Array:
            rows = np.empty((args.rows, args.dim), np.float32)
            for part in np.array_split(np.arange(args.rows), 64):
                rows[part[0] : part[-1] + 1] = rng.uniform(-bound, bound, (len(part), args.dim))
            return jax.block_until_ready(copy(rows))

        state = {"params": {"input": table(), "output": table()}, "step": jnp.int32(0)}
        state["key"] = key
        _malloc_trim()
        result["rss_before_mb"] = _rss_mb()
        started = time.time()
        sampler = _RssSampler().__enter__()
        checkpointer = Checkpointer(directory / variant)
        if variant == "save-zstd":
            import orbax.checkpoint as ocp

            checkpointer._manager = ocp.CheckpointManager(
                checkpointer.directory,
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=2, create=True, enable_async_checkpointing=False
                ),
                item_handlers={
                    "state": ocp.PyTreeCheckpointHandler(use_compression=True),
                    "position": ocp.JsonCheckpointHandler(),
                    "integrity": ocp.JsonCheckpointHandler(),
                },
            )
        checkpointer.save(1, state, {"epoch": 0})
        checkpointer.close()
        sampler.__exit__()
        result["phase_peak_mb"] = sampler.peak_mb
        result["on_disk_mb"] = _dir_mb(directory / variant)
    elif variant.startswith("restore-"):
        checkpointer = Checkpointer(directory / "save-uncompressed")
        if variant == "restore-numpy":
            import orbax.checkpoint as ocp

            abstract = jax.eval_shape(init)
            as_numpy = ocp.RestoreArgs(restore_type=np.ndarray)
            restore_args = jax.tree.map(lambda _: as_numpy, abstract)
            restored = checkpointer._manager.restore(
                1,
                args=ocp.args.Composite(
                    state=ocp.args.PyTreeRestore(abstract, restore_args=restore_args)
                ),
            ).state
            result["restored_type"] = type(restored["params"]["input"]).__name__
        else:
            like = jax.eval_shape(init) if variant == "restore-eval-shape" else jax.jit(init)()
            restored, _ = checkpointer.restore(1, like)
            jax.block_until_ready(restored)
        checkpointer.close()
    result["seconds"] = time.time() - started
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result["rss_after_mb"] = _rss_mb()
    return result


def table(rows: list[dict], args, command: str) -> str:
    tables_mb = 2 * args.rows * args.dim * 4 / 2**20
    lines = [
        f"### drawing, saving and restoring {args.rows:,} x {args.dim} tables (checkpoint_memory)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; jax {__import__('jax').__version__}, orbax-checkpoint "
        f"{__import__('orbax.checkpoint').checkpoint.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- two float32 tables of {args.rows:,} x {args.dim} = {tables_mb:,.0f} MB (one table "
        f"{tables_mb / 2:,.0f} MB); each variant its own process; peak RSS = ru_maxrss; "
        "seconds = wall time of the variant's work (jit compile included, imports excluded)",
        "",
        "| variant | what | RSS before MB | peak RSS MB | RSS after MB | seconds | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        detail = []
        if "std" in r:
            detail.append(f"std {r['std']:.6f}")
        if "phase_peak_mb" in r:
            detail.append(f"peak during the save {r['phase_peak_mb']:,.0f} MB (sampled)")
        if "on_disk_mb" in r:
            detail.append(f"on disk {r['on_disk_mb']:,.0f} MB")
        if "restored_type" in r:
            detail.append(f"restored as {r['restored_type']}")
        lines.append(
            f"| {r['variant']} | {VARIANTS[r['variant']]} | {r['rss_before_mb']:,.0f} "
            f"| {r['peak_rss_mb']:,.0f} | {r['rss_after_mb']:,.0f} | {r['seconds']:.1f} "
            f"| {'; '.join(detail) or '-'} |"
        )
    if args.note:
        lines += ["", f"Note: {args.note}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workdir", default="", help="where the checkpoints go (tmp)")
    parser.add_argument("--note", default="", help="a line added under the table")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the rows here")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    restores = [v for v in variants if v.startswith("restore-")]
    if restores and "save-uncompressed" not in variants:
        raise SystemExit("restore variants read the checkpoint of save-uncompressed: include it")
    command = invocation(__file__)
    rows = []
    with tempfile.TemporaryDirectory(prefix="strata-ckpt-mem-", dir=args.workdir or None) as d:
        for variant in variants:
            base = [sys.executable, __file__, "--rows", str(args.rows), "--dim", str(args.dim)]
            row = run_json_worker([*base, "--worker", variant, "--ckpt", d], variant)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    body = table(rows, args, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if not args.no_write:
        write_section(Path(args.out), "checkpoint_memory", body)


if __name__ == "__main__":
    main()
