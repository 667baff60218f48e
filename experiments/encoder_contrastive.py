"""Transformer encoder trained contrastively (InfoNCE, in-batch negatives).

Command (2-core CPU, a few minutes):
    python launch.py experiments/encoder_contrastive.py --workdir runs/encoder_contrastive

Positives are neighbouring sentences of a document (OpenAI's cpt-text); SimCSE's dropout views:
--set objective.positives=dropout. Combine with MLM: --set objective.kind=mlm+contrastive.
Expected on the synthetic world: the best STS Spearman and retrieval recall of the three
encoder experiments; sense accuracy and the overlap baseline are reported beside them.
"""

from research.config import EncoderRunConfig


def get_config() -> EncoderRunConfig:
    config = EncoderRunConfig(name="encoder_contrastive")
    config.objective.kind = "contrastive"
    config.objective.positives = "neighbour"
    config.objective.temperature = 0.05
    config.model.size = "tiny"
    config.train.steps = 1500
    config.train.sentence_batch_size = 64
    config.train.learning_rate = 1e-3
    return config
