"""Models and tokenizers: build a tiny one offline, load any one with `from_pretrained`, apply LoRA, save.

Every model rlft trains is loaded through `AutoModelForCausalLM.from_pretrained(path)`: a tiny model is
first built from a config and saved to the run folder, so the same code path loads a local folder, a tiny
model or a hub id such as `Qwen/Qwen2.5-0.5B-Instruct`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rlft.core.config import ModelSpec, TinyModel, check_model_path
from rlft.core.paths import MODEL_REF_KEYS, stage_output
from rlft.core.runfiles import read_json
from rlft.core.schema import ConfigError
from rlft.core.tracking import writing

# Roles are single tokens so that prompts stay short; the end-of-turn token is the eos token so that
# generation stops right after the answer.
SPECIAL_TOKENS = {"pad": "<|pad|>", "eos": "<|end|>", "unk": "<|unk|>"}
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}<|assistant|>{% generation %}{{ message['content'] }}<|end|>"
    "{% endgeneration %}"
    "{% else %}<|{{ message['role'] }}|>{{ message['content'] }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


# Tool-calling templates share Qwen's turn markers (`<|im_end|>` ends a turn and is the eos token) and its
# call and result format, which TRL parses (`<tool_call>{json}</tool_call>`, `<tool_response>`). The four
# tags are single tokens, as in Qwen's own vocabulary, so a sampled call cannot misspell them.
TOOL_SPECIAL_TOKENS = {"pad": "<|endoftext|>", "eos": "<|im_end|>", "unk": "<|unk|>"}
TOOL_ROLE_TOKENS = ["<|im_start|>"]
TOOL_TEMPLATES = ("tool_calling", "qwen2_5")
TOOL_TAGS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# `tool_calling`: Qwen2.5's template with each tool in one line, `name(arg: type, ...) description`, in
# place of its JSON schemas and instructions (about 900 characters for one tool, which a character-level
# model re-reads at every turn of every episode), and no default system message.
COMPACT_TOOL_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}"
    "{%- else %}{%- set system = '' %}{%- endif %}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\n' }}{%- if system %}{{- system + '\n' }}{%- endif %}{{- 'Tools:' }}"
    "{%- for tool in tools %}{%- set f = tool.function if tool.function is defined else tool %}"
    "{{- '\n' + f.name + '(' }}"
    "{%- if f.parameters is defined and f.parameters.properties is defined %}"
    "{%- for arg, p in f.parameters.properties.items() %}"
    "{{- arg + ': ' + (p.type if p.type is string else 'any') }}{%- if not loop.last %}{{- ', ' }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- ') ' + (f.description if f.description is defined else '') }}"
    "{%- endfor %}{{- '<|im_end|>\n' }}"
    "{%- elif system %}{{- '<|im_start|>system\n' + system + '<|im_end|>\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' and loop.first %}"
    "{%- elif message.role in ['user', 'system'] or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant' }}{%- if message.content %}{{- '\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\n<tool_call>{\"name\": \"' + tool_call.name + '\", \"arguments\": ' }}"
    "{{- tool_call.arguments | tojson }}{{- '}</tool_call>' }}"
    "{%- endfor %}{{- '<|im_end|>\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\n<tool_response>' + message.content + '</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)


def build_char_tokenizer(chat_template: str = "plain"):
    """A character-level tokenizer over printable ASCII plus newline, with pad/eos/unk and a chat template
    (`plain`: single-token roles; `tool_calling`: Qwen's turns and call format with one line per tool;
    `qwen2_5`: TRL's Qwen2.5 template as it is). The tool templates carry the response template that TRL's
    `parse_response` reads tool calls with.

    >>> tok = build_char_tokenizer()
    >>> ids = tok("12 + 7 = 19")["input_ids"]
    >>> len(ids), tok.decode(ids)
    (11, '12 + 7 = 19')
    >>> tok.apply_chat_template([{"role": "user", "content": "1+1="}], tokenize=False, add_generation_prompt=True)
    '<|user|>1+1=<|assistant|>'
    >>> from trl.chat_template_utils import supports_tool_calling
    >>> supports_tool_calling(build_char_tokenizer("tool_calling")), build_char_tokenizer("tool_calling").eos_token
    (True, '<|im_end|>')
    >>> def guess(n: int) -> str:
    ...     \"\"\"Guess the number.
    ...
    ...     Args:
    ...         n: the guess
    ...     \"\"\"
    >>> tok = build_char_tokenizer("tool_calling")
    >>> print(tok.apply_chat_template([{"role": "user", "content": "Go."}], tools=[guess], tokenize=False,
    ...                               add_generation_prompt=True))
    <|im_start|>system
    Tools:
    guess(n: integer) Guess the number.<|im_end|>
    <|im_start|>user
    Go.<|im_end|>
    <|im_start|>assistant
    <BLANKLINE>
    >>> tok("<tool_call>{}</tool_call>")["input_ids"][0] == tok.convert_tokens_to_ids("<tool_call>")
    True
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    tools = chat_template in TOOL_TEMPLATES
    special, roles = (TOOL_SPECIAL_TOKENS, TOOL_ROLE_TOKENS) if tools else (SPECIAL_TOKENS, ROLE_TOKENS)
    specials = list(special.values()) + roles
    chars = [c for c in string.printable if c not in "\t\r\x0b\x0c"]
    tags = TOOL_TAGS if chat_template == "tool_calling" else []
    vocab = {tok: i for i, tok in enumerate(specials + tags + chars)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=SPECIAL_TOKENS["unk"]))
    core.decoder = decoders.Fuse()
    core.add_special_tokens(specials)
    # Plain added tokens: matched whole, and kept in decoded text (TRL parses calls from the text).
    core.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in tags])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=special["pad"],
        eos_token=special["eos"],
        unk_token=special["unk"],
        additional_special_tokens=[special["eos"], *roles] if tools else roles,
    )
    if tools:
        from trl.chat_template_utils import qwen2_5_chat_template, qwen3_template

        tok.chat_template = COMPACT_TOOL_TEMPLATE if chat_template == "tool_calling" else qwen2_5_chat_template
        tok.response_template = qwen3_template
    else:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_config(spec: TinyModel, tok=None):
    """The LlamaConfig of a tiny model spec (with the character tokenizer's vocabulary and special tokens)."""
    from transformers import LlamaConfig

    tok = tok or build_char_tokenizer(spec.chat_template)
    return LlamaConfig(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size or 4 * spec.hidden_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )


