"""Ablations of the multi-abstraction head (issue 15, item 4), on the synthetic world.

Command (2-core CPU; about 40 minutes unloaded: 7 methods x 3 seeds of the `tiny` encoder, 300
steps each, the context-space method about three times the cost of the others):
    python launch.py experiments/multi_abstraction_ablations.py --workdir runs/ma_ablations

The same settings as experiments/compare_objectives.py (tiny encoder, 300 steps, batch 32 /
64 sentence pairs, seeds 0-2, context term off) for version 2 of the head and, each changing one
thing:
  no_token, no_span, no_sentence, no_document   that level dropped from objective.levels
  regression_only                               no InfoNCE term (objective.nce_weight=0)
  with_contexts                                 the context spaces on (context_weight=0.5)
Every run is also read through the head (eval.head_levels=[all]): the sentence evaluators (STS,
retrieval) score the head's embedding of each text at every level, the word-in-context ones
(sense, polysemy) its token and span predictions, as "<method> · head <level>" rows of
comparison.md beside the pooled encoder's row (the probes always read the head's levels).
No baselines (compare_objectives.py has them, same world and evaluators).
"""

from research.compare import CompareConfig, run_comparison
from research.config import Config

run = run_comparison  # launch.py calls it instead of a model family's trainer

LEVELS = ["token", "span", "sentence", "document"]


def drop(level: str) -> dict:
    return {
        "objective.kind": "multi_abstraction",
        "objective.levels": [x for x in LEVELS if x != level],
    }


def get_config() -> CompareConfig:
    reference = get_reference()
    config = CompareConfig(name="multi_abstraction_ablations")
    config.objectives = ["multi_abstraction"]
    config.methods = {
        **{f"no_{level}": drop(level) for level in LEVELS},
        "regression_only": {"objective.kind": "multi_abstraction", "objective.nce_weight": 0.0},
        "with_contexts": {"objective.kind": "multi_abstraction", "objective.context_weight": 0.5},
    }
    config.seeds = reference.seeds
    config.encoder = reference.encoder
    config.encoder.eval.head_levels = ["all"]
    config.baselines = []
    config.word2vec = Config()
    config.log = reference.log
    return config


def get_reference() -> CompareConfig:
    """compare_objectives.py's settings, read from that file so the two cannot drift apart."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("compare_objectives.py")
    spec = importlib.util.spec_from_file_location("compare_objectives", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()
