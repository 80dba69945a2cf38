"""Root pytest configuration, so that `pytest --nbval notebooks/` alone gets it too: nbval's exact comparison,
then a tolerance for float noise between CPUs (tests/nbval_tolerance.py says why and how much)."""


def pytest_configure(config):
    from tests.nbval_tolerance import install

    install()
