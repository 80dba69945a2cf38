"""Part III: the legal LoRA plan, executed on the statutes of Spain, Argentina, Uruguay and Chile.

``data`` builds the tasks, ``baselines`` the plan's baselines, ``lora`` trains adapters with peft,
``evaluate`` predicts, scores, measures deployment and computes the plan's verdicts. ``SPEC`` holds the
notebook's parameters (notebooks/p3_legal_lora.ipynb); the defaults of ``lora.LoraSettings`` are the
plan's configuration.
"""
from __future__ import annotations

from pathlib import Path

from .. import models
from ..paths import REPO
from ..publish.params import Param, Spec
from .data import TASKS, TaskError, check_tasks
from .evaluate import AUTOCAST



def _tasks_problem(tasks: list[str]) -> str | None:
    if not tasks:
        return "give at least one task"
    try:
        check_tasks(tasks)
    except TaskError as exc:
        return str(exc)
    return None


def _data_problem(path: str) -> str | None:
    p = (REPO / path) if not Path(path).is_absolute() else Path(path)
    return None if p.is_file() else f"no articles file at {path!r}"


SPEC = Spec(
    Param("model", (str,), "registry model (smollm2-135m, gemma3-270m), a local Hugging Face directory, or a "
          "Hugging Face hub id (org/name[@revision], e.g. meta-llama/Llama-3.2-1B)", check=models.model_problem),
    Param("tasks", (list,), f"tasks to train and evaluate: {', '.join(TASKS)}", item_types=(str,),
          check=_tasks_problem),
    Param("data_path", (str,), "the articles file, relative to the repository", check=_data_problem),
    Param("split_seed", (int,), "seed of the group split (fixed across training seeds)", minimum=0),
    Param("max_words", (int,), "article words shown in a prompt", minimum=8),
    Param("seeds", (list,), "training seeds, one adapter each", item_types=(int,),
          check=lambda v: None if v and len(set(v)) == len(v) else "give distinct seeds"),
    Param("max_steps", (int,), "cap on optimiser steps per seed (the plan: 2000 fixed steps)", minimum=1),
    Param("patience", (int,), "stop after this many validations without improvement (0: no early stopping)",
          minimum=0),
    Param("min_improvement", (float,), "validation-loss decrease (nats) that counts as an improvement", minimum=0.0),
    Param("lora_r", (int,), "LoRA rank (plan: 16)", minimum=1),
    Param("lora_alpha", (int,), "LoRA alpha (plan: 32)", minimum=1),
    Param("lora_dropout", (float,), "LoRA dropout (plan: 0.1)", minimum=0.0),
    Param("target_modules", (list,), "modules adapted (plan: q_proj, v_proj, o_proj, gate_proj)", item_types=(str,)),
    Param("learning_rate", (float,), "peak learning rate (plan: 2e-4)", minimum=0.0),
    Param("batch_size", (int,), "examples per step (plan: 4; lower it on a CUDA out-of-memory error)", minimum=1),
    Param("warmup_steps", (int,), "linear warm-up steps (plan: 100)", minimum=0),
    Param("autocast", (str,), "arithmetic of training, validation and the probe's features: none (float32) or "
          "bfloat16 (torch.autocast, about 1.6 times faster on a CPU with AVX512-BF16; weights, adapter and "
          "optimiser stay float32, and every test prediction is scored in float32)",
          choices=AUTOCAST),
    Param("eval_steps", (int,), "validate every this many steps (plan: 50)", minimum=1),
    Param("save_steps", (int,), "checkpoint every this many steps (plan: 100)", minimum=1),
    Param("eval_examples", (int,), "validation examples per task at each validation", minimum=1),
    Param("no_convergence_step", (int,), "abort check: step of the convergence check (plan: 1000)", minimum=1),
    Param("below_random_step", (int,), "abort check: step of the above-chance check (plan: 500)", minimum=1),
    Param("time_budget_s", (float, type(None)), "abort check: training budget per seed in seconds, or None"),
    Param("test_limit", (int,), "test examples per task (0 = all of them)", minimum=0),
    Param("probe_examples", (int,), "training examples per task the frozen-feature probe is fitted on (0 = all)",
          minimum=0),
    Param("latency_examples", (int,), "examples timed per deployment variant", minimum=2),
    Param("latency_repeats", (int,), "times each of those examples is timed", minimum=1),
    Param("resamples", (int,), "bootstrap resamples (at least 1,000)", minimum=1000),
    Param("resume", (bool,), "continue from the checkpoints under runs/ instead of starting afresh"),
    Param("device", (str,), "where the model runs: auto (CUDA where present), cpu, cuda or mps",
          choices=models.DEVICES, check=models.device_problem),
    Param("dtype", (str,), "weights' dtype: float32, bfloat16 (half the memory; an 8B model fits 24 GB) or float16",
          choices=models.DTYPES),
)


def settings_from(params: dict):
    """LoraSettings from the notebook's validated parameters."""
    from .lora import LoraSettings  # here: lora loads torch, and the ledger imports this package for its criteria

    return LoraSettings(r=params["lora_r"], alpha=params["lora_alpha"], target_modules=tuple(params["target_modules"]),
                        dropout=params["lora_dropout"], learning_rate=params["learning_rate"],
                        batch_size=params["batch_size"], max_steps=params["max_steps"],
                        patience=params["patience"], min_improvement=params["min_improvement"],
                        warmup_steps=params["warmup_steps"], eval_steps=params["eval_steps"],
                        save_steps=params["save_steps"], eval_examples=params["eval_examples"],
                        no_convergence_step=params["no_convergence_step"],
                        below_random_step=params["below_random_step"], time_budget_s=params["time_budget_s"],
                        autocast=params["autocast"])
