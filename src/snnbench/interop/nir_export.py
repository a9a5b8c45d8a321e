"""NIR export: the network of a snnbench spiking classifier as a ``nir.NIRGraph`` (units
and conventions: :mod:`snnbench.interop.nir`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ._nir_base import UnsupportedNode, _nir


def _np(t: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if isinstance(t, Tensor):
        a = t.detach().cpu().to(torch.float32).numpy().copy()
    else:
        a = np.asarray(t, dtype=np.float32)
    if shape is not None:
        a = np.broadcast_to(a, shape).astype(np.float32).copy()
    return a


def _neuron_node(name: str, module: nn.Module, shape: tuple[int, ...], dt: float, soft_reset: str):
    """NIR node of one neuron population (see the module docstring's table)."""
    nir = _nir()
    kind = type(module).__name__
    if kind == "LeakyIntegrator":
        beta = float(module.beta)
        if beta == 1.0:
            return nir.I(r=np.ones(shape, np.float32), metadata={"beta": beta})
        tau = dt / (1.0 - beta)
        return nir.LI(
            tau=np.full(shape, tau), r=np.full(shape, tau / dt), v_leak=np.zeros(shape),
            metadata={"beta": beta},
        )
    if kind == "CubaLIF":
        return _cuba_node(name, module, shape, dt, soft_reset)
    if kind not in ("LIF", "IF", "RecurrentLIF"):
        raise UnsupportedNode(
            f"layer {name!r}: {kind} has no NIR node (NIR has LIF, IF, CubaLIF, LI, I); "
            "export models built from LIF/IF neurons"
        )
    if getattr(module, "refractory_steps", 0):
        raise UnsupportedNode(f"layer {name!r}: a refractory period ({module.refractory_steps} steps) has no NIR counterpart")
    thr = module.threshold
    if isinstance(thr, Tensor) and thr.numel() != 1:
        thr = _np(thr, shape)
    else:
        thr = np.full(shape, float(thr), np.float32)
    reset = module.reset
    meta: dict[str, Any] = {}
    if reset == "soft":
        if soft_reset != "metadata":
            raise UnsupportedNode(
                f"layer {name!r}: {kind} with reset='soft' (subtract the threshold) has no NIR node: NIR "
                "neurons reset to v_reset. Train with neuron_kwargs reset: hard, or export(..., "
                "soft_reset='metadata') to keep it as node metadata that only snnbench reads"
            )
        meta["reset"] = "subtract"
    elif reset != "hard":
        raise UnsupportedNode(f"layer {name!r}: {kind} with reset={reset!r} has no NIR node (NIR resets to v_reset)")
    v_reset = np.full(shape, float(module.v_reset), np.float32)
    beta = module.beta
    beta_arr = np.broadcast_to(
        beta.detach().cpu().double().numpy() if isinstance(beta, Tensor) else np.float64(beta), shape
    ).copy()
    meta["beta"] = float(beta) if not isinstance(beta, Tensor) else beta_arr.tolist()
    if np.all(beta_arr == 1.0):
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=thr, v_reset=v_reset, metadata=meta)
    if np.any(beta_arr >= 1.0):
        raise UnsupportedNode(f"layer {name!r}: beta = 1 for some neurons and < 1 for others has no single NIR node")
    tau = dt / (1.0 - beta_arr)
    return nir.LIF(
        tau=tau, r=tau / dt, v_leak=np.zeros(shape), v_threshold=thr, v_reset=v_reset, metadata=meta,
    )


