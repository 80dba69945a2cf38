"""What a model name points to is said before any work: a missing local path is named as a missing path."""
import pytest

from lab import models


@pytest.mark.parametrize("name", ["/no/such/model", "./no-such-model", "~/no/such/model", "a/b/c", "missing.gguf"])
def test_a_missing_local_model_path_is_said_to_be_missing_not_looked_up_on_the_hub(name):
    problem = models.model_problem(name)
    assert problem.startswith(f"no local model at {name!r}: the path does not exist")


def test_a_registry_name_and_an_unknown_word_keep_their_own_messages():
    assert models.model_problem("smollm2-135m") is None or "smollm2-135m" in models.model_problem("smollm2-135m")
    assert models.model_problem("no-such-model").startswith("unknown model 'no-such-model'")
