"""The one cache policy of everything planned from a recording (a trace's records, a watched run's plan, a lesion
plan): kept per model, weakly (a model that goes takes its plans with it), and per input by ``input_key``
(shape, dtype, memory layout) plus whatever else the plan depends on; and the one control flow over it,
``planned``: run the model lightly under the kept plan, compare the ops it ran with the plan's, and re-plan from
this input where they differ (its forward took another path for these values)."""
from __future__ import annotations

import weakref
from typing import Callable, Generic, Protocol, TypeVar

from torch import Tensor, nn

T = TypeVar("T")
R = TypeVar("R")


class Signed(Protocol):
    """A plan: the ops (their functions, in order) the forward ran when it was made."""

    @property
    def signature(self) -> tuple[str, ...]: ...


P = TypeVar("P", bound=Signed)


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


def planned(cache: PlanCache[P], model: nn.Module, key: tuple, attempt: Callable[[P], tuple[tuple[str, ...], R]],
            fresh: Callable[[P | None], tuple[P, R | None]], plan: P | None = None, make: Callable[[], P] | None = None,
            replan: Callable[[], None] | None = None) -> tuple[P, R]:
    """Run light, compare, re-plan. ``attempt(plan)`` runs the model under a plan and returns the ops it ran and
    its result; where they are the plan's, that is the answer. The plan tried is ``plan``, else the one kept for
    ``key``, else ``make()``'s (kept); without one, or where the ops differ, ``replan()`` resets what the
    attempt's callbacks kept and ``fresh(old)`` plans from this input, with its result if it has one (else the
    attempt is repeated under the fresh plan). The fresh plan is kept for ``key``."""
    plan = plan or cache.peek(model, key)
    if plan is None and make is not None:
        plan = cache.get(model, key, make)
    if plan is not None:
        ops, result = attempt(plan)
        if ops == plan.signature:
            return plan, result
        if replan is not None:
            replan()
    new, result = fresh(plan)
    cache.put(model, key, new)
    return new, (attempt(new)[1] if result is None else result)


__all__ = ["PlanCache", "Signed", "input_key", "planned"]
