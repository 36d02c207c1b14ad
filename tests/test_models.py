"""Tiny models and tokenizers: built offline, saved, and loaded back through from_pretrained."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlft.core.config import ModelSpec
from rlft.models import ModelRef, build_char_tokenizer, load_model, lora_config, save_stage_model


def test_char_tokenizer_round_trips_every_printable_text():
    tok = build_char_tokenizer()
    text = "Q: 12 + 7 = ?\nA: {19} ~`!@#$%^&*()_-+=[]|\\:;\"'<>,./"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.pad_token == "<|pad|>" and tok.eos_token == "<|end|>"
    assert tok.pad_token_id != tok.eos_token_id


def test_chat_template_masks_only_the_assistant_turn():
    tok = build_char_tokenizer()
    messages = [{"role": "user", "content": "2+2="}, {"role": "assistant", "content": "4"}]
    out = tok.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(masked) == "4<|end|>"
    prompt = tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert tok.apply_chat_template(messages, tokenize=False).startswith(prompt)


def test_tiny_model_reloads_identically_through_from_pretrained(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert tok.decode(tok("7*8=56")["input_ids"]) == "7*8=56"  # no Qwen2-style tokenizer swap on reload
    again = load_model(ModelRef(base=str(tiny_model_dir)), ModelSpec(path=str(tiny_model_dir)))
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), n


def test_lora_adapter_chain_saves_and_merges(tiny_model_dir, tmp_path):
    from peft import get_peft_model

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, lora_config({"r": 4, "init_lora_weights": False}))
    ids = torch.tensor([tok("1+2=")["input_ids"]])
    with torch.no_grad():
        expected = peft_model(ids).logits
    ref = save_stage_model(peft_model, tok, tmp_path, ModelRef(base=str(tiny_model_dir)), is_adapter=True)
    assert ref.base == str(tiny_model_dir) and ref.adapters == [str(tmp_path / "adapter")]
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    ref.save(tmp_path / "output.json")
    merged = load_model(ModelRef.load(tmp_path / "output.json"), ModelSpec(path=str(tiny_model_dir)))
    assert not hasattr(merged, "peft_config")
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, expected, atol=1e-5, rtol=1e-5)
    kept = load_model(ref, ModelSpec(path=str(tiny_model_dir)), trainable_adapter=True)
    assert hasattr(kept, "peft_config")
    assert any(p.requires_grad for n, p in kept.named_parameters() if "lora_" in n)