def _cuba_node(name: str, module: nn.Module, shape: tuple[int, ...], dt: float, soft_reset: str):
    """NIR ``CubaLIF`` of a snnbench ``CubaLIF`` population (``i_t = alpha i_{t-1} + x_t``,
    ``h_t = beta v_{t-1} + i_t``): ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``,
    ``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt`` (unit gains, as for LIF)."""
    nir = _nir()
    p = module.params()
    decays = []
    for label, d in (("alpha", p.alpha), ("beta", p.beta)):
        arr = np.broadcast_to(d.detach().cpu().double().numpy() if isinstance(d, Tensor) else np.float64(d), shape)
        if np.any(arr >= 1.0):
            raise UnsupportedNode(f"layer {name!r}: CubaLIF with {label} = 1 (no decay) has no finite NIR time constant")
        decays.append(arr.copy())
    meta: dict[str, Any] = {"alpha": decays[0].tolist(), "beta": decays[1].tolist()}
    if p.reset == "soft":
        if soft_reset != "metadata":
            raise UnsupportedNode(
                f"layer {name!r}: CubaLIF with reset='soft' (subtract the threshold) has no NIR node: NIR "
                "neurons reset to v_reset. Train with neuron_kwargs reset: hard, or export(..., "
                "soft_reset='metadata')"
            )
        meta["reset"] = "subtract"
    elif p.reset != "hard":
        raise UnsupportedNode(f"layer {name!r}: CubaLIF with reset={p.reset!r} has no NIR node")
    tau_syn, tau_mem = dt / (1.0 - decays[0]), dt / (1.0 - decays[1])
    return nir.CubaLIF(
        tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(shape),
        v_threshold=np.full(shape, float(p.threshold), np.float32),
        v_reset=np.full(shape, float(p.v_reset), np.float32), w_in=tau_syn / dt, metadata=meta,
    )


def _affine(layer: nn.Module, name: str):
    nir = _nir()
    if type(layer).__name__ not in ("Linear", "EventLinear"):
        raise UnsupportedNode(
            f"layer {name!r}: {type(layer).__name__} has no NIR node"
            + (" (per-connection delays; NIR's Delay node delays whole signals)" if "Delay" in type(layer).__name__ else "")
        )
    w = _np(layer.weight)
    if layer.bias is None:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=_np(layer.bias))


def _export_dt(layers: Any, dt: float | None) -> float:
    """Seconds per step: the neurons' common ``dt`` (ms) / 1000 unless ``dt`` is given."""
    if dt is None:
        dts = {float(m.dt) for _, _, m in layers() if hasattr(m, "dt")}
        if len(dts) > 1:
            raise ValueError(f"the layers use different dt {sorted(dts)} ms; pass export(..., dt=seconds)")
        dt = (dts.pop() if dts else 1.0) * 1e-3
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    return float(dt)


def _conv_stack(nir: Any, net: nn.Module, enc: tuple[int, ...], dt: float, soft_reset: str,
                nodes: dict[str, Any], edges: list[tuple[str, str]]) -> tuple[str, list[tuple[str, Any, Any]]]:
    """Input, conv (+ average pool) + neuron layers and the flatten of a ConvSNN; returns the
    last node and the fully connected layers that follow."""
    prev = "input"
    nodes["input"] = nir.Input(input_type=np.array(enc))
    shape = enc
    for i, (conv, pool, nrn) in enumerate(zip(net.convs, net.pools, net.conv_neurons)):
        nm = f"conv{i + 1}"
        if not isinstance(pool, nn.Identity) and type(pool).__name__ != "AvgPool2d":
            raise UnsupportedNode(
                f"layer {nm!r}: {type(pool).__name__} has no NIR node (NIR pools by sum or average); "
                "build the ConvSNN with pool=1 to export it"
            )
        nodes[nm] = nir.Conv2d(
            input_shape=shape[1:], weight=_np(conv.weight), stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups,
            bias=_np(conv.bias) if conv.bias is not None else np.zeros(conv.out_channels, np.float32),
        )
        edges.append((prev, nm))
        prev = nm
        with torch.no_grad():
            shape = tuple(pool(conv(torch.zeros(1, *shape))).shape[1:])
        if type(pool).__name__ == "AvgPool2d":
            k, s, p = (pool.kernel_size, pool.stride, pool.padding)
            pair = lambda v: np.array(v if isinstance(v, (tuple, list)) else (v, v))  # noqa: E731
            nodes[f"{nm}.pool"] = nir.AvgPool2d(kernel_size=pair(k), stride=pair(s), padding=pair(p))
            edges.append((prev, f"{nm}.pool"))
            prev = f"{nm}.pool"
        nodes[f"{nm}.lif"] = _neuron_node(nm, nrn, shape, dt, soft_reset)
        edges.append((prev, f"{nm}.lif"))
        prev = f"{nm}.lif"
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
    edges.append((prev, "flatten"))
    prev = "flatten"
    fcs = [(f"fc{i + 1}", fc, nrn) for i, (fc, nrn) in enumerate(zip(net.fcs, net.neurons))]
    return prev, fcs


