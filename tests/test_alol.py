"""A-LoL's math against direct computations, its row encoding, and the stage on a fixed scored dataset."""

import numpy as np
import pytest
import torch

from rlft.alol.core import alol_loss, fit_value, importance_weights
from rlft.alol.trainer import ALoLConfig, encode, token_logprobs, train
from rlft.core.config import ModelSpec, TinyModel
from rlft.models import build_char_tokenizer, build_tiny_model, load_path


def test_value_fit_matches_least_squares():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    w, b = fit_value(torch.tensor(x), torch.tensor(y), ridge=0.0)
    design = np.hstack([x, np.ones((50, 1))])
    ref = np.linalg.lstsq(design, y, rcond=None)[0]
    assert np.allclose(w.numpy(), ref[:4], atol=1e-5) and abs(b.item() - ref[4]) < 1e-5


def test_value_fit_ridge_shrinks_weights_not_the_mean():
    x, y = torch.randn(30, 3), torch.randn(30)
    w0, _ = fit_value(x, y, ridge=0.0)
    w1, b1 = fit_value(x, y, ridge=1e6)
    assert w1.norm() < w0.norm() * 1e-3 and abs(b1.item() - y.mean().item()) < 1e-3


LP = torch.tensor([[-0.5, -1.0, -2.0], [-1.0, -0.2, 0.0]])
REF = torch.tensor([[-1.0, -1.2, -1.0], [-0.5, -0.2, -9.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])


@pytest.mark.parametrize("variant, clip, expected", [
    # sequence ratios exp(0.5 + 0.2 - 1.0) = exp(-0.3) and exp(-0.5 + 0): unclipped at 0.9
    ("alol", 0.9, [[np.exp(-0.3)] * 3, [np.exp(-0.5)] * 2 + [0.0]]),
    ("alol", 0.2, [[0.8] * 3, [0.8] * 2 + [0.0]]),
    ("alol_seq", 0.9, [[np.exp(0.5), np.exp(0.2), np.exp(-1.0)], [np.exp(-0.5), 1.0, 0.0]]),
    ("alol_seq", 0.3, [[1.3, np.exp(0.2), 0.7], [0.7, 1.0, 0.0]]),
    ("alol_ref_free", 0.2, [[1.0] * 3, [1.0] * 3]),
])
def test_importance_weights_table(variant, clip, expected):
    got = importance_weights(LP, REF, MASK, variant, clip)
    assert np.allclose(got.numpy(), np.array(expected), atol=1e-6)


@pytest.mark.parametrize("variant", ["alol", "alol_seq", "alol_ref_free"])
def test_loss_gradient_is_advantage_times_weight_times_mean_logprob_gradient(variant):
    lp = LP.clone().requires_grad_(True)
    adv = torch.tensor([0.5, 2.0])
    loss, _ = alol_loss(lp, REF, MASK, adv, variant, clip=0.9)
    loss.backward()
    w = importance_weights(LP, REF, MASK, variant, 0.9)
    expected = -(adv[:, None] * w * MASK / MASK.sum(-1, keepdim=True)) / 2  # batch mean of token means
    assert torch.allclose(lp.grad, expected, atol=1e-6)


def test_encode_masks_the_completion_only():
    tok = build_char_tokenizer()
    rows = encode(tok, ["1+2=", "10+20="], ["3", "30"])
    assert rows.mask.sum(-1).tolist() == [2.0, 3.0]  # the answer's characters and EOS
    first = rows.ids[0, 1:][rows.mask[0].bool()].tolist()
    assert tok.decode(first[:-1]) == "3" and first[-1] == tok.eos_token_id
    assert rows.prompt_end.tolist() == [3, 5]


def test_training_raises_the_likelihood_of_positive_advantage_rows_only(tmp_path):
    build_tiny_model(TinyModel(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1), tmp_path / "m", seed=0)
    model, tok = load_path(str(tmp_path / "m"), ModelSpec())
    prompts, completions = ["1+1="] * 8 + ["2+2="] * 8, ["2", "3"] * 4 + ["4", "5"] * 4
    rewards = torch.tensor([1.0, 0.0] * 8)
    rows = encode(tok, prompts, completions)
    with torch.no_grad():
        start = (token_logprobs(model, rows.ids, rows.attn) * rows.mask).sum(-1)
    cfg = ALoLConfig(max_steps=30, per_device_train_batch_size=8, learning_rate=1e-2, logging_steps=10)
    logged = []
    steps, data = train(model, False, rows, rewards, cfg, lambda s, m: logged.append((s, m)))
    with torch.no_grad():
        end = (token_logprobs(model, rows.ids, rows.attn) * rows.mask).sum(-1)
    assert steps == 30 and [s for s, _ in logged] == [10, 20, 30]
    assert data["alol/rows_kept"] == 8  # the correct answers: reward 1 above the prompts' value 0.5
    good, bad = rewards.bool(), ~rewards.bool()
    assert (end - start)[good].mean() > 1.0 and (end - start)[good].mean() > (end - start)[bad].mean()


def test_rows_without_a_positive_advantage_are_refused(tmp_path):
    build_tiny_model(TinyModel(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1), tmp_path / "m", seed=0)
    model, tok = load_path(str(tmp_path / "m"), ModelSpec())
    rows = encode(tok, ["1+1=", "2+2="], ["2", "4"])
    with pytest.raises(ValueError, match="no row has a positive advantage"):
        train(model, False, rows, torch.tensor([1.0, 1.0]), ALoLConfig(max_steps=1), lambda s, m: None)


def test_stage_evaluates_every_eval_every_steps(tmp_path):
    from conftest import ROOT

    import rlft

    path = ROOT / "recipes" / "alol_arithmetic.yaml"
    small = {"data.train_size": 64, "data.eval_size": 8, "num_threads": 1, "output_dir": str(tmp_path),
             "stages.sft.model.tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1},
             "stages.sft.trainer.max_steps": 1, "stages.alol.trainer.max_steps": 4,
             "stages.alol.trainer.per_device_train_batch_size": 8, "stages.alol.eval.every": 2}
    result = rlft.run(rlft.load_recipe(path, small), run_dir=tmp_path / "run", echo=lambda s: None)
    stage = result.summary["stages"]["alol"]
    assert [e["step"] for e in stage["eval_history"]] == [2, 4] and stage["train"]["global_step"] == 4
