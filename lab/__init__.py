"""lab: the code behind the compendium's chapters (assets, experiments, runner, book)."""
__version__ = "0.1.0"
