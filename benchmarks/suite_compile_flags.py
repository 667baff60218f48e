"""Compile time of the test suite's largest programs under XLA:CPU flag sets (tests/conftest.py).

    python benchmarks/suite_compile_flags.py --rounds 3

Compiling is about half of the test suite's time on a 2-core CPU: the tests train tiny models,
so a train step's compile often costs more than all of its runs. This measures, for each flag
set, the seconds XLA takes to compile (`jit(...).lower(...).compile()`, tracing excluded) two
programs the tests build: the multi-abstraction train step of `tests/test_multilevel.py` (the
suite's largest program) and the train step of the encoder golden test
(mlm+next_token+contrastive, `tests/test_encoder_train.py`). Each flag set runs in a fresh
process per round (XLA reads its flags once per process; no persistent compilation cache), in
alternating order so that load from other processes hits all alike. The loss after one step of
the multi-abstraction program is printed per flag set: the flags change how XLA emits code, and
the goldens (`pytest -k golden`) are the check that they do not change the numbers. The table
goes into BENCHMARKS.md between markers with the command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import machine, write_section  # noqa: E402

FLAG_SETS = {
    "defaults": ("XLA's defaults (what a user's run gets)", ""),
    "opt0": ("the suite's flags before 2026-12-04", "--xla_backend_optimization_level=0"),
    "tests": (
        "the suite's flags since 2026-12-04",
        "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false "
        "--xla_llvm_disable_expensive_passes=true",
    ),
}


def worker() -> dict:
    import jax
    import numpy as np

    from research.train import encoder_step
    from tests import test_encoder_train, test_multilevel

    timings = {}
    config, tx, schedule, graphdef, state = test_multilevel.step_parts()
    step = encoder_step.make_train_step(config, graphdef, tx, schedule)
    batch = test_multilevel.fake_batch()
    lowered = step.lower(state, batch)
    started = time.perf_counter()
    compiled = lowered.compile()
    timings["multi_abstraction"] = time.perf_counter() - started
    _, metrics = compiled(state, batch)
    loss = float(metrics["loss"])

    # The encoder golden test's step and batch (tests/test_encoder_train.py).
    config = test_encoder_train.tiny_config(
        **{"objective.kind": "mlm+next_token+contrastive", "train.steps": 10}
    )
    tx, schedule = encoder_step.make_optimizer(config)
    graphdef, state = encoder_step.init_state(config, 100, tx)
    step = encoder_step.make_train_step(config, graphdef, tx, schedule)
    tokens = np.random.default_rng(0).integers(6, 100, size=(4, 16)).astype(np.int32)
    batch = {"tokens": tokens, "anchors": tokens[:, :12], "positives": tokens[:, 4:16]}
    lowered = step.lower(state, batch)
    started = time.perf_counter()
    lowered.compile()
    timings["golden"] = time.perf_counter() - started
    return {"seconds": timings, "loss": loss, "version": f"jax {jax.__version__}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker()))
        return
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    names = list(FLAG_SETS)
    seconds: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    losses: dict[str, float] = {}
    version = ""
    for round_index in range(args.rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": FLAG_SETS[name][1]}
            for unset in ("JAX_COMPILATION_CACHE_DIR", "STRATA_TEST_JAX_CACHE"):
                env.pop(unset, None)
            out = subprocess.run(
                [sys.executable, __file__, "--worker"],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
            )
            if out.returncode != 0:
                sys.stderr.write(out.stderr[-3000:])
                raise SystemExit(f"flag set {name} failed (exit {out.returncode})")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            for program, value in row["seconds"].items():
                seconds[name].setdefault(program, []).append(value)
            losses[name], version = row["loss"], row["version"]
            shown = ", ".join(f"{p} {v:.1f} s" for p, v in row["seconds"].items())
            print(f"round {round_index + 1} {name}: {shown}", file=sys.stderr, flush=True)
    base = {p: statistics.median(v) for p, v in seconds["opt0"].items()}
    lines = [
        "### compile time of the test suite's largest programs (suite_compile_flags)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; {version}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- {args.rounds} rounds, each flag set a fresh process per round, order alternating; "
        "seconds of `lowered.compile()` (tracing excluded), median over rounds (min–max)",
        "",
        "| flag set | XLA_FLAGS | multi-abstraction step | golden encoder step | vs opt0 "
        "(multi-abstraction) "
        "| loss after one step |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        what, flags = FLAG_SETS[name]
        cells = []
        for program in ("multi_abstraction", "golden"):
            values = seconds[name][program]
            cells.append(f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f})")
        ratio = statistics.median(seconds[name]["multi_abstraction"]) / base["multi_abstraction"]
        lines.append(
            f"| {name}: {what} | `{flags or '(none)'}` | {cells[0]} | {cells[1]} | {ratio:.2f}× "
            f"| {losses[name]:.6f} |"
        )
    body = "\n".join(lines) + "\n"
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "suite_compile_flags", body)


if __name__ == "__main__":
    main()
