import pytest

from lab.publish.params import Param, ParameterError, Spec

SPEC = Spec(
    Param("model", (str,), choices=("a", "b")),
    Param("seeds", (list,), item_types=(int,)),
    Param("alpha", (float,), minimum=0.0),
)


def test_valid_values_pass_and_ints_become_floats():
    assert SPEC.validate({"model": "a", "seeds": [1, 2], "alpha": 1}) == {"model": "a", "seeds": [1, 2], "alpha": 1.0}


@pytest.mark.parametrize("values, message", [
    ({"model": "c", "seeds": [1], "alpha": 0.1}, "valid choices: 'a', 'b'"),
    ({"model": "a", "seeds": ["1"], "alpha": 0.1}, "seeds[0]"),
    ({"model": "a", "seeds": [1], "alpha": "0.1"}, "expected float"),
    ({"model": "a", "seeds": [1], "alpha": -1.0}, "below the minimum"),
    ({"model": "a", "seeds": [True], "alpha": 0.1}, "got bool"),
    ({"model": "a", "seeds": [1]}, "missing"),
    ({"model": "a", "seeds": [1], "alpha": 0.1, "beta": 2}, "unknown parameter"),
])
def test_bad_values_fail_with_a_clear_message(values, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        SPEC.validate(values)


def test_chapter_start_rejects_a_bad_seed_and_validates_the_namespace():
    from lab.publish import chapter

    with pytest.raises(ParameterError, match="seed"):
        chapter.start({"model": "a", "seeds": [1], "alpha": 0.1}, SPEC, seed="0")
    ctx = chapter.start({"model": "b", "seeds": [1], "alpha": 0.5, "other": 1}, SPEC, seed=3)
    assert ctx.params["model"] == "b" and ctx.seed == 3
