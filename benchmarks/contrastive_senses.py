"""The contrastive-senses test's run over seeds, and its untrained control: the figures behind the
thresholds of tests/test_encoder_train.py::test_short_contrastive_run_separates_the_planted_senses.

    python benchmarks/contrastive_senses.py --seeds 0 1 2 3 4
    python benchmarks/contrastive_senses.py --seeds 0 1 2 --control

Runs the test's config (tiny contrastive encoder, 250 steps, 32 sentence pairs a step, on the
100 k-token synthetic world; the train step on XLA's settings, as in the test) once per seed, or
with --control the same run stopped after one step, and prints the metrics the test asserts.
The test's thresholds sit midway between the control's best and the seeds' worst.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ASSERTED = [
    "synthetic_sense/baseline_overlap_accuracy",
    "synthetic_sense/accuracy",
    "synthetic_sense/roc_auc",
    "synthetic_polysemy/accuracy",
    "synthetic_sts/spearman",
    "synthetic_retrieval/recall@10",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--control", action="store_true", help="stop each run after one step")
    args = parser.parse_args()
    from tests.xla_settings import QUICK_COMPILE_FLAGS

    # The suite's process settings: quick compiles for everything but the step, a private cache.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("XLA_FLAGS", QUICK_COMPILE_FLAGS)
    os.environ["STRATA_CACHE"] = tempfile.mkdtemp(prefix="strata-contrastive-senses-")
    os.environ["WANDB_MODE"] = "disabled"
    from research.train import encoder as encoder_loop
    from tests.test_encoder_train import contrastive_senses_config

    short = {"train.steps": 1, "train.warmup_steps": 1, "train.log_every": 1}
    for seed in args.seeds:
        settings = {"train.seed": seed, **(short if args.control else {})}
        results = encoder_loop.train_and_evaluate(
            contrastive_senses_config(**settings), tempfile.mkdtemp()
        )
        shown = {name: round(results[name], 4) for name in ASSERTED}
        print(f"{'control' if args.control else 'trained'} seed {seed}: {json.dumps(shown)}")


if __name__ == "__main__":
    main()
