r"""Surrogate gradients: a Heaviside step forward, a smooth derivative backward.

A spike is :math:`S = \Theta(u)` with :math:`u = v - \vartheta` (membrane minus threshold,
in units of the threshold voltage). The step has zero derivative almost everywhere, so
backward substitutes :math:`\partial S / \partial u \approx \sigma'(u)` for a smooth
:math:`\sigma`. Every surrogate here is an object with a slope parameter ``alpha`` and two
methods:

- ``surrogate(u)`` returns spikes (0./1. in ``u``'s dtype) whose gradient is ``derivative(u)``;
- ``surrogate.derivative(u)`` is the analytic :math:`\sigma'(u)`, used by fused kernels that
  write their own backward.
"""

from __future__ import annotations

import abc
import math

import torch

from .._validation import check_positive


class _HeavisideWithSurrogate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        ctx.surrogate = surrogate
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (u,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(u), None


class Surrogate(abc.ABC):
    """Base class: subclasses define ``derivative(u)`` and its antiderivative ``primitive(u)``,
    and the slope ``default_alpha`` used when ``alpha`` is not given."""

    name = "base"
    default_alpha: float

    def __init__(self, alpha: float | None = None) -> None:
        if alpha is None:
            alpha = getattr(self, "default_alpha", None)
            if alpha is None:
                raise ValueError(f"alpha must be given: {type(self).__name__} has no default_alpha")
        self.alpha = check_positive("alpha", alpha)

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return _HeavisideWithSurrogate.apply(u, self)

    @abc.abstractmethod
    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        """The surrogate :math:`\\partial S/\\partial u` used backward."""

    @abc.abstractmethod
    def primitive(self, u: torch.Tensor) -> torch.Tensor:
        """The smooth function whose derivative is used backward (for gradchecks)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.alpha == other.alpha  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.alpha))


class ATan(Surrogate):
    r""":math:`\sigma(u) = \tfrac{1}{\pi}\arctan(\tfrac{\pi}{2}\alpha u) + \tfrac12`,
    :math:`\sigma'(u) = \frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha u)^2}` (Fang et al. 2021)."""

    name = "atan"
    default_alpha = 2.0

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * u) ** 2)

    def primitive(self, u: torch.Tensor) -> torch.Tensor:
        return torch.atan(math.pi / 2 * self.alpha * u) / math.pi + 0.5


class FastSigmoid(Surrogate):
    r"""SuperSpike (Zenke & Ganguli 2018): :math:`\sigma'(u) = 1 / (1 + \alpha|u|)^2`,
    the derivative of :math:`\sigma(u) = u / (1 + \alpha|u|)` (peak slope 1 at u = 0)."""

    name = "fast_sigmoid"
    default_alpha = 25.0

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1 + self.alpha * u.abs()) ** 2

    def primitive(self, u: torch.Tensor) -> torch.Tensor:
        return u / (1 + self.alpha * u.abs())


class Triangle(Surrogate):
    r"""Piecewise linear (Esser et al. 2016): :math:`\sigma'(u) = \alpha\max(0, 1 - \alpha|u|)`."""

    name = "triangle"
    default_alpha = 1.0

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return self.alpha * torch.clamp(1 - self.alpha * u.abs(), min=0)

    def primitive(self, u: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        au = torch.clamp(a * u, -1, 1)
        return au - 0.5 * au * au.abs()


class Sigmoid(Surrogate):
    r"""Logistic: :math:`\sigma(u) = 1/(1+e^{-\alpha u})`, :math:`\sigma' = \alpha\sigma(1-\sigma)`."""

    name = "sigmoid"
    default_alpha = 4.0

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.alpha * u)
        return self.alpha * s * (1 - s)

    def primitive(self, u: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * u)


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (ATan, FastSigmoid, Triangle, Sigmoid)
}


def get_surrogate(spec: str | Surrogate, alpha: float | None = None) -> Surrogate:
    """Return a surrogate from a name (``"atan"``, ``"fast_sigmoid"``, ``"triangle"``,
    ``"sigmoid"``) and optional slope, or pass an existing instance through."""
    if isinstance(spec, Surrogate):
        return spec
    if spec not in SURROGATES:
        raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {spec!r}")
    cls = SURROGATES[spec]
    return cls(alpha)
