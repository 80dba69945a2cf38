import re

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


def test_every_bad_parameter_is_named_in_one_message():
    with pytest.raises(ParameterError) as err:
        SPEC.validate({"model": "c", "seeds": [1, "2"], "alpha": -1.0})
    lines = str(err.value).splitlines()
    assert lines == ["parameter 'model': 'c' is not a valid choice; valid choices: 'a', 'b'",
                     "parameter 'seeds[1]': expected int, got str '2'",
                     "parameter 'alpha': -1.0 is below the minimum 0.0"]


@pytest.mark.parametrize("param, value, message", [
    (Param("n", (int,)), 1.5, "parameter 'n': expected int, got float 1.5"),  # no float silently truncated
    (Param("n", (int,)), "3", "parameter 'n': expected int, got str '3'"),
    (Param("lr", (float,)), True, "parameter 'lr': expected float, got bool True"),
    (Param("flag", (bool,)), 1, "parameter 'flag': expected bool, got int 1"),
    (Param("budget", (float, type(None))), "none", "parameter 'budget': expected float or None, got str 'none'"),
    (Param("names", (list,), item_types=(str,)), {"a", "b"}, "expected list, got set"),  # set order follows hashing
    (Param("names", (list,), item_types=(str,)), "ab", "expected list, got str 'ab'"),
    (Param("mapping", (dict,)), [("a", 1)], "expected dict, got list"),
    (Param("decoders", (list,), item_types=(str,), choices=("greedy", "top_k")), ["greedy", "beam"],
     "parameter 'decoders': 'beam' is not a valid choice; valid choices: 'greedy', 'top_k'"),
    (Param("steps", (list,), item_types=(int,), minimum=1), [3, 0], "parameter 'steps': 0 is below the minimum 1"),
    (Param("seeds", (list,), item_types=(int,), check=lambda s: None if len(set(s)) == len(s) else "give distinct seeds"),
     [1, 1], "parameter 'seeds': give distinct seeds"),
])
def test_a_bad_value_never_passes(param, value, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        param.validate(value)


def test_good_values_pass_with_the_coercions_kept():
    assert Param("lr", (float,)).validate(2) == 2.0 and isinstance(Param("lr", (float,)).validate(2), float)
    assert Param("budget", (float, type(None))).validate(None) is None
    assert Param("budget", (float, type(None))).validate(3) == 3.0
    assert Param("names", (list,), item_types=(str,)).validate(("a", "b")) == ["a", "b"]
    assert Param("mapping", (dict,)).validate({"A": [1, 2]}) == {"A": [1, 2]}
    assert Param("flag", (bool,)).validate(False) is False


def test_a_check_sees_only_a_well_typed_value():
    seen = []
    param = Param("seeds", (list,), item_types=(int,), check=lambda s: seen.append(s))
    with pytest.raises(ParameterError, match="expected int"):
        param.validate(["x"])
    assert seen == []
    assert param.validate([2, 3]) == [2, 3] and seen == [[2, 3]]


def test_the_seed_is_checked_like_any_parameter():
    from lab.publish import chapter

    with pytest.raises(ParameterError, match=re.escape("parameter 'seed': expected int, got bool True")):
        chapter.start({"model": "a", "seeds": [1], "alpha": 0.1}, SPEC, seed=True)


def _chapter_specs():
    from lab.infinito import chapter as part2, postmortem

    # the pages built on run steps (p0, p1, p2_training, p3, p5, p9) declare a design instead (lab.publish.design;
    # tests/unit/test_design.py checks its choices)
    return {f"{m.__name__}.{name}": spec for m in (part2, postmortem)
            for name, spec in vars(m).items() if isinstance(spec, Spec)}


@pytest.mark.slow  # imports every chapter, torch included
def test_every_chapter_refuses_a_value_outside_its_choices_and_lists_them_all():
    specs = _chapter_specs()
    assert len(specs) >= 4  # p2's legacy pages (3: collate, collapse, expectations), postmortem
    checked = 0
    for where, spec in specs.items():
        for param in spec:
            if param.choices is None:
                continue
            bad = "no-such-choice"
            with pytest.raises(ParameterError) as err:
                param.validate([bad] if list in param.types else bad)
            message = str(err.value)
            assert f"parameter {param.name!r}: {bad!r} is not a valid choice" in message, where
            assert "valid choices: " + ", ".join(repr(c) for c in param.choices) in message, where
            checked += 1
    assert checked >= 10
