"""Paper-style comparison of training objectives on the synthetic world.

Command (2-core CPU; the default size is sized to finish in under 30 minutes):
    python launch.py experiments/compare_objectives.py --workdir runs/compare

Trains the same `tiny` encoder on the same data for the same number of steps with each objective
(mlm, next_token, contrastive, multi_abstraction, multi_abstraction+mlm) and 3 seeds, scores the
TF-IDF and averaged-word2vec baselines with the same evaluators, and writes comparison.md and
comparison.csv (mean ± std over seeds, best per column in bold), plots/compare_metrics.png and
plots/training_curves.png. Larger: --set encoder.model.size=mini --set encoder.train.steps=5000;
a real corpus: --set encoder.data.source=PATH (the synthetic gold files then do not apply; pass
--set encoder.evals.NAME.kind=KIND --set encoder.evals.NAME.path=FILE). One W&B group per
comparison with --set log.wandb=true.
"""

from research.compare import CompareConfig, run_comparison

run = run_comparison  # launch.py calls it instead of a model family's trainer


def get_config() -> CompareConfig:
    config = CompareConfig(name="compare_objectives")
    config.seeds = [0, 1, 2]
    config.encoder.model.size = "tiny"
    config.encoder.train.steps = 300
    config.encoder.train.batch_size = 32
    config.encoder.train.sentence_batch_size = 64
    config.encoder.train.log_every = 50
    config.encoder.train.checkpoint_every = 300
    # The context-space term (FiLM spaces trained on topic positives) triples the cost of a
    # multi_abstraction step, and its positives are the world's topic labels, which the sense,
    # polysemy and topic columns score: it would make the head a supervised method among
    # unsupervised ones (README, "Ablations of version 2"). Off here; turn it on with
    # --set encoder.objective.context_weight=0.5.
    config.encoder.objective.context_weight = 0.0
    config.word2vec.model.dim = 64
    config.word2vec.data.min_count = 1
    config.log.progress = False
    return config
