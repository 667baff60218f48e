"""Test settings: CPU only, no network, a private cache, and quick compiles."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from tests.xla_settings import QUICK_COMPILE_FLAGS

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
# Tiny shapes: XLA's optimisation passes cost more than they save here, and compiling is most of
# the suite's time. The legacy CPU emitters and LLVM without its expensive passes compile the
# largest programs in about three quarters of the time (BENCHMARKS.md, "Test suite"), and every
# golden keeps its recorded value under them. Tests of long runs set XLA's own settings back
# on their train step (tests/xla_settings.py). Users' runs keep XLA's defaults.
os.environ.setdefault("XLA_FLAGS", QUICK_COMPILE_FLAGS)
# Many tests (and the runs inside one test: seeds, resumes, subprocesses) compile the same tiny
# programs; JAX's persistent cache lets every later compile of an identical program load it.
# Per session, so no run of the suite reads another's entries; the variables reach subprocesses.
# xdist workers inherit the controller's environment, so they share the controller's directory
# (a program one worker compiled loads in the other); only the process that made it removes it.
if "STRATA_TEST_JAX_CACHE" not in os.environ:
    os.environ["STRATA_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="strata-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["STRATA_TEST_JAX_CACHE"], ignore_errors=True)
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["STRATA_TEST_JAX_CACHE"]
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import pytest  # noqa: E402

from tests.shared_runs import built_once  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Token caches and synthetic worlds go to a per-session directory, never ~/.cache."""
    os.environ["STRATA_CACHE"] = str(tmp_path_factory.mktemp("strata-cache"))
    yield


@pytest.fixture(scope="session")
def encoder_run_and_results(tmp_path_factory):
    """One tiny encoder run (tests/test_encoder_train.py's tiny_config(): mlm, 30 steps, default
    eval suite) and its results, shared by every test that only reads a trained encoder run
    (copy it before writing to it)."""
    from research.train import encoder as encoder_loop
    from tests.test_encoder_train import tiny_config

    return built_once(
        tmp_path_factory,
        "encoder_run",
        lambda workdir: encoder_loop.train_and_evaluate(tiny_config(), workdir),
    )


@pytest.fixture(scope="session")
def word2vec_run(tmp_path_factory):
    """One small finished word2vec run (tests/test_train.py's small_config(): vectors.txt and
    vocab.txt), shared by the tests that only read it."""
    from research.train import word2vec
    from tests.test_train import small_config

    def build(workdir: Path) -> None:
        word2vec.train_and_evaluate(small_config(), workdir)

    return built_once(tmp_path_factory, "word2vec_run", build)[0]
