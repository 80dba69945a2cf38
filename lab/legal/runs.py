"""Part III's design and run steps: what p3_legal_lora trains and measures, each computed once.

``LegalDesign`` declares the page's parameters. ``TaskData`` names the examples a step sees and carries their
sha256, so a step is keyed by the examples themselves, not by the code that built them. The run steps:

- ``train_adapter``: one seed's adapter, trained until the validation loss stops improving (checkpoints in the
  step's scratch folder, so a killed run resumes), then its test predictions with the adapter merged into the
  float32 weights;
- ``predict_baselines``: every baseline's test predictions;
- ``measure_deployment``, ``measure_int8`` and ``measure_sizes``: latency and memory, int8 agreement, sizes on
  disk, each of the first seed's adapter.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field

from .. import cpu, models, steps
from ..models import assets
from ..paths import REPO
from ..publish.design import design
from ..publish.params import ParameterError
from ..train import Checkpoints, StepLoop
from . import baselines, batches, data, deployment, evaluate, lora
from .data import TASKS, TaskError, check_tasks


@design
class LegalDesign:
    model: str = Field("smollm2-135m", description="registry model (smollm2-135m, gemma3-270m), a local Hugging "
                       "Face directory, or a hub id (org/name[@revision], e.g. meta-llama/Llama-3.2-1B)")
    tasks: list[str] = Field(default_factory=lambda: list(TASKS), description="tasks to train and evaluate")
    data_path: str = Field("data/legal/articles.jsonl", description="the articles file, relative to the repository")
    split_seed: int = Field(0, ge=0, description="seed of the group split (fixed across training seeds)")
    max_words: int = Field(40, ge=8, description="article words shown in a prompt")
    train_per_task: int = Field(128, ge=0, description="training examples per task, for every system (0: all); "
                                "the size at which three seeds finish learning in an hour on two cores")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], description="training seeds, one adapter each")
    max_steps: int = Field(1000, ge=1, description="cap on optimiser steps per seed: set so that no seed reaches "
                           "it (the plateau stops training first)")
    patience: int = Field(3, ge=0, description="stop after this many validations without improvement")
    min_improvement: float = Field(0.01, ge=0, description="validation-loss decrease (nats) that is an improvement")
    lora_r: int = Field(16, ge=1, description="LoRA rank (plan: 16)")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha (plan: 32)")
    lora_dropout: float = Field(0.1, ge=0, lt=1, description="LoRA dropout (plan: 0.1)")
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj", "o_proj", "gate_proj"],
                                      description="modules adapted (plan: q_proj, v_proj, o_proj, gate_proj)")
    learning_rate: float = Field(6e-4, gt=0, description="peak learning rate (plan: 2e-4 at batch 4)")
    batch_size: int = Field(16, ge=1, description="examples per step (plan: 4)")
    batching: Literal["length", "random"] = Field("length", description="length: batches of similar length "
                                                  "(little padding); random: the plan's order")
    warmup_steps: int = Field(12, ge=0, description="linear warm-up steps")
    eval_steps: int = Field(12, ge=1, description="validate every this many steps (half an epoch here)")
    save_steps: int = Field(12, ge=1, description="checkpoint every this many steps")
    eval_examples: int = Field(16, ge=1, description="validation examples per task at each validation")
    no_convergence_step: int = Field(1000, ge=1, description="abort check: step of the convergence check (plan)")
    below_random_step: int = Field(500, ge=1, description="abort check: step of the above-chance check (plan)")
    time_budget_s: Optional[float] = Field(900.0, description="abort check: training seconds per seed, or None: "
                                           "the page's hour, shared by three seeds and the measurements")
    test_limit: int = Field(0, ge=0, description="test examples per task (0: all)")
    probe_examples: int = Field(0, ge=0, description="training examples per task the frozen probe is fitted on "
                                "(0: all of the training split)")
    latency_examples: int = Field(12, ge=2, description="examples timed per deployment variant")
    latency_repeats: int = Field(3, ge=1, description="times each of those examples is timed")
    resamples: int = Field(2000, ge=1000, description="bootstrap resamples")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: CUDA where present")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="the frozen weights' dtype in "
                                                           "training: auto measures which is faster here")
    seed: int = Field(0, description="seed of the baselines and the bootstrap")

    def check_here(self) -> None:
        """The model loadable, the device present, the tasks known, the data file there: before any work."""
        problem = models.model_problem(self.model) or models.device_problem(self.device)
        if not self.tasks:
            problem = problem or "give at least one task"
        try:
            check_tasks(self.tasks)
        except TaskError as exc:
            problem = problem or str(exc)
        if not (REPO / self.data_path).is_file():
            problem = problem or f"no articles file at {self.data_path!r}"
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            problem = problem or "give distinct seeds"
        if problem:
            raise ParameterError(problem)

    def settings(self) -> lora.LoraSettings:
        return lora.LoraSettings(r=self.lora_r, alpha=self.lora_alpha, target_modules=tuple(self.target_modules),
                                 dropout=self.lora_dropout, learning_rate=self.learning_rate,
                                 batch_size=self.batch_size, max_steps=self.max_steps, patience=self.patience,
                                 min_improvement=self.min_improvement, warmup_steps=self.warmup_steps,
                                 eval_steps=self.eval_steps, save_steps=self.save_steps,
                                 eval_examples=self.eval_examples, no_convergence_step=self.no_convergence_step,
                                 below_random_step=self.below_random_step, time_budget_s=self.time_budget_s,
                                 batching=self.batching)

    def task_data(self) -> "TaskData":
        return TaskData(tuple(self.tasks), self.data_path, self.split_seed, self.max_words, self.train_per_task,
                        self.test_limit).pinned()


@dataclass(frozen=True)
class TaskData:
    """The examples a step sees, and their sha256 (``examples_sha256``), which a step checks before any work."""
    tasks: tuple[str, ...]
    data_path: str
    split_seed: int
    max_words: int
    train_per_task: int
    test_limit: int
    examples_sha256: str = ""

    def build(self) -> tuple[data.LegalData, dict[str, list[data.Example]]]:
        """(the data, each task's test examples)."""
        full = data.prepare(list(self.tasks), REPO / self.data_path, split_seed=self.split_seed,
                            max_words=self.max_words)
        legal = data.limit_train(full, self.train_per_task)
        test = {n: (ts.splits["test"][:self.test_limit] if self.test_limit else ts.splits["test"])
                for n, ts in legal.tasks.items()}
        return legal, test

    def sha256(self, legal: data.LegalData, test: dict) -> str:
        return steps.digest({n: {"train": [asdict(e) for e in ts.splits["train"]],
                                 "val": [asdict(e) for e in ts.splits["val"]],
                                 "test": [asdict(e) for e in test[n]]} for n, ts in legal.tasks.items()})

    def pinned(self) -> "TaskData":
        return TaskData(**{**asdict(self), "examples_sha256": self.sha256(*self.build())})

    def checked(self) -> tuple[data.LegalData, dict[str, list[data.Example]]]:
        """The data, failing when its examples are not the ones the key names."""
        legal, test = self.build()
        if self.sha256(legal, test) != self.examples_sha256:
            raise steps.StepError("the examples built here differ from the ones this step's key names")
        return legal, test


@dataclass(frozen=True)
class AdapterRun:
    """One seed's adapter: how training went (the history of validations, why it stopped, the adapter kept) and
    its test predictions with the adapter merged into the float32 weights."""
    seed: int
    dtype: cpu.DtypeChoice
    steps_done: int
    best_step: int
    stopped: str  # "plateau", "step cap", or the abort condition that ended it
    train_examples: int
    initial_val_loss: float
    final_val_loss: float  # of the adapter kept (the best validation)
    history: list[dict[str, Any]]
    checks: list[lora.AbortCheck]
    train_seconds: float
    trainable_parameters: int
    total_parameters: int
    predictions: dict[str, list[str]] = field(default_factory=dict)
    label_scores: dict[str, list[list[float]]] = field(default_factory=dict)  # classification task -> scores
    predict_seconds: float = 0.0

    @property
    def epochs(self) -> float:
        return self.steps_done * self.history[-1]["batch_size"] / max(1, self.train_examples)

    @property
    def loss_reduction(self) -> float:
        return 1 - self.final_val_loss / self.initial_val_loss

    @property
    def plateaued(self) -> bool:
        return self.stopped == "plateau"


TRAINING = [lora.train, lora._LoraTask, lora.LoraSettings, lora.validate, lora.answer_token_losses,
            lora.encode_example, lora.collate, lora.attach_lora, lora.check_targets, lora._set_lr,
            lora._check_aborts, lora._fingerprint, lora.batch_indices, lora.AbortCheck, lora.TrainResult,
            batches.batch_order, StepLoop, Checkpoints, models.load, cpu.choose_dtype, evaluate.build_variant,
            evaluate.predict_scored, evaluate.class_scores, evaluate.label_logprobs_batch, evaluate.greedy_answers,
            TaskData, AdapterRun]


@steps.step(depends=TRAINING)
def train_adapter(model: str, task_data: TaskData, seed: int, settings: lora.LoraSettings, dtype: str,
                  device: str) -> AdapterRun:
    """Train one seed's adapter from a fresh copy of the base model (frozen weights in the dtype this machine runs
    fastest, adapter and optimiser in float32), resuming from its checkpoints; then predict every test example
    with the adapter merged into the float32 weights (the model as deployed)."""
    import torch

    legal, test = task_data.checked()
    record_model(model)
    choice = cpu.choose_dtype(dtype, models.pick_device(device))
    torch.manual_seed(seed)
    lm, tok = models.load(model, dtype=choice.resolved, device=device)
    out = steps.scratch()
    with models.explain_oom(f"training the LoRA adapter of seed {seed}"):
        peft_model, result = lora.train(lm, tok, legal.tasks, out, seed, settings,
                                        model_name=f"{model} {choice.resolved}", resume=True)
    trainable, total = lora.trainable_parameters(peft_model)
    del peft_model, lm
    t0 = time.perf_counter()
    merged, tok = evaluate.build_variant(model, str(result.adapter_dir), "LoRA merged fp32")
    scored = {name: evaluate.predict_scored(merged, tok, legal.tasks[name], test[name]) for name in legal.tasks}
    return AdapterRun(
        seed=seed, dtype=choice, steps_done=result.steps_done, best_step=result.best_step, stopped=result.stopped,
        train_examples=result.train_examples, initial_val_loss=result.initial_val_loss,
        final_val_loss=result.final_val_loss, history=[_finite(h) for h in result.history], checks=result.checks,
        train_seconds=result.train_seconds, trainable_parameters=trainable, total_parameters=total,
        predictions={name: p for name, (p, _) in scored.items()},
        label_scores={name: np.asarray(s).round(6).tolist() for name, (_, s) in scored.items() if s is not None},
        predict_seconds=time.perf_counter() - t0)


def record_model(model: str) -> None:
    """A registry model enters the key by its pinned sha256; a local or hub model by its name (an argument)."""
    if model in assets.ASSETS:
        steps.asset(model)


def _finite(record: dict) -> dict:
    """A record with NaN (no training loss before the first step, no interval on a total row) as None, which
    JSON can hold."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}


def adapter_dir(model: str, task_data: TaskData, seed: int, settings: lora.LoraSettings, dtype: str,
                device: str) -> str:
    """The adapter a ``train_adapter`` call saved (trained again where this cache lacks it)."""
    return str(train_adapter.artefacts(model, task_data, seed, settings, dtype, device) / "adapter")


@dataclass(frozen=True)
class BaselinePredictions:
    predictions: dict[str, dict[str, list[str]]]  # task -> baseline -> test predictions
    seconds: float


@steps.step(depends=[baselines.all_baselines, baselines.random_baseline, baselines.majority_baseline,
                     baselines.tfidf_logreg, baselines.zero_shot, baselines.zero_shot_both,
                     baselines.content_free_logprobs, baselines.mean_pooled_states, baselines.frozen_probe,
                     evaluate.predict_scored, evaluate.class_scores, evaluate.label_logprobs_batch,
                     evaluate.greedy_answers, models.load, TaskData])
def predict_baselines(model: str, task_data: TaskData, probe_examples: int, seed: int,
                      device: str) -> BaselinePredictions:
    """Every baseline's predictions on every task's test split: random, majority, TF-IDF, the base model
    zero-shot (raw and calibrated from one scoring, in float32) and the frozen-feature probe (its hidden states
    shared by the tasks that read the same articles)."""
    legal, test = task_data.checked()
    record_model(model)
    t0 = time.perf_counter()
    lm, tok = models.load(model, device=device)
    features: dict = {}
    predictions = {name: baselines.all_baselines(ts, test[name], lm, tok, seed=seed, features=features,
                                                 probe_examples=probe_examples)
                   for name, ts in legal.tasks.items()}
    return BaselinePredictions(predictions, time.perf_counter() - t0)


@dataclass(frozen=True)
class Table:
    """A small table as records (a result file holds it; ``frame()`` shows it)."""
    index: list[str]
    rows: list[dict[str, Any]]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "Table":
        names = [n for n in frame.index.names if n is not None] or ["index"]
        flat = frame.reset_index() if frame.index.names[0] is not None else frame.reset_index(names="index")
        return cls(names, [_finite(r) for r in flat.to_dict("records")])

    def frame(self) -> pd.DataFrame:
        table = pd.DataFrame.from_records(self.rows).set_index(self.index)
        return table.rename_axis(None) if self.index == ["index"] else table


@dataclass(frozen=True)
class Measured:
    """A measurement of the deployed model: its tables, the figures behind them, and the seconds it took."""
    tables: dict[str, Table]
    figures: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def deployment_task(legal: data.LegalData) -> str:
    """The task the deployment is measured on: jurisdiction, or the first classification task."""
    if "jurisdiction" in legal.tasks:
        return "jurisdiction"
    return next(n for n, t in legal.tasks.items() if t.is_classification)


MEASURING = [*TRAINING, train_adapter.fn, evaluate.build_variant, evaluate.quantize_int8,
             evaluate.quantize_int8_weights, evaluate._int8_weight_linear_class]


@steps.step(depends=[*MEASURING, deployment.deployment_table, deployment._measure, deployment.median_interval])
def measure_deployment(model: str, task_data: TaskData, seed: int, settings: lora.LoraSettings, dtype: str,
                       device: str, examples: int, repeats: int) -> Measured:
    """Latency per query and memory of each deployment variant, each in its own process, on ``examples`` test
    examples of the deployment task (machine-dependent: its result names the machine)."""
    legal, test = task_data.checked()
    adapter = adapter_dir(model, task_data, seed, settings, dtype, device)
    task, t0 = deployment_task(legal), time.perf_counter()
    table = deployment.deployment_table(model, adapter, legal.tasks[task], test[task][:examples], repeats=repeats)
    return Measured({"deployment": Table.of(table)}, seconds=time.perf_counter() - t0)


@steps.step(depends=[*MEASURING, deployment.int8_agreement, deployment.Int8Agreement])
def measure_int8(model: str, task_data: TaskData, seed: int, settings: lora.LoraSettings, dtype: str,
                 device: str) -> Measured:
    """int8 against float32 on the test split, with the same adapter: weight-only on every classification task
    (the path the plan's criteria judge), dynamic on the deployment task."""
    legal, test = task_data.checked()
    run = train_adapter(model, task_data, seed, settings, dtype, device)
    adapter = adapter_dir(model, task_data, seed, settings, dtype, device)
    reference = {name: np.asarray(s) for name, s in run.label_scores.items()}
    task, t0 = deployment_task(legal), time.perf_counter()
    weight_only = deployment.int8_agreement(model, adapter, legal.tasks, test, reference)
    dynamic = deployment.int8_agreement(model, adapter, {task: legal.tasks[task]}, test, reference,
                                      variant="LoRA merged int8 (dynamic)")
    return Measured({"weight-only": Table.of(weight_only.table), "by margin": Table.of(weight_only.by_margin),
                     "dynamic": Table.of(dynamic.table)},
                    {"median_change": weight_only.median_change, "median_margin": weight_only.median_margin},
                    time.perf_counter() - t0)


@steps.step(depends=[*MEASURING, deployment.size_table])
def measure_sizes(model: str, task_data: TaskData, seed: int, settings: lora.LoraSettings, dtype: str,
                  device: str) -> Measured:
    adapter = adapter_dir(model, task_data, seed, settings, dtype, device)
    t0 = time.perf_counter()
    return Measured({"sizes": Table.of(deployment.size_table(model, adapter))}, seconds=time.perf_counter() - t0)
