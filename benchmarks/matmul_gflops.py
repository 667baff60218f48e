"""GFLOP/s of one float32 GEMM of the encoder's shape: XLA:CPU (default, oneDNN flags), PyTorch.

    python benchmarks/matmul_gflops.py --rounds 5

The product is (4096 x 256) . (256 x 1024): batch 32 x seq_len 128 rows through the `mini`
encoder's first MLP matrix, one of the main GEMMs of the encoder benchmark's step. Each variant runs
in its own process (XLA flags are read once per process), in alternating order over `--rounds`
rounds so that load from other processes hits all alike; each round times `--iters` products
after a warm-up and reports 2·M·K·N / seconds. Variants: `xla` (jax.jit, default flags),
`xla-onednn` (XLA_FLAGS `--xla_cpu_use_onednn=true --xla_cpu_use_xnnpack=true
--xla_cpu_experimental_onednn_custom_call=true`; a flag this XLA does not know fails the
variant, reported as such), `torch` (torch.matmul, threads = cores). The table goes into
BENCHMARKS.md between markers with the command, machine and date.
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

M, K, N = 4096, 256, 1024
ONEDNN_FLAGS = (
    "--xla_cpu_use_onednn=true --xla_cpu_use_xnnpack=true "
    "--xla_cpu_experimental_onednn_custom_call=true"
)
VARIANTS = {
    "xla": ("jax.jit(jnp.dot), default XLA flags", ""),
    "xla-onednn": (f"jax.jit(jnp.dot), XLA_FLAGS `{ONEDNN_FLAGS}`", ONEDNN_FLAGS),
    "torch": ("torch.matmul", ""),
}


def worker(variant: str, iters: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    if variant == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        run = lambda: torch.matmul(ta, tb)  # noqa: E731
        version = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    else:
        import jax
        import jax.numpy as jnp

        ja, jb = jnp.asarray(a), jnp.asarray(b)
        dot = jax.jit(jnp.dot)
        run = lambda: dot(ja, jb).block_until_ready()  # noqa: E731
        version = f"jax {jax.__version__}"
    for _ in range(5):
        run()
    started = time.perf_counter()
    for _ in range(iters):
        run()
    seconds = time.perf_counter() - started
    return {"variant": variant, "gflops": 2 * M * K * N * iters / seconds / 1e9, "version": version}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=50, help="timed products per round")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--note", default="", help="a line added under the table")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.iters)))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    command = invocation(__file__)
    results: dict[str, list[float]] = {v: [] for v in variants}
    versions: dict[str, str] = {}
    failures: dict[str, str] = {}
    for round_index in range(args.rounds):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for variant in order:
            if variant in failures:
                continue
            env = dict(os.environ)
            flags = VARIANTS[variant][1]
            if flags:
                env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
            out = subprocess.run(
                [sys.executable, __file__, "--worker", variant, "--iters", str(args.iters)],
                capture_output=True,
                text=True,
                env=env,
            )
            if out.returncode != 0:
                failures[variant] = (out.stderr.strip().splitlines() or ["?"])[-1][:200]
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[variant].append(row["gflops"])
            versions[variant] = row["version"]
            print(f"round {round_index + 1} {variant}: {row['gflops']:.1f}", file=sys.stderr)
    lines = [
        f"### one float32 GEMM, ({M} x {K}) . ({K} x {N}) (matmul_gflops)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; {'; '.join(sorted(set(versions.values())))}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- {args.rounds} rounds, each variant a fresh process per round, order alternating; "
        f"{args.iters} timed products per round after 5 warm-up ones; GFLOP/s = 2·M·K·N / time",
        "",
        "| variant | what | GFLOP/s median | min–max over rounds | per round |",
        "|---|---|---|---|---|",
    ]
    for variant in variants:
        values = results[variant]
        if variant in failures:
            failed = f"failed: {failures[variant]}"
            lines.append(f"| {variant} | {VARIANTS[variant][0]} | {failed} | | |")
            continue
        lines.append(
            f"| {variant} | {VARIANTS[variant][0]} | {statistics.median(values):.0f} "
            f"| {min(values):.0f}–{max(values):.0f} | {' / '.join(f'{v:.0f}' for v in values)} |"
        )
    if args.note:
        lines += ["", f"Note: {args.note}"]
    body = "\n".join(lines) + "\n"
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "matmul_gflops", body)


if __name__ == "__main__":
    main()
