"""Transformer encoder trained by masked-token prediction (BERT's MLM, 80/10/10 masking).

Command (2-core CPU, a few minutes; the synthetic world and tokeniser are built once):
    python launch.py experiments/encoder_mlm.py --workdir runs/encoder_mlm

Expected on the synthetic world: word-sense accuracy (WiC-style pairs, threshold chosen on dev)
well above the word-overlap baseline printed beside it; STS Spearman and retrieval recall are
reported too. Writes results.{json,md}, plots/polysemy.png and plots/loss.png.
Any corpus: --set data.source=PATH (sentences split at . ! ?); real benchmarks with
--set evals.wic.kind=word_sense --set evals.wic.path=wordnet_wic_pairs.tsv
--set evals.stsb.kind=sentence_similarity --set evals.stsb.path=sts-test.csv.
"""

from research.config import EncoderRunConfig


def get_config() -> EncoderRunConfig:
    config = EncoderRunConfig(name="encoder_mlm")
    config.objective.kind = "mlm"
    config.model.size = "tiny"
    config.train.steps = 1500
    config.train.batch_size = 32
    config.train.learning_rate = 1e-3
    return config
