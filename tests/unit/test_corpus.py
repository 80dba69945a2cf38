import hashlib

import numpy as np
import pytest
import torch

from lab import corpus


def test_windows_are_contiguous_and_overlap_by_one():
    w = corpus.windows(np.arange(100), seq_len=8)
    assert w.shape == (12, 9)
    assert torch.equal(w[1], torch.arange(8, 17))
    assert torch.equal(w[:, -1][:-1], w[1:, 0])


def test_last_window_is_padded_like_the_original():
    w = corpus.windows(np.arange(16), seq_len=8, pad_id=7777)
    assert w.shape == (2, 9) and int(w[-1, -1]) == 7777


def test_collate_shifted_and_original_bug():
    w = [torch.arange(1, 6), torch.arange(10, 13)]
    x, y = corpus.collate(w, shift_labels=True)
    assert x.tolist() == [[1, 2, 3, 4], [10, 11, corpus.EOT, corpus.EOT]]
    assert y.tolist() == [[2, 3, 4, 5], [11, 12, -100, -100]]
    x, y = corpus.make_collate(shift_labels=False)(w)
    assert torch.equal(x, y)  # the bug: the target is the input itself
    assert x.tolist()[1] == [10, 11, 0, 0]  # padded with token 0, which the loss then counts


def test_missing_path_fails_clearly(tmp_path):
    with pytest.raises(corpus.CorpusError, match="not a directory"):
        corpus.load_wikitext2(tmp_path / "nope")
    with pytest.raises(corpus.CorpusError, match="no WikiText-2 raw files"):
        corpus.load_wikitext2(tmp_path)


def test_wrong_file_content_fails_on_checksum(tmp_path):
    for name, _, _ in corpus.WIKITEXT2_RAW.values():
        (tmp_path / name).write_text(" = Fake = \n\n some text \n")
    with pytest.raises(corpus.CorpusError, match="sha256"):
        corpus.load_wikitext2(tmp_path)


def test_wrong_token_count_fails_before_training(tmp_path, monkeypatch):
    # files that pass the checksum (pinned to these fake bytes) but tokenise to the wrong count
    fake = {}
    for split, (name, _, _) in corpus.WIKITEXT2_RAW.items():
        data = f" = {split} = \n \n words here \n".encode()
        (tmp_path / name).write_bytes(data)
        fake[split] = (name, hashlib.sha256(data).hexdigest(), len(data))
    monkeypatch.setattr(corpus, "WIKITEXT2_RAW", fake)

    class Enc:
        def encode_ordinary(self, text):
            return list(range(len(text.split())))

    with pytest.raises(corpus.CorpusError, match="2,391,884"):
        corpus.wikitext2(tmp_path, encoding=Enc())


def test_original_text_joins_nonblank_lines_like_the_datasets_rows():
    raw = " = A = \n \n b c \n"
    assert corpus.original_text(raw) == " = A = \n\n b c \n"


def test_substitute_holds_out_every_tenth_work(tmp_path):
    files = []
    for i in range(12):
        f = tmp_path / f"w{i:02d}.txt"
        f.write_text(f"work {i} " * 5)
        files.append(f)

    class Enc:
        def encode_ordinary(self, text):
            return [len(t) for t in text.split()]

    c = corpus.substitute(encoding=Enc(), files=files)
    assert c.documents["validation"] == ["w09"]
    assert len(c.documents["train"]) == 11
    assert c.train.size == 11 * 11 and c.validation.size == 11
