"""Trackers (`trainer: {report_to: [tensorboard]}`): the reporting integrations of transformers' Trainer
(`TensorBoardCallback`, `TrackioCallback`, ...), driven by one object for every training stage, TRL's and rlft's
PPO, so that rlft's own held-out evaluations reach the tracker as well as the trainer's logs.

- TRL stages: the trainer builds the integration callbacks from `report_to` itself; `Trackers.adopt` takes them
  out of the trainer and stands in their place, passing on every event except the end of training. The stage's
  last evaluation (after the last step) and a reward model's quality report come after the trainer's end, so the
  trackers are closed when the stage ends (`StageContext.close`, called by the pipeline).
- rlft's PPO: `Trackers.build` makes the same callbacks from the stage's `report_to`, with a `TrainingArguments`
  holding the fields PPOConfig shares with it, and the loop calls `begin`, `log` and `close`.

Names: a key K of a metrics.jsonl record is `<split>/K` in the tracker (`train/loss`, `eval/accuracy`,
`eval/rewards/numeric_match/mean`): transformers' own naming (`rewrite_logs`), with evaluations handed over as
TRL hands its eval metrics (`eval_` + K). Where they write: TensorBoard into `<run>/<stage>/trainer/runs/
<time>_<host>/`; trackio into its local database (`$TRACKIO_DIR`, default `~/.cache/huggingface/trackio`),
project = the recipe's name, run = `<run folder>/<stage>` (docs/metrics.md).
"""

from __future__ import annotations

import copy
import dataclasses

from transformers import TrainerCallback, TrainerControl, TrainerState

# Events passed on to the adopted integration callbacks; `on_train_end` waits for `close`.
EVENTS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_step_begin", "on_step_end", "on_substep_end",
          "on_pre_optimizer_step", "on_optimizer_step", "on_log", "on_save", "on_evaluate", "on_predict",
          "on_prediction_step", "on_push_begin")  # fmt: skip
EXTRA = ("tensorboard", "trackio")  # the trackers `rlft[trackers]` installs: both write offline
RECORD_KEYS = ("stage", "step", "split")  # what a metrics.jsonl record adds to the metrics themselves


def callbacks(report_to) -> list[type]:
    """The integration callback classes `report_to` names ([] for none); ValueError for an unknown name."""
    from transformers.integrations import get_reporting_integration_callbacks

    return [] if not report_to or report_to == ["none"] else get_reporting_integration_callbacks(report_to)


def tracker_args(config, **names):
    """The `TrainingArguments` the integration callbacks read (output folder, run and project names, the
    settings they record): a TRL config is one already; rlft's PPOConfig lends the fields both have."""
    from transformers import TrainingArguments

    if isinstance(config, TrainingArguments):
        return config
    known = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name in known}
    return TrainingArguments(**shared, **{k: v for k, v in names.items() if k in known})


def run_names(run_dir, stage: str, project: str) -> dict:
    """What the trackers call a stage (trackio's project and run): the recipe, and `<run folder>/<stage>`.

    >>> run_names(__import__("pathlib").Path("runs/q/20261124-104517-s0"), "sft", "q")
    {'project': 'q', 'run_name': '20261124-104517-s0/sft'}
    """
    return {"project": project, "run_name": f"{run_dir.name}/{stage}"}


def tracker_logs(record: dict) -> dict:
    """A metrics.jsonl record as the trackers take it: its numbers, evaluations with TRL's `eval_` prefix.

    >>> tracker_logs({"stage": "sft", "step": 5, "split": "eval", "accuracy": 0.5, "kl": None})
    {'eval_accuracy': 0.5}
    >>> tracker_logs({"stage": "ppo", "step": 5, "split": "train", "objective/kl": 0.1})
    {'objective/kl': 0.1}
    """
    prefix = "eval_" if record.get("split") == "eval" else ""
    return {prefix + k: v for k, v in record.items()
            if k not in RECORD_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)}  # fmt: skip


class Trackers(TrainerCallback):
    """A stage's trackers: the integration callbacks, the arguments they read and the state they last saw."""

    def __init__(self, integrations: list, args, state: TrainerState | None = None):
        self.integrations, self.args = integrations, args
        self.state, self.control, self.model, self.closed = state or TrainerState(), TrainerControl(), None, False

    @classmethod
    def build(cls, config, **names) -> Trackers | None:
        """New callbacks for what `config.report_to` names (None: it names none). Validation calls it too, so a
        tracker whose package is missing fails there (rlft.stages.builds.check_reporting)."""
        classes = callbacks(getattr(config, "report_to", None))
        if not classes:
            return None
        return cls([c() for c in classes], tracker_args(config, **names), TrainerState(max_steps=config.max_steps))

    @classmethod
    def adopt(cls, trainer) -> Trackers | None:
        """Take the integration callbacks a TRL trainer made out of it and stand in their place (None: it made
        none). They stay the trainer's own objects, so TRL's own use of them (trackio tables) is unchanged."""
        classes = tuple(callbacks(trainer.args.report_to))
        handler = trainer.callback_handler
        found = [cb for cb in handler.callbacks if classes and isinstance(cb, classes)]
        if not found:
            return None
        at = handler.callbacks.index(found[0])
        handler.callbacks = [cb for cb in handler.callbacks if not any(cb is f for f in found)]
        trackers = cls(found, trainer.args, trainer.state)
        handler.callbacks.insert(at, trackers)  # before rlft's callbacks: begun before an evaluation at step 0
        return trackers

    def begin(self, model) -> None:
        """rlft's PPO: training starts (TensorBoard opens its writer, trackio its run)."""
        self.model = model
        self.on_train_begin(self.args, self.state, self.control, model=model)

    def log(self, step: int, record: dict) -> None:
        """One metrics.jsonl record into every tracker at `step` (PPO's train records, every evaluation)."""
        logs = tracker_logs(record)
        if not logs or self.closed:
            return
        state = copy.copy(self.state)
        state.global_step = step
        for integration in self.integrations:
            integration.on_log(self.args, state, self.control, model=self.model, logs=logs)

    def close(self) -> None:
        """The stage has ended: each tracker writes what it holds and closes (once)."""
        if self.closed:
            return
        self.closed = True
        for integration in self.integrations:
            integration.on_train_end(self.args, self.state, self.control, model=self.model)


def _passed_on(event: str):
    def handle(self, args, state, control, **kwargs):
        self.args, self.state = args, state
        self.model = kwargs.get("model", self.model)
        for integration in self.integrations:
            getattr(integration, event)(args, state, control, **kwargs)

    handle.__name__ = event
    handle.__doc__ = f"The trainer's `{event}`, passed on to each tracker."
    return handle


for _event in EVENTS:
    setattr(Trackers, _event, _passed_on(_event))
