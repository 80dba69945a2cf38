import pytest
import torch

from lab.infinito import generate, textstats
from lab.gpt import GPT, GPTConfig


def test_repetition_and_distinct_on_known_sequences():
    assert textstats.repetition_rate([1, 1, 1, 1], 1) == pytest.approx(0.75)
    assert textstats.repetition_rate([1, 2, 3, 4], 2) == 0.0
    assert textstats.repetition_rate([1, 2, 1, 2, 1], 2) == pytest.approx(0.5)
    assert textstats.distinct_n([[1, 2], [2, 3]], 1) == pytest.approx(0.75)
    assert textstats.longest_run([5, 5, 1, 5, 5, 5]) == 3
    assert textstats.entropy_bits([1, 2, 3, 4]) == pytest.approx(2.0)
    assert textstats.unique_per_100(list(range(50)) * 4) == pytest.approx(50.0)


def test_self_bleu_is_one_for_identical_texts_and_low_for_different_ones():
    same = ["the the the the the the"] * 3
    assert textstats.self_bleu(same) == pytest.approx(1.0)
    varied = ["a quick brown fox jumps", "rain fell on the old town", "seven ships left the harbour"]
    assert textstats.self_bleu(varied) < 0.2
    assert textstats.bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(1.0)


def test_summary_flags_a_collapsed_generation():
    collapsed = textstats.summary([[7] * 40, [7] * 40], ["the " * 40, "the " * 40])
    varied = textstats.summary([list(range(40)), list(range(40, 80))], ["a b c d", "e f g h"])
    assert collapsed["repetition 1-gram"] > 0.9 > varied["repetition 1-gram"]
    assert collapsed["self-BLEU"] > varied["self-BLEU"]


def _model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))


def test_generation_is_seeded_and_greedy_is_deterministic():
    m = _model()
    d = generate.DECODERS["temperature 1.0"]
    a = generate.generate(m, [1, 2, 3], 20, d, seed=5)
    b = generate.generate(m, [1, 2, 3], 20, d, seed=5)
    c = generate.generate(m, [1, 2, 3], 20, d, seed=6)
    assert a == b and a != c and len(a) == 20  # longer than block_size: the context is cropped
    g = generate.DECODERS["greedy"]
    assert generate.generate(m, [1], 5, g, seed=1) == generate.generate(m, [1], 5, g, seed=2)


def test_top_k_and_top_p_restrict_the_candidates():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0])
    k = generate._filter(logits.clone(), generate.Decoder("k", temperature=1.0, top_k=2), None)
    assert torch.isinf(k[2:]).all() and torch.isfinite(k[:2]).all()
    p = generate._filter(logits.clone(), generate.Decoder("p", temperature=1.0, top_p=0.5), None)
    assert torch.isfinite(p[0]) and torch.isinf(p[1:]).all()  # the top token alone holds >= 50%
    r = generate._filter(logits.clone(), generate.Decoder("r", repetition_penalty=2.0), torch.tensor([0]))
    assert r[0] == 2.0


def test_bad_decoder_fails():
    with pytest.raises(ValueError):
        generate.Decoder("x", top_p=1.5)
    with pytest.raises(ValueError):
        generate.generate(_model(), [], 3, generate.DECODERS["greedy"])


def _markov_text(n, vocab=200, seed=0):
    """Text from a sparse first-order Markov chain: each word has a few likely successors."""
    import numpy as np

    g = np.random.default_rng(seed)
    successors = g.integers(0, vocab, size=(vocab, 4))
    out = [0]
    for _ in range(n - 1):
        out.append(int(successors[out[-1], g.integers(0, 4)]) if g.random() < 0.9 else int(g.integers(0, vocab)))
    return out


def test_kneser_ney_bigram_is_a_distribution_in_seen_and_unseen_contexts():
    import numpy as np

    train = _markov_text(3000)
    kn = textstats.KneserNeyBigram(train, vocab_size=250)  # ids 200-249 never occur
    for v in (train[0], 230):
        assert kn.prob(np.full(250, v), np.arange(250)).sum() == pytest.approx(1.0, abs=1e-9)
    assert (kn.prob(np.full(250, 230), np.arange(250)) > 0).all()


def test_smoothed_bigram_beats_the_unigram_on_held_out_text():
    text = _markov_text(7000)
    train, held_out = text[:5000], text[5000:]
    base = textstats.ngram_baselines(train, held_out, vocab_size=200)
    uni, bi = base["unigram (add-0.1)"]["ppl"], base["bigram (interpolated Kneser-Ney)"]["ppl"]
    assert bi < 0.5 * uni


def test_bits_per_byte_counts_the_target_bytes_and_no_special_token():
    import numpy as np

    from lab.models import assets

    try:
        enc = assets.gpt2_encoding()
    except assets.AssetMissing:
        pytest.skip("GPT-2 BPE asset not fetched")
    lengths = textstats.token_byte_lengths(enc, 50257)
    ids = enc.encode_ordinary("Hello, wörld")
    assert lengths[ids].sum() == len("Hello, wörld".encode()) and lengths[50256] == 0
    r = textstats.score(np.log(np.full(4, 0.5)), n_bytes=8)
    assert r["ppl"] == pytest.approx(2.0) and r["bits_per_byte"] == pytest.approx(0.5)
