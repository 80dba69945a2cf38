import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _set_one_thread():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(autouse=True, scope="session")
def _one_thread_from_the_start():
    """Before any module-scoped fixture computes: a fixture computed on two threads and a re-run on one differ in
    the last bits of a sum."""
    _set_one_thread()


@pytest.fixture(autouse=True)
def _one_thread():
    """Two cores are shared by everything on the CI machine; keep unit tests single-threaded (again before each
    test: some code under test sets its own thread count)."""
    _set_one_thread()
    yield


# ---------------------------------------------------------------- the one tiny model

def build_tiny_llama(directory: Path, tokenizer: str = "attractors", seed: int = 0) -> Path:
    """Save a tiny randomly initialised Llama (hidden 32, 2 layers, tied embeddings) and its tokenizer into
    ``directory`` (a Hugging Face directory) and return it; built in about a second, no download.

    ``tokenizer="attractors"``: a byte-level BPE of 400 tokens trained on Part I's attractor texts, and output
    logits sharpened so that greedy paths are not near-ties (the dynamics tests). ``tokenizer="smollm2"``:
    SmolLM2's own tokenizer from the asset cache, so that Spanish statutes tokenise as in the real runs (the
    legal tests); skipped with the fetch command in the reason when the cache lacks it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if tokenizer == "attractors":
        tok = _attractor_bpe()
    elif tokenizer == "smollm2":
        from transformers import AutoTokenizer

        from lab.models import assets

        try:
            tok = AutoTokenizer.from_pretrained(assets.model_dir("smollm2-135m"))
        except assets.AssetMissing as exc:
            pytest.skip(f"needs the SmolLM2 tokenizer: {exc}")
    else:
        raise ValueError(f"tokenizer is 'attractors' or 'smollm2', not {tokenizer!r}")
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    if tokenizer == "attractors":
        with torch.no_grad():
            model.lm_head.weight.mul_(20.0)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def _attractor_bpe(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from lab.dynamics import attractors

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<bos>", "<eos>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator([a.text for a in attractors.load()], trainer)
    bpe.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The attractor-tokenizer tiny model, built once per session; a test that changes its files copies it."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_spanish_model(tmp_path_factory) -> str:
    """The SmolLM2-tokenizer tiny model (as a path string, the form lab.models.load takes)."""
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny-es") / "model", tokenizer="smollm2"))


@pytest.fixture
def random_llama():
    """A function seed -> a small random-weight Llama (vocabulary 64, no tokenizer), for reference checks of
    decoding loops against transformers' own."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(seed: int = 0) -> LlamaForCausalLM:
        torch.manual_seed(seed)
        return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=4,
                                            max_position_embeddings=64)).eval()
    return build
