"""The committed canary manifests are what the seeded corpus builder makes: anyone can rebuild the runs."""
import numpy as np
import pytest

from lab.memorization import canaries
from lab.publish import runner
from lab.memorization import ladder

MANIFESTS = sorted((runner.REPO / "data" / "canaries").glob("manifest-*.json"))


def test_both_published_runs_have_a_manifest():
    profiles = {canaries.load_manifest(p)[0]["parameters"]["device"] for p in MANIFESTS}
    assert profiles == {"cpu", "cuda"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_the_seeded_corpus_reproduces_the_manifest(path):
    meta, expected = canaries.load_manifest(path)
    p = meta["parameters"]
    corpus = ladder.build_corpus(p["train_bytes"], p["duplicates"], p["per_count"], p["held_out"], meta["seed"],
                             length=meta.get("canary_length", 100))  # the first design planted 100-byte canaries
    assert len(corpus.train) == meta["train_tokens"] and corpus.clean_bytes == meta["clean_tokens"]
    assert [(c.id, c.kind, c.duplicates, c.tokens, c.positions) for c in corpus.canaries] == \
        [(c.id, c.kind, c.duplicates, c.tokens, c.positions) for c in expected]
    for c in expected:
        assert len(c.positions) == c.duplicates
        for pos in c.positions:
            assert np.array_equal(corpus.train[pos:pos + len(c.tokens)], np.asarray(c.tokens))
