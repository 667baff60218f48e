"""Tiny word2vec + encoder runs for tests/test_distributed.py, as an experiment file for launch.py.

    python launch.py tests/distributed_run.py --workdir DIR [--set train.devices=N]
        [--coordinator HOST:PORT --num-processes N --process-id I]

`run` trains word2vec (as configured: --set train.shard_tables=true splits its tables over the
devices) in DIR/word2vec and an encoder in DIR/encoder, configurations small enough for seconds
on a CPU. Both use 8-way parallel batches (word2vec: train.parallel_blocks=8; encoder: 8 sentence
pairs per step), so 1, 2 or 8 devices all split them evenly and do the same math.
"""

from __future__ import annotations

from pathlib import Path

from research.config import Config, EncoderRunConfig


def get_config() -> Config:
    config = Config(name="distributed_word2vec")
    config.data.synthetic_tokens = 30_000
    config.data.max_vocab = 512  # a multiple of 8, so train.shard_tables can split it
    config.model.dim = 16
    config.train.epochs = 1
    config.train.batch_size = 64
    config.train.steps_per_dispatch = 2
    config.train.parallel_blocks = 8
    config.train.log_every = 32
    config.train.checkpoint_every = 1_000_000  # only the final checkpoint
    config.eval.synthetic = False
    config.log.progress = False
    return config


def encoder_config(word2vec: Config) -> EncoderRunConfig:
    config = EncoderRunConfig(name="distributed_encoder")
    config.data.synthetic_tokens = word2vec.data.synthetic_tokens
    config.data.cache_dir = word2vec.data.cache_dir
    config.data.max_len = 32
    config.data.sentence_len = 16
    config.data.vocab_size = 400
    # In-batch negatives couple every device's rows; dropout must draw the same masks sharded.
    config.objective.kind = "contrastive"
    config.train.steps = 6
    config.train.batch_size = 8
    config.train.sentence_batch_size = 8
    config.train.warmup_steps = 2
    config.train.log_every = 3
    config.train.checkpoint_every = 1_000_000
    config.train.devices = word2vec.train.devices
    config.eval.synthetic = False
    config.log.progress = False
    return config


def run(config: Config, workdir: str | Path) -> None:
    from research.train import encoder_loop, loop

    workdir = Path(workdir)
    loop.train_and_evaluate(config, workdir / "word2vec")
    encoder_loop.train_and_evaluate(encoder_config(config), workdir / "encoder")
