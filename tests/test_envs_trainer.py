"""An rlft environment plugs into a plain `trl.GRPOTrainer(environment_factory=...)` unchanged: the trainer
renders its tools, resets one instance per rollout from the row's columns, and logs its `get_reward()` as
`rewards/<Class>/mean`. A random tiny model calls no tools, so this checks the wiring, not learning."""

import string

import pytest

from rlft.envs import resolve_env, tools


def tool_tokenizer():
    """A character-level tokenizer with Qwen's turn markers and TRL's Qwen2.5 chat template, which TRL
    recognises as tool-calling."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen2_5_chat_template

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|unk|>"]
    chars = [c for c in string.printable if c not in "\t\r\x0b\x0c"]
    core = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(specials + chars)}, merges=[], unk_token="<|unk|>"))
    core.decoder = decoders.Fuse()
    core.add_special_tokens(specials)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                  unk_token="<|unk|>", additional_special_tokens=specials[1:3])
    tok.chat_template = qwen2_5_chat_template
    return tok


@pytest.mark.parametrize("name, template", [("guess_number", "qwen2_5"), ("calculator", "qwen2_5"),
                                            ("guess_number", "tool_calling")])
def test_grpo_trains_with_an_rlft_environment(name, template, tmp_path):
    """TRL's own Qwen2.5 template on a tokenizer built here, and rlft's tiny one-line-per-tool template."""
    import torch
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(1)
    set_seed(0)
    from rlft.models import build_char_tokenizer

    tok = tool_tokenizer() if template == "qwen2_5" else build_char_tokenizer(template)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id, bos_token_id=None))
    spec = resolve_env(name, max_turns=4)
    rows = [{"prompt": [{"role": "user", "content": "Play. "}], **row} for row in spec.rows(4, seed=0)]
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, max_steps=2,
                      max_completion_length=200, learning_rate=1e-3, bf16=False, use_cpu=True, report_to="none",
                      logging_steps=1, save_strategy="no", gradient_checkpointing=False, seed=0)
    seen = []

    def episodes(environments, **columns):
        """Records the environments TRL hands to reward functions (one per rollout)."""
        seen.extend((type(e), e.max_turns, e.turns) for e in environments)
        return [None] * len(environments)

    trainer = GRPOTrainer(model=model, processing_class=tok, args=args, train_dataset=Dataset.from_list(rows),
                          reward_funcs=[episodes], environment_factory=spec.factory())
    assert sorted(t.__name__ for t in trainer.tools) == sorted(tools(spec.cls))
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if f"rewards/{spec.cls.__name__}/mean" in entry]
    assert len(logged) == 2
    assert all(0.0 <= entry[f"rewards/{spec.cls.__name__}/mean"] <= 1.0 for entry in logged)
    assert trainer.state.global_step == 2
    assert "tools/call_frequency" in logged[0]
    assert len(seen) == 4 and all(cls is spec.cls and budget == 4 and turns <= 4 for cls, budget, turns in seen)
