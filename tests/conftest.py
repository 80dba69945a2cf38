import os

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
