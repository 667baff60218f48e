"""Compile and run time of the test suite's programs under XLA:CPU flag sets (tests/conftest.py,
tests/xla_settings.py).

    python benchmarks/suite_compile_flags.py --rounds 3

Compiling is much of the test suite's time on a 2-core CPU: the tests train tiny models, so a
train step's compile often costs more than all of its runs, and the suite compiles with flags
that trade run speed for compile speed. A few tests run a step hundreds of times; for them the
trade goes the other way, and they set XLA's own settings back on the train step alone
(`train.xla_options`). This measures, for each flag set, the seconds XLA takes to compile
(`jit(...).lower(...).compile()`, tracing excluded) three programs the tests build: the
multi-abstraction train step of `tests/test_multilevel.py` (the suite's largest program), the
train step of the encoder golden test (mlm+next_token+contrastive, `tests/test_encoder_train.py`)
and the contrastive step of the suite's longest encoder run; and the milliseconds one call of
the first and the last takes. Each flag set runs in a fresh process per round (XLA reads its
flags once per process; no persistent compilation cache), in alternating order so that load from
other processes hits all alike. The loss after one step of the multi-abstraction program is
printed per flag set: the flags change how XLA emits code, and the goldens (`pytest -k golden`)
are the check that they do not change the numbers. The table goes into BENCHMARKS.md between
markers with the command, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, write_section  # noqa: E402

from tests.xla_settings import LONG_RUN_STEP, QUICK_COMPILE_FLAGS  # noqa: E402

# name: (what it is, XLA_FLAGS, whether the train steps get tests/xla_settings.py's LONG_RUN_STEP)
FLAG_SETS = {
    "defaults": ("XLA's defaults (what a user's run gets)", "", False),
    "opt0": ("the suite's flags before 2026-12-04", "--xla_backend_optimization_level=0", False),
    "tests": ("the suite's flags since 2026-12-04", QUICK_COMPILE_FLAGS, False),
    "tests+long": (
        "the suite's flags, the step of a long-run test (train.xla_options = LONG_RUN_STEP)",
        QUICK_COMPILE_FLAGS,
        True,
    ),
}
RUNS = 30  # timed calls of each compiled step, after one untimed


def _timed_compile(step, state, batch) -> tuple[float, object]:
    lowered = step.lower(state, batch)
    started = time.perf_counter()
    compiled = lowered.compile()
    return time.perf_counter() - started, compiled


def _ms_per_call(compiled, state, batch) -> float:
    import jax

    state, metrics = compiled(state, batch)  # the donated state is replaced on every call
    jax.block_until_ready(metrics)
    started = time.perf_counter()
    for _ in range(RUNS):
        state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    return (time.perf_counter() - started) / RUNS * 1e3


def worker(long_run: bool) -> dict:
    import jax
    import numpy as np

    from research.train import encoder_step
    from tests import test_encoder_train, test_multilevel

    extra = LONG_RUN_STEP if long_run else {}
    seconds, milliseconds = {}, {}
    config, tx, schedule, graphdef, state = test_multilevel.step_parts(**extra)
    step = encoder_step.make_train_step(config, graphdef, tx, schedule)
    batch = test_multilevel.fake_batch()
    seconds["multi_abstraction"], compiled = _timed_compile(step, state, batch)
    _, metrics = compiled(state, batch)
    loss = float(metrics["loss"])
    _, state = encoder_step.init_state(config, 100, tx)
    milliseconds["multi_abstraction"] = _ms_per_call(compiled, state, batch)

    # The encoder golden test's step and batch (tests/test_encoder_train.py).
    config = test_encoder_train.tiny_config(
        **{**extra, "objective.kind": "mlm+next_token+contrastive", "train.steps": 10}
    )
    tx, schedule = encoder_step.make_optimizer(config)
    graphdef, state = encoder_step.init_state(config, 100, tx)
    step = encoder_step.make_train_step(config, graphdef, tx, schedule)
    tokens = np.random.default_rng(0).integers(6, 100, size=(4, 16)).astype(np.int32)
    batch = {"tokens": tokens, "anchors": tokens[:, :12], "positives": tokens[:, 4:16]}
    seconds["golden"], _ = _timed_compile(step, state, batch)

    # The step of the suite's longest encoder run (test_short_contrastive_run_..., 250 steps):
    # contrastive, 32 sentence pairs of 32 tokens.
    config = test_encoder_train.tiny_config(
        **{**extra, "objective.kind": "contrastive", "train.sentence_batch_size": 32}
    )
    tx, schedule = encoder_step.make_optimizer(config)
    graphdef, state = encoder_step.init_state(config, 800, tx)
    step = encoder_step.make_train_step(config, graphdef, tx, schedule)
    sentences = np.random.default_rng(1).integers(6, 800, size=(32, 32)).astype(np.int32)
    batch = {"anchors": sentences, "positives": np.roll(sentences, 1, axis=1)}
    seconds["contrastive"], compiled = _timed_compile(step, state, batch)
    milliseconds["contrastive"] = _ms_per_call(compiled, state, batch)
    return {
        "seconds": seconds,
        "milliseconds": milliseconds,
        "loss": loss,
        "version": f"jax {jax.__version__}",
    }


def _cell(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.1f} {unit} ({min(values):.1f}–{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--long-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.long_run)))
        return
    command = invocation(__file__)
    names = list(FLAG_SETS)
    measured: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    losses: dict[str, float] = {}
    version = ""
    for round_index in range(args.rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            _, flags, long_run = FLAG_SETS[name]
            env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": flags}
            for unset in ("JAX_COMPILATION_CACHE_DIR", "STRATA_TEST_JAX_CACHE"):
                env.pop(unset, None)
            out = subprocess.run(
                [sys.executable, __file__, "--worker", *(["--long-run"] if long_run else [])],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
            )
            if out.returncode != 0:
                sys.stderr.write(out.stderr[-3000:])
                raise SystemExit(f"flag set {name} failed (exit {out.returncode})")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            for kind, unit in (("seconds", "s"), ("milliseconds", "ms")):
                for program, value in row[kind].items():
                    measured[name].setdefault(f"{program} {unit}", []).append(value)
            losses[name], version = row["loss"], row["version"]
            shown = ", ".join(f"{k} {v[-1]:.1f}" for k, v in measured[name].items())
            print(f"round {round_index + 1} {name}: {shown}", file=sys.stderr, flush=True)
    columns = [
        ("multi_abstraction s", "s", "compile: multi-abstraction step"),
        ("golden s", "s", "compile: golden encoder step"),
        ("contrastive s", "s", "compile: contrastive step"),
        ("multi_abstraction ms", "ms", "run: multi-abstraction step"),
        ("contrastive ms", "ms", "run: contrastive step"),
    ]
    lines = [
        "### compile and run time of the test suite's programs (suite_compile_flags)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; {version}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- {args.rounds} rounds, each flag set a fresh process per round, order alternating; "
        "compile: seconds of `lowered.compile()` (tracing excluded); run: milliseconds per call "
        f"over {RUNS} calls after one; median over rounds (min–max)",
        "- programs: the multi-abstraction train step of tests/test_multilevel.py (the suite's "
        "largest), the encoder golden test's step, and the contrastive step (32 sentence pairs "
        "of 32 tokens) of the suite's longest encoder run (250 steps)",
        "",
        "| flag set | XLA_FLAGS | "
        + " | ".join(c[2] for c in columns)
        + " | loss after one step |",
        "|---|---|" + "---|" * len(columns) + "---|",
    ]
    for name in names:
        what, flags, _ = FLAG_SETS[name]
        cells = [_cell(measured[name][key], unit) for key, unit, _ in columns]
        lines.append(
            f"| {name}: {what} | `{flags or '(none)'}` | "
            + " | ".join(cells)
            + f" | {losses[name]:.6f} |"
        )
    body = "\n".join(lines) + "\n"
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "suite_compile_flags", body)


if __name__ == "__main__":
    main()
