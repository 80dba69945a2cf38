import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_thread():
    """Two cores are shared by everything on the CI machine; keep unit tests single-threaded."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    yield
