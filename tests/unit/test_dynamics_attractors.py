import pytest

from lab.dynamics import attractors


def test_every_committed_text_has_a_source_and_the_ten_are_there():
    names = attractors.available()
    for expected in ["hamlet", "tale_of_two_cities", "us_constitution_preamble", "gettysburg_address",
                     "genesis_1_kjv", "don_quijote_es", "lorem_ipsum", "counting", "alphabet", "hello_world_c"]:
        assert expected in names
    for a in attractors.load():
        assert a.source and not a.local and len(a.text) > 40


def test_known_openings():
    texts = {a.name: a.text for a in attractors.load()}
    assert texts["gettysburg_address"].startswith("Four score and seven years ago our fathers brought forth")
    assert texts["don_quijote_es"].startswith("En un lugar de la Mancha, de cuyo nombre no quiero acordarme")
    assert texts["counting"].startswith("1, 2, 3,") and texts["counting"].endswith("99, 100")


def test_unknown_name_and_missing_folder_fail_clearly(tmp_path):
    with pytest.raises(attractors.AttractorError, match="unknown attractor"):
        attractors.load(["harry_potter"])
    with pytest.raises(attractors.AttractorError, match="does not exist"):
        attractors.load(["hamlet"], extra_dir=tmp_path / "nope")
    assert "harry_potter" in attractors.check_names(["harry_potter"])
    assert attractors.check_names(["hamlet"]) is None


def test_local_folder_texts_are_loaded_and_marked(tmp_path):
    (tmp_path / "my_book.txt").write_text("Call me Ishmael. Some years ago", encoding="utf-8")
    [a] = attractors.load(["my_book"], extra_dir=tmp_path)
    assert a.local and a.source == "local file"
    assert "my_book" not in [x.name for x in attractors.load()]


def test_split_keeps_a_continuation_for_short_texts():
    a = attractors.load(["hello_world_c"])[0]
    prompt, true = a.split(lambda t: list(range(len(t.split()))), 32)
    assert len(prompt) == len(true) or len(prompt) == len(true) - 1
    prompt, true = attractors.load(["hamlet"])[0].split(lambda t: list(range(len(t.split()))), 32)
    assert len(prompt) == 32 and len(true) > 200
