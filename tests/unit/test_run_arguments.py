"""`lab run NOTEBOOK -p NAME VALUE ...`: the parameters parsed with argparse, the values read as YAML scalars (`runner.parse_cli_value`)."""
from __future__ import annotations

import pytest

from lab.publish import runner


def test_parameters_are_read_as_yaml_scalars_and_lists():
    argv = ["-p", "max_new_tokens", "8", "--parameter", "models", "[a, b]", "-p", "temperature", "0.5",
            "-p", "device", "cpu"]
    assert runner.main_run_args(argv) == {"max_new_tokens": 8, "models": ["a", "b"], "temperature": 0.5,
                                          "device": "cpu"}
    assert runner.main_run_args([]) == {}


def test_a_name_given_twice_keeps_its_last_value():
    assert runner.main_run_args(["-p", "seed", "1", "-p", "seed", "2"]) == {"seed": 2}


@pytest.mark.parametrize("argv, says", [
    (["-p", "seed"], "expected 2 arguments"),
    (["--bogus"], "unexpected argument '--bogus'"),
    (["-p", "seed", "1", "extra"], "unexpected argument 'extra'"),
    (["seed", "1"], "unexpected argument 'seed'"),
])
def test_a_malformed_line_is_refused_and_says_how_to_write_it(argv, says):
    with pytest.raises(runner.RunError, match="use -p NAME VALUE") as err:
        runner.main_run_args(argv)
    assert says in str(err.value)
