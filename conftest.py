"""Root pytest configuration, so that `pytest --nbval notebooks/` alone gets it too: nbval's exact comparison,
then a tolerance for float noise between CPUs (tests/nbval_tolerance.py says why and how much)."""


def pytest_configure(config):
    import os

    from lab.publish.runner import KERNEL_HASH_SEED
    from tests.nbval_tolerance import install

    install()
    # the kernels nbval starts inherit this environment: the same str-hash seed as the runner gives the kernels
    # that made the committed outputs (lab.publish.runner.KERNEL_HASH_SEED says why)
    os.environ["PYTHONHASHSEED"] = KERNEL_HASH_SEED
