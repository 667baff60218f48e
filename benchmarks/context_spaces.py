"""Context spaces against their controls, over seeds, at the size tests/test_multilevel.py trains.

    python benchmarks/context_spaces.py --seeds 0 1 2 --workdir /work/runs/context_spaces \
        [--set train.steps=300 --set data.synthetic_tokens=100000 ...]

Trains tests/test_multilevel.py's `context_space_config()` (multi_abstraction with the context
term on the synthetic world) once per `train.seed`, then runs the `context_spaces` evaluator
(research/eval/context_spaces.py) on the world's polysemy.tsv: the lemmas' shift towards the
context's topic under the trained table, the untrained (identity) table, random tables of the
trained size, and the control words. Prints one JSON line per seed and mean ± std (population
std over seeds) of each metric, with the training seconds, date and machine. The token cache
and world go to $STRATA_CACHE (default ~/.cache/strata).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import machine  # noqa: E402
from research import config as config_lib  # noqa: E402
from research.embed import load_encoder  # noqa: E402
from research.eval.context_spaces import ContextSpaces  # noqa: E402
from research.train import encoder as encoder_loop  # noqa: E402
from tests.test_multilevel import context_space_config, world_polysemy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        config = context_space_config()
        config_lib.apply_overrides(config, [*args.overrides, f"train.seed={seed}"])
        workdir = args.workdir / f"seed{seed}"
        start = time.perf_counter()
        encoder_loop.train_and_evaluate(config, workdir)
        seconds = time.perf_counter() - start
        polysemy = world_polysemy(config)
        result = ContextSpaces("context_space", polysemy).run(load_encoder(workdir))
        row = {"seed": seed, "train_s": round(seconds, 1), **result.metrics}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"{datetime.date.today()}, {machine()}, overrides {args.overrides or 'none'}")
    for key in rows[0]:
        if key == "seed":
            continue
        values = np.array([r[key] for r in rows], np.float64)
        print(
            f"{key}: {values.mean():+.4f} ± {values.std():.4f} "
            f"(min {values.min():+.4f}, max {values.max():+.4f})"
        )


if __name__ == "__main__":
    main()