def build_tiny_model(spec: TinyModel, out_dir: str | Path, seed: int) -> Path:
    """Build a randomly initialised Llama and its tokenizer, save both to `out_dir`, return the folder."""
    from transformers import LlamaForCausalLM, set_seed

    tok = build_char_tokenizer(spec.chat_template)
    config = tiny_config(spec, tok)
    set_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    out_dir = Path(out_dir)
    save_folder(out_dir, "the tiny model", lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))
    return out_dir


def save_folder(target: Path, what: str, save) -> None:
    """Run `save(folder)` into `<target>.tmp`, then rename it to `target`: a folder named `target` is always
    whole. When the save fails (disk full), the partial copy is removed, which frees its space, and the
    error is a WriteError naming `target` and `what` it is."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with writing(target, what):
            save(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


# ---------------------------------------------------------------- artifacts handed between stages


@dataclass
class ModelRef:
    """A model on disk: a base folder (or hub id) plus LoRA adapters to apply in order, and its tokenizer.

    This is what a stage leaves for later stages (`output.json`); loading merges all adapters but the last
    when `merge_adapter` is false, so a chain SFT-LoRA -> GRPO-LoRA needs no merged copy on disk.
    """

    base: str
    adapters: list[str] = field(default_factory=list)
    tokenizer: str | None = None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, path: Path) -> ModelRef:
        return cls(**read_json(path, "the stage's model reference", MODEL_REF_KEYS, only=True))


def path_ref(path: str, tokenizer: str | None = None, key: str = "") -> ModelRef:
    """The model a `model.path` (or `--model`) names: for a finished run's stage folder, the model its
    output.json names (base, adapters, tokenizer); any other folder or hub id is the model itself."""
    saved = stage_output(path, key)
    ref = ModelRef(**saved) if saved is not None else ModelRef(base=path, tokenizer=path)
    return dataclasses.replace(ref, tokenizer=tokenizer) if tokenizer else ref


def torch_dtype(name: str) -> torch.dtype:
    """`auto` is bf16 on a GPU that supports it, else float32 (CPU training in half precision is slow)."""
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, name)


def folder_problem(path: str) -> str | None:
    """Why a local folder cannot be a saved model (transformers' own message for an empty folder talks about
    tokenizer backends); None for a model folder or anything that is not a local folder (a hub id)."""
    folder = Path(path).expanduser()
    if folder.is_dir() and not any((folder / n).is_file() for n in ("config.json", "adapter_config.json")):
        return (f"cannot load '{path}': the folder has no config.json, so it is not a saved model (give a folder "
                "written by save_pretrained, a finished run's stage folder with output.json, or a hub id)")
    return None


def load_tokenizer(path: str, trust_remote_code: bool = False):
    """Load a tokenizer; a missing pad token falls back to eos, as TRL does."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(ref: ModelRef, spec: ModelSpec, trainable_adapter: bool = False, head: str = "causal"):
    """Load base + adapters through from_pretrained. Returns a plain model, or a PeftModel when the last
    adapter is kept (`trainable_adapter`: continue training it; otherwise it is merged).

    `head="reward"` loads the same weights as a sequence classifier with one output (a reward model; its
    `score` head is new unless the folder already is a reward model).
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    kwargs = {"dtype": torch_dtype(spec.dtype), "trust_remote_code": spec.trust_remote_code}
    if head == "reward":
        model = AutoModelForSequenceClassification.from_pretrained(ref.base, num_labels=1, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(ref.base, **kwargs)
    if ref.adapters:
        from peft import PeftModel

        for i, adapter in enumerate(ref.adapters):
            keep = trainable_adapter and i == len(ref.adapters) - 1
            model = PeftModel.from_pretrained(model, adapter, is_trainable=keep)
            if not keep:
                model = model.merge_and_unload()
        if not trainable_adapter:  # peft froze the base while loading the adapter; merged, it trains in full
            model.requires_grad_(True)
    return model


def lora_config(fields: dict, task_type: str = "CAUSAL_LM"):
    """peft LoraConfig from a recipe's `lora:` block; `target_modules` defaults to all linear layers."""
    from peft import LoraConfig

    return LoraConfig(**{"target_modules": "all-linear", "task_type": task_type, **fields})


def save_stage_model(model, tokenizer, out_dir: Path, source: ModelRef, is_adapter: bool) -> ModelRef:
    """Save a trained model (or only its adapter) and return the reference later stages load from."""
    target = out_dir / ("adapter" if is_adapter else "model")
    what = "the stage's " + ("LoRA adapter" if is_adapter else "model")
    save_folder(target, what, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    if is_adapter:
        return ModelRef(base=source.base, adapters=[*source.adapters, str(target)], tokenizer=str(target))
    return ModelRef(base=str(target), tokenizer=str(target))


def load_path(model: str, spec):
    """(model, tokenizer) from a folder or hub id, or from a run's stage folder (its output.json names the
    base, the adapters and the tokenizer); dtype and trust_remote_code from the stage's model `spec`."""
    check_model_path(model, "--model")
    ref = path_ref(model, key="--model")
    try:
        lm = load_model(ref, dataclasses.replace(spec, path=ref.base, tiny=None, from_stage=None))
        return lm, load_tokenizer(ref.tokenizer or ref.base, spec.trust_remote_code)
    except (OSError, ValueError) as e:
        raise ConfigError("--model", f"cannot load '{model}': {str(e).splitlines()[0]}") from None

