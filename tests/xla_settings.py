"""The test suite's two XLA:CPU settings (figures: BENCHMARKS.md, "Test suite"), and how its long
runs keep from paying for what they do not test.

Most tests compile a program and run it a few times, so compiling is most of their time:
tests/conftest.py sets QUICK_COMPILE_FLAGS for every process of the suite. The code those flags
compile runs about 3x slower, which costs more than it saves in the few tests that run a
train step hundreds of times; those tests give their run LONG_RUN_STEP, which sets XLA's own
settings back on the train step's jit alone (train.xla_options) and leaves their other,
run-once programs (evaluation, initialisation) on the quick flags.
"""

QUICK_COMPILE_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false "
    "--xla_llvm_disable_expensive_passes=true"
)

# XLA's defaults for the three flags above (xla/debug_options_flags.cc), as config overrides.
LONG_RUN_STEP = {
    "train.xla_options.xla_backend_optimization_level": "3",
    "train.xla_options.xla_cpu_use_fusion_emitters": "true",
    "train.xla_options.xla_llvm_disable_expensive_passes": "false",
}

# A long run that tests what it learns, not how it resumes, saves once, at its end: its
# periodic checkpoints cost more than half of a 300 k-token skip-gram run's steps (114 saves).
ONE_CHECKPOINT = {"train.checkpoint_every": "1000000"}
