"""Every python block of CONTRIBUTING.md runs, in order, in one namespace: the worked examples
of adding an evaluator, an objective and a model family stay true. The registries are restored
afterwards, so the toy entries never leak into other tests."""

import re
from pathlib import Path

import pytest

from research.eval import registry as eval_registry
from research.objectives import registry as objective_registry
from research.train import families

BLOCKS = re.findall(r"```python\n(.*?)```", Path("CONTRIBUTING.md").read_text(), re.DOTALL)


@pytest.fixture
def clean_registries():
    saved = [
        (registry, dict(registry))
        for registry in (
            eval_registry.EVALUATORS,
            objective_registry.OBJECTIVES,
            families.FAMILIES,
        )
    ]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_contributing_has_the_three_examples():
    assert len(BLOCKS) == 3
    assert "register_evaluator" in BLOCKS[0]
    assert "register_objective" in BLOCKS[1]
    assert "register_family" in BLOCKS[2]


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=["evaluator", "objective", "family"])
def test_contributing_example_runs(index, tmp_path, clean_registries):
    namespace = {"workdir": tmp_path, "__name__": f"contributing_example_{index}"}
    exec(compile(BLOCKS[index], f"CONTRIBUTING.md block {index + 1}", "exec"), namespace)
