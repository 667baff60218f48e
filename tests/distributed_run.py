"""Tiny word2vec + encoder runs for tests/test_distributed.py, as an experiment file for launch.py.

    python launch.py tests/distributed_run.py --workdir DIR [--set train.devices=N]
        [--coordinator HOST:PORT --num-processes N --process-id I]

`run` trains word2vec (as configured: --set train.shard_tables=true splits its tables over the
devices) in DIR/word2vec and an encoder in DIR/encoder, configurations small enough for seconds
on a CPU. Both use 8-way parallel batches (word2vec: train.parallel_blocks=8; encoder: 8 sentence
pairs per step), so 1, 2 or 8 devices all split them evenly and do the same math.
"""

from __future__ import annotations

import os
from pathlib import Path

from research.config import Config, EncoderRunConfig

# Set by tests/test_distributed.py's Ctrl-C test: process 1 interrupts itself after this step.
INTERRUPT_ENV = "STRATA_TEST_INTERRUPT_PROCESS1_AT"
ENCODER_ONLY_ENV = "STRATA_TEST_ENCODER_ONLY"  # the same run without the interruption


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
    config.eval.default_suite = False
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
    config.eval.default_suite = False
    config.log.progress = False
    return config


def interrupt_process_one_at(step: int) -> None:
    """Process 1 sends itself SIGINT after its `step`-th train step, as Ctrl-C in its terminal
    would: the other process gets no signal."""
    import jax

    from research.train import encoder_step
    from tests.step_hooks import after_dispatch, send_sigint

    if jax.process_index() == 1:
        encoder_step.make_train_step = after_dispatch(
            encoder_step.make_train_step, step, send_sigint
        )


def run(config: Config, workdir: str | Path) -> None:
    from research.train import encoder as encoder_loop
    from research.train import word2vec as loop

    workdir = Path(workdir)
    interrupt_at = int(os.environ.get(INTERRUPT_ENV, "0"))
    if interrupt_at or os.environ.get(ENCODER_ONLY_ENV):
        # The Ctrl-C test: only the encoder, long enough to stop in the middle.
        encoder = encoder_config(config)
        encoder.train.steps = 12
        if interrupt_at:
            interrupt_process_one_at(interrupt_at)
        encoder_loop.train_and_evaluate(encoder, workdir / "encoder")
        return
    loop.train_and_evaluate(config, workdir / "word2vec")
    encoder_loop.train_and_evaluate(encoder_config(config), workdir / "encoder")
