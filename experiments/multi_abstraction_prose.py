"""The multi-abstraction head (version 2) against the best single objectives, on real prose.

Command (2-core CPU: 55 minutes measured with the defaults, 2 M data tokens per method, 3
seeds, other jobs sharing the CPU; build the prose first with
`bash ../shared/tools/build_corpus.sh`):
    python launch.py experiments/multi_abstraction_prose.py --workdir runs/ma_prose

Issue 15, item 6: the comparison of experiments/compare_objectives.py, on `prose.jsonl` with the
real evaluation suite, at the size and token budget of the real-text reproduction
(experiments/repro_simcse.py: the `tiny` encoder, 2,000,000 data tokens per method, seeds 0-2).
Methods:
  mlm                the best single objective on the word-sense columns there
  simcse             the best single objective on STS there (dropout positives)
  multi_abstraction  the head at its version-2 defaults (run-sized EMA teacher on the top
                     half of the layers; masked tokens, masked spans, withheld sentences and
                     documents predicted from what the student kept; regression + InfoNCE). The
                     context term is off: prose has no topic labels to condition on.
It is also read through the head at the span and document levels (`eval.head_levels`), beside
the pooled encoder. Baselines: TF-IDF and SIF word2vec on the same prose. comparison.md gives
each method's steps, data tokens and compute (XLA's count of a step's floating-point
operations), so the table can be read at equal data and at equal compute.
"""

import importlib.util
from pathlib import Path

from research.compare import CompareConfig, run_comparison

run = run_comparison  # launch.py calls it instead of a model family's trainer


def load_repro_simcse():
    """experiments/repro_simcse.py, read from that file so the two cannot drift apart."""
    path = Path(__file__).with_name("repro_simcse.py")
    spec = importlib.util.spec_from_file_location("repro_simcse", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get_config() -> CompareConfig:
    repro_simcse = load_repro_simcse()
    config = repro_simcse.get_config()
    config.name = "multi_abstraction_prose"
    config.objectives = ["mlm"]
    config.methods = {
        "simcse": dict(repro_simcse.SIMCSE),
        "multi_abstraction": {
            "objective.kind": "multi_abstraction",
            "objective.context_weight": 0.0,
            "eval.head_levels": ["span", "document"],
        },
    }
    config.baselines = ["tfidf", "sif"]
    return config
