"""Transformer encoder trained by next-token prediction (causal attention, GPT-style).

Command (2-core CPU, a few minutes):
    python launch.py experiments/encoder_next_token.py --workdir runs/encoder_next_token

The encoder is evaluated with the same bidirectional forward pass as the others would be, but it
was trained causally: expect token states that know only their left context, so sense accuracy
below MLM's (the design notes' "mismatch between next-token prediction and sentence meaning").
Evaluation for causal models uses last-token pooling (model.pooling=last) by default.
"""

from research.config import EncoderRunConfig


def get_config() -> EncoderRunConfig:
    config = EncoderRunConfig(name="encoder_next_token")
    config.objective.kind = "next_token"
    config.model.size = "tiny"
    config.model.pooling = "last"
    config.train.steps = 1500
    config.train.batch_size = 32
    config.train.learning_rate = 1e-3
    return config
