"""GFLOP/s of the encoder step's float32 products alone: XLA:CPU (three ways) and PyTorch.

    python benchmarks/matmul_gflops.py --rounds 5

Every matrix product of one MLM train step of `encoder_throughput.py`'s default model (`mini`:
dim 256, 4 layers, 4 heads of 64, MLP 1024, vocabulary 4,000; batch 32 x seq_len 128, the
vocabulary scored at 32 x 35 = 1,120 masked positions), each timed alone, forward and backward:
for a forward product Y = A . B the backward pass adds dA = dY . B^T and dB = A^T . dY, so the
three rows of a product carry the operand layouts our step's gradient has (a transposed
operand is passed as a transpose inside the jitted function, or as a transposed view to PyTorch,
and each library handles it as it will). Both libraries get our layouts: PyTorch's own step
stores a Linear's weight as (out, in), the other way round, and the attention's operands here
are contiguous per head, where the step's are (batch, length, heads, 64) arrays. Each variant
runs in its own process (XLA flags are read once per process), in alternating order over
`--rounds` rounds so that load from other processes hits all alike; each product is timed over
enough repetitions to take about 0.1 s after a warm-up, and reports 2·M·K·N·batch / seconds.

"ms a step" adds every product's time at that rate times its calls a step: what the step's
products would cost if each ran as fast as it does alone. Set beside the measured step times of
`encoder_throughput.py` it separates the products' own speed (the library's GEMMs) from what the
step adds around them. Variants: `xla` (jax.jit, default flags: XLA:CPU hands each product to
YNNPACK), `xla-onednn` (XLA_FLAGS ONEDNN_FLAGS below; a flag this XLA does not know fails the
variant, reported as such), `xla-eigen` (XLA_FLAGS keeping products out of YNNPACK, so Eigen
computes them), `torch` (torch.matmul, threads = cores). The table goes into BENCHMARKS.md
between markers with the command, machine and date.
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, write_section  # noqa: E402

ONEDNN_FLAGS = (
    "--xla_cpu_use_onednn=true --xla_cpu_use_xnnpack=true "
    "--xla_cpu_experimental_onednn_custom_call=true"
)
# The products leave YNNPACK's fusions for XLA's own dot thunk (Eigen).
EIGEN_FLAGS = "--xla_cpu_experimental_ynn_fusion_type=-individual_dot"
VARIANTS = {
    "xla": ("jax.jit(jnp.matmul), default XLA flags", ""),
    "xla-onednn": (f"jax.jit(jnp.matmul), XLA_FLAGS `{ONEDNN_FLAGS}`", ONEDNN_FLAGS),
    "xla-eigen": (f"jax.jit(jnp.matmul), XLA_FLAGS `{EIGEN_FLAGS}`", EIGEN_FLAGS),
    "torch": ("torch.matmul", ""),
}
# encoder_throughput.py's defaults (mini, batch 32 x 128); MLM scores 35 positions a row.
BATCH, SEQ, DIM, LAYERS, HEADS, MLP, VOCAB, PREDICTIONS = 32, 128, 256, 4, 4, 1024, 4000, 1120
SECONDS_PER_PRODUCT = 0.1


class Product(NamedTuple):
    """One product (batch x) (M x K) . (K x N); a transposed operand is stored transposed."""

    name: str
    batch: int
    m: int
    k: int
    n: int
    lhs_transposed: bool
    rhs_transposed: bool
    calls: int

    @property
    def flop(self) -> float:
        return 2.0 * self.batch * self.m * self.k * self.n


def with_gradients(name: str, batch: int, m: int, k: int, n: int, rhs_t: bool, calls: int):
    """Y = A . B (B stored transposed if rhs_t) and its two gradient products."""
    return [
        Product(f"{name}", batch, m, k, n, False, rhs_t, calls),
        # dA = dY . B^T: B^T is B's storage read the other way
        Product(f"{name}: dA", batch, m, n, k, False, not rhs_t, calls),
        # dB = A^T . dY (or dY^T . A when B is stored transposed)
        Product(f"{name}: dB", batch, n if rhs_t else k, m, k if rhs_t else n, True, False, calls),
    ]


def step_products() -> list[Product]:
    """The products of one train step of encoder_throughput.py's default model, by call count."""
    rows, heads_dim = BATCH * SEQ, DIM // HEADS
    return [
        *with_gradients("q, k, v projections", 1, rows, DIM, DIM, False, 3 * LAYERS),
        *with_gradients("attention scores Q.K^T", BATCH * HEADS, SEQ, heads_dim, SEQ, True, LAYERS),
        *with_gradients("attention context P.V", BATCH * HEADS, SEQ, SEQ, heads_dim, False, LAYERS),
        *with_gradients("attention output", 1, rows, DIM, DIM, False, LAYERS),
        *with_gradients("MLP up", 1, rows, DIM, MLP, False, LAYERS),
        *with_gradients("MLP down", 1, rows, MLP, DIM, False, LAYERS),
        *with_gradients("MLM transform", 1, PREDICTIONS, DIM, DIM, False, 1),
        *with_gradients("MLM vocabulary (tied)", 1, PREDICTIONS, DIM, VOCAB, True, 1),
    ]


