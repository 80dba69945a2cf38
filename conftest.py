"""Root pytest configuration, so that `pytest --nbval notebooks/` alone gets it too: nbval's exact comparison,
then each cell's declared tolerance for float noise between CPUs (tests/nbval_tolerance.py says why and how much),
and the kernels' str-hash seed. The same plugin serves a pytest run on notebooks outside this root
(``-p tests.nbval_tolerance``)."""

pytest_plugins = ["tests.nbval_tolerance"]