def _recurrent_stack(nir: Any, net: nn.Module, enc: tuple[int, ...], dt: float, soft_reset: str,
                     nodes: dict[str, Any], edges: list[tuple[str, str]]) -> str:
    """Input and the recurrent layers of a RecurrentSNN (the recurrence as a graph cycle);
    returns the last node."""
    prev = "input"
    nodes["input"] = nir.Input(input_type=np.array([math.prod(enc)]))
    for i, rec in enumerate(net.recs):
        nm = f"rec{i + 1}"
        h = (rec.hidden,)
        nodes[f"{nm}.w_in"] = _affine(rec.fc_in, nm)
        nodes[f"{nm}.lif"] = _neuron_node(nm, rec, h, dt, soft_reset)
        nodes[f"{nm}.w_rec"] = _affine(rec.fc_rec, f"{nm}_rec")
        edges += [(prev, f"{nm}.w_in"), (f"{nm}.w_in", f"{nm}.lif"),
                  (f"{nm}.lif", f"{nm}.w_rec"), (f"{nm}.w_rec", f"{nm}.lif")]
        prev = f"{nm}.lif"
    return prev


def export(model: nn.Module, *, dt: float | None = None, soft_reset: str = "error") -> Any:
    """NIR graph of a spiking classifier's network (a loaded :class:`TrainedModel`, or a
    ``FeedForwardSNN``, ``RecurrentSNN`` or ``ConvSNN``).

    ``dt`` (seconds per step) defaults to the neurons' ``dt`` (ms) / 1000. ``soft_reset``:
    ``"error"`` (default) refuses subtractive resets, ``"metadata"`` exports them as LIF
    nodes marked ``{"reset": "subtract"}`` (see the module docstring).
    """
    nir = _nir()
    if soft_reset not in ("error", "metadata"):
        raise ValueError(f"soft_reset must be 'error' or 'metadata', got {soft_reset!r}")
    net = getattr(model, "network", model)
    layers = getattr(net, "_layers", None)
    if not callable(layers) or not hasattr(net, "encoded_shape"):
        raise UnsupportedNode(
            f"{type(net).__name__} is not a snnbench spiking classifier; export takes FeedForwardSNN, "
            "RecurrentSNN or ConvSNN (or snnbench.load(run_dir))"
        )
    kind = type(net).__name__
    if kind not in ("FeedForwardSNN", "RecurrentSNN", "ConvSNN"):
        layers_of = {type(mod).__name__ for mod in net.modules()}
        why = (" (DelayedLinear: one learned delay per connection; NIR's Delay node delays a whole "
               "signal per neuron)" if "DelayedLinear" in layers_of or kind == "DelaySNN" else
               " (TimeBatchNorm: batch norm over time has no NIR node)" if "TimeBatchNorm" in layers_of
               else "")
        raise UnsupportedNode(f"{kind} has no NIR export{why}")
    dt = _export_dt(layers, dt)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    enc = tuple(int(s) for s in net.encoded_shape)
    if kind == "ConvSNN":
        prev, fcs = _conv_stack(nir, net, enc, dt, soft_reset, nodes, edges)
    elif kind == "RecurrentSNN":
        prev, fcs = _recurrent_stack(nir, net, enc, dt, soft_reset, nodes, edges), []
    else:
        prev = "input"
        nodes["input"] = nir.Input(input_type=np.array([math.prod(enc)]))
        fcs = [(f"fc{i + 1}", fc, nrn) for i, (fc, nrn) in enumerate(zip(net.fcs, net.neurons))]
    for nm, fc, nrn in [*fcs, ("out", net.out, net.out_neurons)]:
        nodes[nm] = _affine(fc, nm)
        edges.append((prev, nm))
        suffix = "li" if type(nrn).__name__ == "LeakyIntegrator" else "lif"
        nodes[f"{nm}.{suffix}"] = _neuron_node(nm, nrn, (fc.out_features,), dt, soft_reset)
        edges.append((nm, f"{nm}.{suffix}"))
        prev = f"{nm}.{suffix}"
    nodes["output"] = nir.Output(output_type=np.array([net.num_classes]))
    edges.append((prev, "output"))
    meta = {"dt": dt, "producer": "snnbench", "model": kind, "readout": net.readout,
            "encoder": net.encoder_name, "num_steps": int(net.num_steps)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write(path: str | Path, graph: Any) -> None:
    """Write ``graph`` to an HDF5 ``.nir`` file."""
    _nir().write(str(path), graph)
