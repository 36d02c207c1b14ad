"""What a stage's `eval:` block asks for beyond greedy accuracy, built once per stage: the format reward,
the pass@k sampling settings and the reference model that `kl` is measured against.

The reference is the model the stage started from. A stage that adds a LoRA adapter has it for free: the
policy with its adapters disabled (as DPO and rlft's PPO use it). Otherwise it is loaded once, frozen, on
the policy's device: for a full fine-tune that is the second model `eval.kl` costs. An `eval` stage
measures the KL of the model it evaluates to the model that model's training stage started from.
"""

from __future__ import annotations

from rlft import rewards as rewards_lib
from rlft.eval.evaluate import EvalOptions
from rlft.models import ModelRef, load_model, path_ref
from rlft.stages import ALGORITHMS


def start_ref(recipe, outputs: dict[str, ModelRef], run_dir, name: str) -> ModelRef:
    """The on-disk model stage `name` starts from: an earlier stage's output, a tiny model's saved init (built by
    rlft.stages.common.source_ref), or a folder, hub id or a run's stage folder."""
    spec = recipe.stages[name].model
    if spec.from_stage is not None:
        return outputs[spec.from_stage]
    if spec.tiny is not None:
        path = str(run_dir / name / "init")
        return ModelRef(base=path, tokenizer=path)
    return path_ref(spec.path, spec.tokenizer, f"stages.{name}.model.path")


def reference_ref(ctx) -> ModelRef:
    """What `kl` compares with: the stage's own starting model, or, for an `eval` stage, the starting model
    of the training stage it evaluates (rlft.runner.recipe.check_recipe makes sure there is one)."""
    name = ctx.name
    if not ALGORITHMS[ctx.stage.algorithm].trains:
        name = ctx.stage.model.from_stage
    return start_ref(ctx.recipe, ctx.outputs, ctx.run_dir, name)


class StageEval:
    """Builds `EvalOptions` for each evaluation of one stage; the reference model is loaded at most once."""

    def __init__(self, ctx):
        self.ctx, self.spec = ctx, ctx.stage.eval
        fmt = self.spec.format
        self.format_fn = rewards_lib.resolve(fmt.name, fmt.kwargs) if fmt is not None else None
        self._reference = None

    def reference(self, policy):
        """The policy itself (its adapters switched off when scoring) when this stage added them; else a
        frozen copy of the starting model."""
        if not self.spec.kl:
            return None
        stage = self.ctx.stage
        if hasattr(policy, "disable_adapter") and stage.lora is not None and stage.algorithm != "eval":
            return policy
        if self._reference is None:
            ref = load_model(reference_ref(self.ctx), self.ctx.stage.model)
            device = next(policy.parameters()).device
            self._reference = ref.to(device).eval().requires_grad_(False)
        return self._reference

    def options(self, policy) -> EvalOptions:
        return EvalOptions(
            format_fn=self.format_fn,
            entropy=self.spec.entropy,
            reference=self.reference(policy),
            num_samples=self.spec.num_samples,
            pass_k=self.spec.ks,
            temperature=self.spec.temperature,
            seed=self.ctx.seed,
        )
