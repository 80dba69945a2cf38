import numpy as np

from lab.memorization import canaries


def _set(seed=0):
    natural = np.arange(10_000, 10_000 + 4000) % 50_000  # stand-in natural text: distinct tokens
    return canaries.make_set(seed, counts=[1, 4], per_count=3, length=20, alphabet=np.arange(100, 200),
                             natural_source=natural, held_out=2)


def test_set_has_every_kind_and_count_and_is_seeded():
    cs = _set()
    assert [c.duplicates for c in cs].count(1) == 6 and [c.duplicates for c in cs].count(0) == 4
    assert {c.kind for c in cs} == {"random", "natural"}
    assert cs == _set() and cs != _set(seed=1)
    assert len({c.tokens for c in cs}) == len(cs)


def test_insert_places_every_copy_where_the_manifest_says(tmp_path):
    cs = _set()
    stream = np.full(5000, 7, dtype=np.int64)
    out, placed = canaries.insert(stream, cs, seed=3)
    assert len(out) == len(stream) + sum(c.duplicates * len(c.tokens) for c in cs)
    for c in placed:
        assert len(c.positions) == c.duplicates
        for p in c.positions:
            assert tuple(out[p:p + len(c.tokens)]) == c.tokens
    held = [c for c in placed if c.held_out]
    assert held and all(c.positions == () for c in held)
    # the rest of the stream is the original, in order
    mask = np.ones(len(out), bool)
    for c in placed:
        for p in c.positions:
            mask[p:p + len(c.tokens)] = False
    assert (out[mask] == 7).all() and mask.sum() == len(stream)
    canaries.save_manifest(tmp_path / "m.json", placed, {"seed": 3})
    meta, back = canaries.load_manifest(tmp_path / "m.json")
    assert back == placed and meta == {"seed": 3}
