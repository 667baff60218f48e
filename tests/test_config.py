import pytest

from research import config as config_lib
from research.config import Config
from research.errors import UserError


def test_overrides_set_typed_values():
    config = config_lib.apply_overrides(
        Config(),
        [
            "data.source=corpus.txt",
            "data.window=3",
            "data.sample=1e-4",
            "model.kind=cbow",
            "train.learning_rate=0.05",
            "log.wandb=true",
            "train.epochs=2_000",
        ],
    )
    assert config.data.source == "corpus.txt"
    assert config.data.window == 3
    assert config.data.sample == pytest.approx(1e-4)
    assert config.model.kind == "cbow"
    assert config.log.wandb is True
    assert config.train.epochs == 2000


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("data.windw=3", "unknown config key 'data.windw'; valid keys: name, data.source"),
        ("nothing=3", "unknown config key 'nothing'"),
        ("data=3", "unknown config key 'data'"),
        ("data.window.x=3", "unknown config key 'data.window.x'"),
        ("train.epochs=five", "--set train.epochs=five: expected an integer"),
        ("data.sample=lots", "--set data.sample=lots: expected a number"),
        ("log.wandb=maybe", "--set log.wandb=maybe: expected true or false"),
        ("model.kind=glove", "--set model.kind=glove: expected one of skipgram, cbow"),
        ("train.epochs", "--set train.epochs: expected KEY=VALUE"),
    ],
)
def test_bad_overrides_are_one_line_errors(assignment, message):
    with pytest.raises(UserError) as error:
        config_lib.apply_override(Config(), assignment)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_key_error_lists_every_valid_key():
    with pytest.raises(UserError) as error:
        config_lib.apply_override(Config(), "bogus=1")
    for key in [
        "data.min_count",
        "data.negatives",
        "model.dim",
        "train.batch_size",
        "train.seed",
        "log.wandb",
        "evals",
        "eval.neighbours",
    ]:
        assert key in str(error.value)


def test_round_trip_through_json_dict():
    config = config_lib.apply_overrides(Config(), ["model.dim=7", "data.source=x.txt"])
    rebuilt = config_lib.from_dict(Config, config_lib.to_dict(config))
    assert rebuilt == config
