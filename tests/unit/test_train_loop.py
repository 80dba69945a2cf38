"""lab.train's shared loop on a one-weight model: the checkpoint writer, the stop checks, exact resume."""
import torch

from lab import train


class Noisy:
    """A task whose loss draws from torch's RNG (as dropout does): resuming without the RNG state changes it."""

    def __init__(self, model, checks=(), save_every=1):
        self.model, self.save_every = model, save_every
        self.stop_checks = list(checks)
        self.evals = []

    def before_step(self, step):
        pass

    def batch(self, step):
        return torch.full((4, 1), float(step % 3))

    def loss(self, batch):
        noise = torch.rand(batch.shape)
        return ((self.model(batch + noise) - 1.0) ** 2).mean()

    def after_step(self, step, batch, loss):
        return None

    def evaluation_due(self, step):
        return step % 2 == 0

    def run_eval(self):
        self.evals.append(float(self.model.weight.detach()))
        return {"step": len(self.evals) * 2}

    def end_of_step(self, step):
        pass

    def checkpoint_due(self, step, evaluated, stop):
        return step % self.save_every == 0 or stop is not None

    def state_dict(self):
        return {"model": self.model.state_dict(), "evals": self.evals}

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.evals = state["evals"]
        return None


def loop_on(task, directory=None, keep=1, total=8):
    optimizer = torch.optim.SGD(task.model.parameters(), lr=0.1)
    return train.StepLoop(task, task.model, optimizer, task.model.parameters(), total, grad_clip=1.0,
                          checkpoints=train.Checkpoints(directory, keep) if directory else None, progress=False)


def fresh_model():
    torch.manual_seed(0)
    return torch.nn.Linear(1, 1)


def test_checkpoints_keep_the_newest_and_ignore_a_half_written_one(tmp_path):
    ckpt = train.Checkpoints(tmp_path, keep=2)
    for step in (1, 2, 3):
        ckpt.write(step, {"step": step})
    (tmp_path / "checkpoint-9.pt.tmp").write_bytes(b"half")
    assert [s for s, _ in ckpt.saved()] == [2, 3]
    assert torch.load(ckpt.latest())["step"] == 3
    everything = train.Checkpoints(tmp_path / "all", keep=0)
    for step in (1, 2, 3):
        everything.write(step, {"step": step})
    assert [s for s, _ in everything.saved()] == [1, 2, 3]
    everything.clear()
    assert everything.latest() is None


def test_every_stop_check_runs_and_the_first_reason_stops(tmp_path):
    calls = []

    def first(metrics):
        calls.append(("first", metrics["step"]))
        return "first" if metrics["step"] == 4 else None

    def second(metrics):
        calls.append(("second", metrics["step"]))
        return "second" if metrics["step"] == 4 else None

    task = Noisy(fresh_model(), checks=[first, second], save_every=100)
    loop = loop_on(task, tmp_path)
    assert loop.run() == "first"
    assert loop.step == 4 and calls == [("first", 2), ("second", 2), ("first", 4), ("second", 4)]
    assert [s for s, _ in loop.checkpoints.saved()] == [4]  # a stop is checkpointed whatever the cadence


def test_a_resumed_run_ends_with_the_uninterrupted_weights(tmp_path):
    straight = Noisy(fresh_model())
    assert loop_on(straight).run() is None
    first = Noisy(fresh_model())
    assert loop_on(first, tmp_path).run(stop_after=3) == "interrupted"
    torch.manual_seed(123)  # whatever the new process draws before resuming must not matter
    resumed = Noisy(fresh_model())
    loop = loop_on(resumed, tmp_path)
    assert loop.resume() and loop.step == 3
    assert loop.run() is None and loop.step == 8
    assert torch.equal(resumed.model.weight, straight.model.weight)
    assert resumed.evals == straight.evals
