"""The one cache policy of everything planned from a recording (a trace's records, a watched run's plan, a lesion
plan): kept per model, weakly (a model that goes takes its plans with it), and per input by ``input_key``
(shape, dtype, memory layout) plus whatever else the plan depends on. Each user runs the model lightly, compares
the ops with the plan's, and re-plans (``put``) or drops (``forget``) where they differ."""
from __future__ import annotations

import weakref
from typing import Callable, Generic, TypeVar

from torch import Tensor, nn

T = TypeVar("T")


def input_key(x: Tensor) -> tuple:
    """What a plan depends on in an input (shape, dtype, memory layout: a channels-last input runs other ops)."""
    return tuple(x.shape), x.dtype, x.is_contiguous()


class PlanCache(Generic[T]):
    """Plans by model (weakly) and key."""

    def __init__(self) -> None:
        self._plans: weakref.WeakKeyDictionary[nn.Module, dict[tuple, T]] = weakref.WeakKeyDictionary()

    def get(self, model: nn.Module, key: tuple, make: Callable[[], T]) -> T:
        """The plan kept for ``key``, or ``make()``'s, kept."""
        plans = self._plans.setdefault(model, {})
        if key not in plans:
            plans[key] = make()
        return plans[key]

    def peek(self, model: nn.Module, key: tuple) -> T | None:
        return self._plans.get(model, {}).get(key)

    def put(self, model: nn.Module, key: tuple, plan: T) -> None:
        self._plans.setdefault(model, {})[key] = plan

    def forget(self, model: nn.Module, key: tuple) -> None:
        self._plans.get(model, {}).pop(key, None)

    def clear(self) -> None:
        self._plans.clear()


__all__ = ["PlanCache", "input_key"]
