"""A dataset from the Hugging Face hub by name: `data: {hub: openai/gsm8k, config: main, split: train,
eval_split: test, columns: {question: prompt}}` is read with `datasets.load_dataset("openai/gsm8k", "main")`,
`columns` gives rlft's columns the values of the dataset's (`prompt` holds `question`; the dataset's own columns
stay, so that a reward reading `answer` or `solution` finds it, and one column may feed two: `{answer:
completion}` keeps `answer`), and the rows are checked by the rules of a local file's rows (rlft.data.files)
before training.

`hub` is what `load_dataset` takes: a hub id (downloaded once into the `datasets` cache; offline, only a cached
one loads) or a local folder laid out as a dataset repository (data files, and a README.md naming configs).
Validation loads it, as it reads local files, so a wrong config, split or column stops the run before any model
is built.
"""

from __future__ import annotations

import contextlib
import logging

from rlft.core.schema import ConfigError, join
from rlft.data.files import check_values

DEFAULT_SPLIT = "train"


def name(spec, split: str) -> str:
    """How messages name one split of the dataset.

    >>> from rlft.core.config import DataSpec
    >>> name(DataSpec(hub="openai/gsm8k", config="main"), "test")
    "hub dataset 'openai/gsm8k' config main split test"
    """
    return f"hub dataset '{spec.hub}'{f' config {spec.config}' if spec.config else ''} split {split}"


@contextlib.contextmanager
def _quiet_datasets():
    """`datasets` logs its own report of a failure before ours; keep the console to rlft's one error line."""
    log = logging.getLogger("datasets")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _problem(e: Exception) -> str:
    """One line for a failure inside `datasets`, saying when offline mode is why a hub id cannot be reached."""
    import datasets

    offline = datasets.config.HF_HUB_OFFLINE and isinstance(e, ConnectionError)
    offline = ("; offline (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set), only a dataset already in the datasets "
               "cache loads") if offline else ""  # fmt: skip
    return f"{type(e).__name__}: {' '.join(str(e).split())}{offline}"


def load(spec, key: str):
    """Every split of the dataset's configuration, as a `DatasetDict` (what `load_dataset` prepares anyway)."""
    from datasets import get_dataset_config_names, load_dataset

    with _quiet_datasets():
        try:
            configs = get_dataset_config_names(spec.hub)
        except Exception as e:  # datasets raises many types (not found, offline, unreadable): all mean the same here
            raise ConfigError(join(key, "hub"), f"cannot load dataset '{spec.hub}': {_problem(e)}") from None
        if spec.config is not None and spec.config not in configs:
            raise ConfigError(join(key, "config"), f"'{spec.config}' is not a configuration of '{spec.hub}'; it has: "
                              f"{', '.join(configs)}")  # fmt: skip
        try:
            return load_dataset(spec.hub, spec.config)
        except Exception as e:
            at = "config" if spec.config is None and len(configs) > 1 else "hub"  # datasets: "Config name is missing"
            raise ConfigError(join(key, at), f"cannot load dataset '{spec.hub}' (configurations: "
                              f"{', '.join(configs)}): {_problem(e)}") from None  # fmt: skip


def split_rows(splits, spec, key: str, field: str, required: tuple[str, ...]):
    """The split that `field` (`split` or `eval_split`) names, with rlft's columns added by `columns` and its
    rows checked: a mapped column the split lacks, or a column the stage needs that none provides, is refused
    naming the key and the columns the split has."""
    split = getattr(spec, field) or DEFAULT_SPLIT
    if split not in splits:
        raise ConfigError(join(key, field), f"'{split}' is not a split of '{spec.hub}'; it has: {', '.join(splits)}")
    ds, label = splits[split], name(spec, split)
    has = ", ".join(ds.column_names)
    for column, target in spec.columns.items():
        at = join(join(key, "columns"), column)
        if column not in ds.column_names:
            raise ConfigError(at, f"{label} has no column '{column}'; its columns: {has}")
        if target in ds.column_names and target != column:
            raise ConfigError(at, f"{label} has a column '{target}' already; map that one (or nothing) to "
                              f"'{target}' (its columns: {has})")  # fmt: skip
    for column, target in spec.columns.items():  # the arrow column itself, not a copy of its values
        if target != column:
            ds = ds.add_column(target, ds.data.column(column), feature=ds.features[column])
    missing = [c for c in required if c not in ds.column_names]
    if missing:
        example = ", ".join(f"{c}: {m}" for c, m in zip([c for c in ds.column_names if c not in required], missing))
        raise ConfigError(join(key, "columns"), f"the stage needs column(s) {', '.join(missing)}, which {label} "
                          f"lacks (its columns: {', '.join(ds.column_names)}); map one of its columns to each, e.g. "
                          f"columns: {{{example or 'question: prompt'}}}")  # fmt: skip
    if len(ds) == 0:
        raise ConfigError(join(key, field), f"{label} has no rows")
    check_values(ds, label, join(key, "hub"), required)
    return ds


def read(spec, key: str, required: tuple[str, ...]):
    """(training rows, held-out rows of `eval_split` or None), with rlft's columns, checked."""
    if spec.eval_split is not None and spec.eval_split == (spec.split or DEFAULT_SPLIT):
        raise ConfigError(join(key, "eval_split"), f"'{spec.eval_split}' is the training split too; name another "
                          "split, or leave eval_split out and set eval_size (rows split off the training split)")
    splits = load(spec, key)
    train = split_rows(splits, spec, key, "split", required)
    return train, split_rows(splits, spec, key, "eval_split", required) if spec.eval_split else None


def conversational(spec) -> bool:
    """Whether the (checked) dataset's `prompt`, after `columns`, holds message lists: read from its first row."""
    source = next((column for column, target in spec.columns.items() if target == "prompt"), "prompt")
    return isinstance(load(spec, "data")[spec.split or DEFAULT_SPLIT][0][source], list)
