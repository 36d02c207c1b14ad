"""What a stage hands the pipeline: the model later stages load, and what its entry of summary.json records. One
type for every algorithm, so reports, sweeps and comparisons read the same fields whoever trained."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlft.models import ModelRef


@dataclass
class StageResult:
    output: ModelRef
    train: dict | None = None  # last logged train metrics, global_step, train_loss
    timing: dict | None = None  # train_runtime and the trainer's throughput figures
    eval: dict | None = None  # the held-out evaluation of the model the stage kept, with the judge's name
    eval_history: list[dict] | None = None  # every evaluation during training, by step
    examples: list | None = None  # completions of the last evaluation
    stopped_at_accuracy_step: int | None = None  # the step eval.stop_at_accuracy stopped training at
    stop_kept: dict | None = None  # which model eval.stop_keep kept: rule, step, accuracy
    extra: dict = field(default_factory=dict)  # what only one algorithm records (episodes, a quality report's plots)

    def summary(self) -> dict:
        """The stage's entry of summary.json (without `algorithm` and `wall_s`, which the pipeline adds).

        >>> StageResult(ModelRef(base="m"), eval={"accuracy": 0.5}).summary()  # an eval stage
        {'eval': {'accuracy': 0.5}}
        >>> StageResult(ModelRef(base="m"), train={"global_step": 3}).summary()["output"]
        {'base': 'm', 'adapters': [], 'tokenizer': None}
        """
        out = {}
        if self.train is not None:  # a training stage: what it did, and the model it left
            out.update(train=self.train, timing=self.timing or {}, output=self.output.__dict__)
        if self.eval is not None:
            out["eval"] = self.eval
        if self.eval_history is not None:  # a stage that evaluated during training: all four, as they were
            out.update(eval_history=self.eval_history, examples=self.examples,
                       stopped_at_accuracy_step=self.stopped_at_accuracy_step)  # fmt: skip
        elif self.examples is not None:
            out["examples"] = self.examples
        if self.stop_kept is not None:
            out["stop_kept"] = self.stop_kept
        return {**out, **self.extra}