def operands(product: Product, rng):
    """Arrays in their stored layout (transposed storage where the product reads a transpose)."""
    lhs = (product.k, product.m) if product.lhs_transposed else (product.m, product.k)
    rhs = (product.n, product.k) if product.rhs_transposed else (product.k, product.n)
    lead = (product.batch,) if product.batch > 1 else ()
    return (
        rng.standard_normal(lead + lhs, dtype="float32"),
        rng.standard_normal(lead + rhs, dtype="float32"),
    )


def time_product(run, flop: float) -> float:
    """GFLOP/s of `run` (one product, synchronous) over about SECONDS_PER_PRODUCT after warm-up."""
    for _ in range(3):
        run()
    started = time.perf_counter()
    run()
    once = time.perf_counter() - started
    iters = max(5, int(SECONDS_PER_PRODUCT / max(once, 1e-6)))
    started = time.perf_counter()
    for _ in range(iters):
        run()
    return flop * iters / (time.perf_counter() - started) / 1e9


def worker(variant: str) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    if variant == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        version = f"torch {torch.__version__}, {torch.get_num_threads()} threads"

        def runner(product, a, b):
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            ta = ta.transpose(-1, -2) if product.lhs_transposed else ta
            tb = tb.transpose(-1, -2) if product.rhs_transposed else tb
            return lambda: torch.matmul(ta, tb)

    else:
        import jax
        import jax.numpy as jnp

        version = f"jax {jax.__version__}"

        def runner(product, a, b):
            def matmul(x, y):
                x = jnp.swapaxes(x, -1, -2) if product.lhs_transposed else x
                y = jnp.swapaxes(y, -1, -2) if product.rhs_transposed else y
                return jnp.matmul(x, y)

            fn, ja, jb = jax.jit(matmul), jnp.asarray(a), jnp.asarray(b)
            return lambda: fn(ja, jb).block_until_ready()

    rates = {}
    for product in step_products():
        a, b = operands(product, rng)
        rates[product.name] = time_product(runner(product, a, b), product.flop)
    return {"variant": variant, "gflops": rates, "version": version}


def step_ms(products: list[Product], rates: dict[str, float]) -> float:
    """Milliseconds a step's products take at these GFLOP/s, each times its calls a step."""
    return sum(1e3 * p.calls * p.flop / (rates[p.name] * 1e9) for p in products)


def render(products, variants, results, failures, versions, command, rounds) -> str:
    ran = [v for v in variants if v not in failures and results[v]]
    medians = {v: {p.name: statistics.median(r[p.name] for r in results[v]) for p in products}
               for v in ran}  # fmt: skip
    lines = [
        "### the encoder step's products alone (mini, batch 32 x 128, float32; matmul_gflops)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; {'; '.join(sorted(set(versions.values())))}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- {rounds} rounds, each variant a fresh process per round, order alternating; each "
        f"product timed over about {SECONDS_PER_PRODUCT:g} s after 3 warm-up ones; GFLOP/s = "
        "2·batch·M·K·N / time, median over rounds",
        *[f"- {v}: {VARIANTS[v][0]}" for v in variants],
        *[f"- {v}: failed: {failures[v]}" for v in variants if v in failures],
        "",
        "| product | batch x (M x K) . (K x N), T = transposed operand | calls a step | "
        + " | ".join(f"{v} GFLOP/s" for v in ran)
        + " |",
        "|---|---|---|" + "---|" * len(ran),
    ]
    for p in products:
        lhs_t, rhs_t = ("T" if p.lhs_transposed else ""), ("T" if p.rhs_transposed else "")
        shape = (f"{p.batch} x " if p.batch > 1 else "") + (
            f"({p.m} x {p.k}){lhs_t} . ({p.k} x {p.n}){rhs_t}"
        )
        lines.append(
            f"| {p.name} | {shape} | {p.calls} | "
            + " | ".join(f"{medians[v][p.name]:.0f}" for v in ran)
            + " |"
        )
    flop = sum(p.calls * p.flop for p in products) / 1e9
    totals = {v: step_ms(products, medians[v]) for v in ran}
    lines.append(
        f"| **all products of a step** | {flop:.1f} GFLOP | | "
        + " | ".join(f"**{totals[v]:.0f} ms** ({flop / totals[v] * 1e3:.0f} GFLOP/s)" for v in ran)
        + " |"
    )
    if "xla" in totals and "torch" in totals:
        lines += [
            "",
            f"- the step's products alone: xla {totals['xla']:.0f} ms, torch "
            f"{totals['torch']:.0f} ms; torch / xla speed "
            f"**{totals['xla'] / totals['torch']:.2f}x**",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--note", default="", help="a line added under the table")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"error: --variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    command = invocation(__file__)
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
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
                [sys.executable, __file__, "--worker", variant],
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
            ms = step_ms(step_products(), row["gflops"])
            print(f"round {round_index + 1} {variant}: products {ms:.0f} ms/step", file=sys.stderr)
    body = render(step_products(), variants, results, failures, versions, command, args.rounds)
    if args.note:
        body += f"\nNote: {args.note}\n"
    print(body)
    if not args.no_write:
        write_section(Path(args.out), "matmul_gflops encoder step", body)


if __name__ == "__main__":
    main()
