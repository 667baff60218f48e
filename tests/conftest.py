"""Test settings: CPU only, no network, a private cache, and quick compiles."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
# Tiny shapes: XLA's optimisation passes cost more than they save here.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Token caches and synthetic worlds go to a per-session directory, never ~/.cache."""
    os.environ["STRATA_CACHE"] = str(tmp_path_factory.mktemp("strata-cache"))
    yield
