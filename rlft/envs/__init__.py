"""Multi-turn environments for RL fine-tuning: the contract TRL's `environment_factory` takes, a registry
(built-ins by name, user classes as `package.module:Class`) and a built-in suite of procedurally generated
games with known optima (see docs/environments.md)."""

from rlft.envs.base import DEFAULT_MAX_TURNS, Environment
from rlft.envs.registry import ENVIRONMENTS, EnvSpec, register_env, resolve_env, summary, tools

__all__ = ["DEFAULT_MAX_TURNS", "ENVIRONMENTS", "EnvSpec", "Environment", "register_env", "resolve_env", "summary",
           "tools"]
