"""The mode-collapse chapter decodes with the script's presets (ORIGINAL_REPOS.md, B.10;
webtilians/principiodelTodo@9a2da8a:archive/analysis/analyze_trained_model.py)."""
import torch

from lab.infinito import generate as g
from lab.gpt import GPT, GPTConfig


def test_script_presets_match_the_script():
    got = {n: (d.temperature, d.top_k, d.top_p, d.repetition_penalty) for n, d in g.SCRIPT_PRESETS.items()}
    assert got == {"Greedy (script)": (0.1, 1, 1.0, 1.0), "Balanced (script)": (0.8, 50, 0.9, 1.0),
                   "Creative (script)": (1.2, 40, 0.95, 1.0)}
    assert g.SCRIPT_MAX_NEW_TOKENS == 50
    assert g.SCRIPT_PROMPTS == ("The meaning of life is", "In the beginning", "Artificial intelligence",
                                "Once upon a time", "The future of humanity")
    assert set(g.SCRIPT_PRESETS) | set(g.BOOK_DECODERS) == set(g.DECODERS)


def test_top_p_keeps_the_first_token_past_the_threshold_like_the_script():
    # Four equal tokens: the mass before them is 0, .25, .5, .75; the script drops a token once the mass before
    # it exceeds top_p, so top_p = 0.5 keeps three.
    d = g.Decoder("t", temperature=1.0, top_p=0.5)
    kept = torch.isfinite(g._filter(torch.zeros(4), d, None)).sum()
    assert int(kept) == 3


class _Fixed(torch.nn.Module):
    """A model whose next token is always ``token``."""

    def __init__(self, token, vocab=10):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab, block_size=8, n_layer=1, n_head=1, n_embd=8)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.token, self.vocab = token, vocab

    def forward(self, idx):
        logits = torch.full((1, idx.size(1), self.vocab), -1e4)
        logits[..., self.token] = 0.0
        return logits, None


def test_generation_stops_at_the_end_of_text_id():
    assert g.generate(_Fixed(7), [1, 2], 50, g.SCRIPT_PRESETS["Balanced (script)"], stop_id=7) == []
    assert g.generate(_Fixed(7), [1, 2], 5, g.SCRIPT_PRESETS["Balanced (script)"]) == [7] * 5


def test_script_greedy_is_argmax_through_top_k_one():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16))
    a = g.generate(model, [1, 2, 3], 10, g.SCRIPT_PRESETS["Greedy (script)"], seed=1)
    b = g.generate(model, [1, 2, 3], 10, g.BOOK_DECODERS["greedy"], seed=2)
    assert a == b
