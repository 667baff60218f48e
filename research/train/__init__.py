"""Training loops; `runner_for(config)` picks the one a config belongs to."""

from collections.abc import Callable


def runner_for(config) -> Callable:
    from research.compare import CompareConfig
    from research.config import Config, EncoderRunConfig

    if isinstance(config, CompareConfig):
        from research.compare import run_comparison

        return run_comparison
    if isinstance(config, EncoderRunConfig):
        from research.train.encoder_loop import train_and_evaluate

        return train_and_evaluate
    if isinstance(config, Config):
        from research.train.loop import train_and_evaluate

        return train_and_evaluate
    raise TypeError(f"no training loop for config type {type(config).__name__}")
