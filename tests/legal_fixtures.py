"""A tiny randomly initialised Llama-architecture model for the legal tests (hidden 32, 2 layers).

It uses the SmolLM2 tokenizer from the asset cache when it is there (so that Spanish text tokenises as
in the real runs), else the GPT-2 BPE built from the same cache; with neither, the tests that need a
model are skipped with the fetch command in the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_tiny_model(directory: Path) -> Path:
    import pytest
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from lab import assets

    try:
        tok = AutoTokenizer.from_pretrained(assets.model_dir("smollm2-135m"))
    except assets.AssetMissing as exc:
        pytest.skip(f"needs the SmolLM2 tokenizer: {exc}")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory
