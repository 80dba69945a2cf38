import math

import pytest
import torch

from lab import extraction


def _oracle(sequence, vocab=50, confidence=5.0):
    """A 'model' that knows one sequence: after token s[i] it predicts s[i+1]."""
    nxt = {a: b for a, b in zip(sequence, sequence[1:])}

    def fn(ids):
        logits = torch.zeros(*ids.shape, vocab)
        for b in range(ids.shape[0]):
            for t in range(ids.shape[1]):
                tok = int(ids[b, t])
                if tok in nxt:
                    logits[b, t, nxt[tok]] = confidence
        return logits
    return fn


def test_a_memorized_sequence_is_extractable_and_a_novel_one_is_not():
    seq = list(range(1, 41))
    fn = _oracle(seq)
    hit = extraction.measure(fn, [seq], prefix=8, k=32)[0]
    assert hit.extractable and hit.matched == 32
    # log p of each right token: 5 - log(e^5 + 49)
    assert hit.logprob == pytest.approx(32 * (5 - math.log(math.exp(5) + 49)), rel=1e-5)
    broken = seq[:20] + [0] + seq[21:]
    miss = extraction.measure(fn, [broken], prefix=8, k=32)[0]
    assert not miss.extractable and miss.matched == 12


def test_matched_prefix_and_length_checks():
    assert extraction.matched_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    with pytest.raises(ValueError, match="shorter"):
        extraction.measure(_oracle([1, 2]), [[1, 2, 3]], prefix=2, k=5)


def test_greedy_decode_matches_transformers_generate(random_llama):
    """Reference check: our greedy loop gives what transformers' generate gives on a real architecture."""
    model = random_llama(0)
    prompts = torch.randint(0, 64, (3, 6))
    ours = extraction.greedy_decode(extraction.hf_logits_fn(model), prompts, 10)
    ref = model.generate(prompts, max_new_tokens=10, do_sample=False, pad_token_id=0)[:, 6:]
    assert torch.equal(ours, ref)


def test_cached_generate_gives_the_same_extraction_as_the_plain_loop(random_llama):
    model = random_llama(1)
    fn = extraction.hf_logits_fn(model)
    seqs = torch.randint(1, 64, (4, 30)).tolist()
    plain = extraction.measure(fn, seqs, prefix=10, k=12)
    cached = extraction.measure(fn, seqs, prefix=10, k=12, greedy_fn=extraction.hf_greedy_fn(model))
    assert plain == cached
