"""Part II, Infinito V5.2: the model with the original's bugs as flags (``model``), the leak tests (``leaks``),
the decoders (``generate``), text statistics (``textstats``), the collate postmortem (``postmortem``) and what
the chapter's notebooks call (``chapter``). Shared rooms it stands on: ``lab.gpt``, ``lab.train``,
``lab.corpus``, ``lab.inference``.

The model's public names are re-exported here, so that ``lab.infinito.Infinito`` and ``lab.infinito.RECIPES``
name the model and its recipes wherever the book cites them.
"""
from .model import (COMPONENTS, MEMORY_KINDS, OCTOBER_PARAMETERS, ORIGINAL_PARAMETERS, RECIPES, Infinito,
                    InfinitoConfig, NeverWritingMemory, Recipe, WritingMemory, attention_diversity, build, complexity,
                    fixed_config, integration_strength, model_a_config, model_b_config, october_config,
                    original_config, scaled, temporal_coherence)

__all__ = ["COMPONENTS", "MEMORY_KINDS", "OCTOBER_PARAMETERS", "ORIGINAL_PARAMETERS", "RECIPES", "Infinito",
           "InfinitoConfig", "NeverWritingMemory", "Recipe", "WritingMemory", "attention_diversity", "build",
           "complexity", "fixed_config", "integration_strength", "model_a_config", "model_b_config",
           "october_config", "original_config", "scaled", "temporal_coherence"]
