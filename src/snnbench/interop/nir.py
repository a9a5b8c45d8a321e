r"""NIR (Neuromorphic Intermediate Representation) export and import.

``export(model) -> nir.NIRGraph`` writes the network of a spiking classifier (the part
between the encoder and the readout: the graph's input is the encoded input of one time
step, its output the output layer's spikes, or its membrane for membrane readouts);
``load(graph) -> NIRNetwork`` builds an ``nn.Module`` that runs a graph on time-first
input ``[T, B, *input]`` and returns ``[T, B, *output]``. ``write``/``read`` go through
``nir.write``/``nir.read`` (HDF5 ``.nir`` files).

Units and conventions (NIR is continuous time; snnbench is discrete with step ``dt``).
NIR's LIF is :math:`\tau \dot v = (v_{leak} - v) + R I`, spike when :math:`v > v_{th}`,
then :math:`v \leftarrow v_{reset}`. One forward-Euler step of length ``dt`` gives

.. math::

    v_t = (1 - \tfrac{dt}{\tau}) v_{t-1} + \tfrac{dt}{\tau} v_{leak} + \tfrac{dt R}{\tau} I_t ,

which is snnbench's :math:`h_t = \beta v_{t-1} + x_t` with

=====================  ==========================================================
NIR                    snnbench
=====================  ==========================================================
``tau``                ``dt / (1 - beta)`` (seconds; ``dt`` the graph's time step)
``r``                  ``tau / dt = 1 / (1 - beta)`` (unit gain: ``dt R / tau = 1``)
``v_leak``             0
``v_threshold``        ``threshold``
``v_reset``            ``v_reset`` (``reset="hard"``)
IF ``r``, LI, I        IF: ``r = 1`` (beta = 1); LI: ``tau``, ``r`` as LIF (the
                       non-spiking output integrator of membrane readouts)
CubaLIF                ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``, ``tau_mem``
                       and ``r`` as LIF (snnbench's ``CubaLIF``, where installed)
=====================  ==========================================================

This is snnTorch's and Norse's discretisation (both integrate NIR neurons with forward
Euler); ``dt`` defaults to the neurons' own ``dt`` (ms) in seconds and is stored in the
graph's metadata (``metadata["dt"]``), which :func:`load` reads back. Conventions that NIR
cannot express are refused with an error naming the layer: subtractive (``"soft"``) reset
(NIR neurons reset to ``v_reset``) unless ``soft_reset="metadata"``, which writes it as node
metadata ``{"reset": "subtract"}`` that snnbench honours and other tools ignore (they then
reset to ``v_reset``); no reset; refractory periods; adaptive thresholds; Izhikevich;
max pooling; per-connection delays. snnbench spikes when ``h >= threshold``, NIR when
``v > v_threshold``: the two differ only when the membrane lands exactly on the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["NIRNetwork", "export", "load", "read", "write", "UnsupportedNode"]


class UnsupportedNode(ValueError):
    """A layer or node that has no counterpart on the other side; the message names it."""


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "NIR export/import needs the 'nir' package: pip install 'snnbench[interop]'"
        ) from None
    return nir


# -- export ---------------------------------------------------------------------------------


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
        why = (" (DelayedLinear: one learned delay per connection; NIR's Delay node delays a whole "
               "signal per neuron)" if kind == "DelaySNN" else "")
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


def read(path: str | Path) -> Any:
    """Read a ``.nir`` file; a missing or unreadable file raises a one-line error."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"NIR file {str(p)!r} does not exist")
    try:
        return _nir().read(str(p))
    except (OSError, KeyError, AssertionError) as err:
        raise ValueError(f"{str(p)!r} is not a readable NIR file ({err})") from None


# -- import ---------------------------------------------------------------------------------


def _t(a: Any) -> Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def _uniform(name: str, field: str, a: Any) -> float | None:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size and np.all(arr == arr.flat[0]):
        return float(arr.flat[0])
    return None


class _Folded(nn.Module):
    """A per-sample layer applied to all time steps at once (``[T*B, ...]`` folded)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        t, b = x.shape[:2]
        y = self.layer(x.reshape(t * b, *x.shape[2:]))
        return y.reshape(t, b, *y.shape[1:])


class _Lambda(nn.Module):
    def __init__(self, fn: Callable[[Tensor], Tensor], desc: str) -> None:
        super().__init__()
        self.fn, self.desc = fn, desc

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.desc


class _Neuron(nn.Module):
    """A snnbench neuron population fed ``gain * I + bias`` (NIR's R, dt/tau and v_leak)."""

    def __init__(self, neuron: nn.Module, gain: Tensor | None, bias: Tensor | None) -> None:
        super().__init__()
        self.neuron = neuron
        self.register_buffer("gain", gain)
        self.register_buffer("bias", bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.gain is not None:
            x = x * self.gain
        if self.bias is not None:
            x = x + self.bias
        return self.neuron(x)[0]


class _Recurrent(nn.Module):
    """LIF with an input Affine and a recurrent Linear: snnbench's RecurrentLIF."""

    def __init__(self, rlif: nn.Module) -> None:
        super().__init__()
        self.rlif = rlif

    def forward(self, x: Tensor) -> Tensor:
        return self.rlif(x)[0]


class _Delay(nn.Module):
    """``y_t = x_{t - d}`` per neuron (zeros before the start); ``d`` in steps."""

    def __init__(self, steps: Tensor) -> None:
        super().__init__()
        self.register_buffer("steps", steps.long())

    def forward(self, x: Tensor) -> Tensor:
        t = x.shape[0]
        idx = torch.arange(t, device=x.device).view(t, *([1] * (x.ndim - 1))) - self.steps
        valid = idx >= 0
        idx = idx.clamp_min(0).expand(t, *x.shape[1:]) if idx.shape != x.shape else idx.clamp_min(0)
        out = torch.gather(x, 0, idx.expand_as(x).contiguous())
        return out * valid.to(x.dtype)


def _lif_params(name: str, node: Any, dt: float) -> tuple[dict[str, Any], Tensor | None, Tensor | None]:
    """snnbench LIF kwargs, input gain and constant input of a NIR LIF/IF/LI node."""
    nir = _nir()
    meta = dict(getattr(node, "metadata", None) or {})
    if isinstance(node, (nir.IF, nir.I)):
        beta = np.ones_like(np.asarray(node.r, dtype=np.float64))
        gain = np.asarray(node.r, dtype=np.float64)
        bias = None
    else:
        tau = np.asarray(node.tau, dtype=np.float64)
        if np.any(tau <= 0) or not np.all(np.isfinite(tau)):
            raise ValueError(f"NIR node {name!r}: tau must be positive and finite, got {tau.flat[0]}")
        beta = 1.0 - dt / tau
        if np.any(beta < 0):
            raise UnsupportedNode(
                f"NIR node {name!r}: tau {tau.min():g} s is shorter than the time step dt = {dt:g} s "
                "(forward Euler needs dt <= tau); load with a smaller dt"
            )
        gain = np.asarray(node.r, dtype=np.float64) * dt / tau
        v_leak = np.asarray(node.v_leak, dtype=np.float64)
        bias = _t(dt / tau * v_leak) if np.any(v_leak != 0) else None
    # snnbench's own export records beta exactly; 1 - dt/tau equals it up to float64 rounding
    if "beta" in meta and np.allclose(np.asarray(meta["beta"], dtype=np.float64), beta, rtol=0, atol=1e-9):
        beta = np.broadcast_to(np.asarray(meta["beta"], dtype=np.float64), beta.shape)
    b = _uniform(name, "beta", beta)
    kw: dict[str, Any] = {}
    if b is None:
        raise UnsupportedNode(
            f"NIR node {name!r}: a different tau per neuron is not supported by the importer yet"
        )
    kw["beta"] = b
    g = None if np.allclose(gain, 1.0, rtol=1e-9, atol=0) else _t(gain)
    if not isinstance(node, (nir.LI, nir.I)):
        thr = _uniform(name, "v_threshold", node.v_threshold)
        vr = _uniform(name, "v_reset", node.v_reset)
        if thr is None or vr is None:
            raise UnsupportedNode(f"NIR node {name!r}: per-neuron thresholds or resets are not supported")
        kw.update(threshold=thr, v_reset=vr, reset="soft" if meta.get("reset") == "subtract" else "hard")
    return kw, g, bias


def _flatten_graph(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested graphs inlined (their Input/Output become pass-throughs)."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    alias_in: dict[str, list[str]] = {}
    alias_out: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten_graph(node, full + "/")
            ins = [full + "/" + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [full + "/" + k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            for k in ins + outs:  # the subgraph's own Input/Output become identities
                sub_nodes[k] = None
            nodes.update(sub_nodes)
            edges += sub_edges
            alias_in[full], alias_out[full] = ins, outs
        else:
            nodes[full] = node
    for a, b in graph.edges:
        srcs = alias_out.get(prefix + a, [prefix + a])
        dsts = alias_in.get(prefix + b, [prefix + b])
        edges += [(s, d) for s in srcs for d in dsts]
    return nodes, edges


class NIRNetwork(nn.Module):
    """A NIR graph as a module: ``forward(x [T, B, *input]) -> [T, B, *output]``.

    Every node runs over the whole sequence (synapses folded over ``T*B``, neurons through
    snnbench's kernels); a node's input is the sum of its predecessors' outputs. A LIF node
    in a cycle with one Affine/Linear (``LIF -> W -> LIF``) is a recurrent LIF layer: the
    recurrent input uses the previous step's spikes.
    """

    def __init__(self, graph: Any, dt: float | None = None) -> None:
        super().__init__()
        nir = _nir()
        if not isinstance(graph, nir.NIRGraph):
            raise ValueError(f"load() takes a nir.NIRGraph, got {type(graph).__name__}")
        meta = dict(getattr(graph, "metadata", None) or {})
        if dt is None:
            dt = meta.get("dt")
        if dt is None:
            raise ValueError(
                "the graph carries no time step (metadata['dt']); pass dt= in seconds, e.g. dt=1e-4 "
                "for a graph from snnTorch, Norse's default is 1e-3"
            )
        self.dt = float(dt)
        nodes, edges = _flatten_graph(graph)
        preds: dict[str, list[str]] = {n: [] for n in nodes}
        succs: dict[str, list[str]] = {n: [] for n in nodes}
        for a, b in edges:
            if a not in nodes or b not in nodes:
                raise ValueError(f"NIR graph edge ({a!r}, {b!r}) names a node the graph lacks")
            preds[b].append(a)
            succs[a].append(b)
        self.inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
        self.outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise UnsupportedNode(
                f"the importer runs graphs with one Input and one Output; this one has inputs "
                f"{self.inputs} and outputs {self.outputs}"
            )
        # recurrent LIF: LIF -> W -> LIF with W fed only by that LIF
        recurrent: dict[str, str] = {}
        for n, v in nodes.items():
            if isinstance(v, (nir.LIF, nir.CubaLIF, nir.IF)):
                for w in succs[n]:
                    if (isinstance(nodes[w], (nir.Affine, nir.Linear)) and preds[w] == [n]
                            and succs[w] == [n]):
                        recurrent[n] = w
        skip = set(recurrent.values())
        preds = {n: [p for p in ps if p not in skip] for n, ps in preds.items() if n not in skip}
        # the single Affine feeding a recurrent LIF becomes its input synapse (RecurrentLIF.fc_in)
        self.absorbed: dict[str, str] = {}
        for n in recurrent:
            ps = preds[n]
            if (len(ps) == 1 and isinstance(nodes[ps[0]], nir.Affine) and succs[ps[0]] == [n]
                    and np.asarray(nodes[ps[0]].weight).ndim == 2):
                self.absorbed[ps[0]] = n
        self.order = self._toposort(preds)
        self.preds = preds
        self.mods = nn.ModuleDict()
        self._keys: dict[str, str] = {}
        for n in self.order:
            node = nodes[n]
            if node is None or isinstance(node, (nir.Input, nir.Output)) or n in self.absorbed:
                continue
            key = f"n{len(self._keys)}"
            self._keys[n] = key
            if n in recurrent:
                src = next((p for p, r in self.absorbed.items() if r == n), None)
                self.mods[key] = self._recurrent(n, node, nodes[recurrent[n]], None if src is None else nodes[src])
            else:
                self.mods[key] = self._module(n, node)

    @staticmethod
    def _toposort(preds: dict[str, list[str]]) -> list[str]:
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise UnsupportedNode(
                    f"the NIR graph has a cycle through {n!r} that is not a recurrent LIF layer "
                    "(LIF -> Affine/Linear -> LIF); the importer cannot run it"
                )
            state[n] = 1
            for p in preds[n]:
                visit(p)
            state[n] = 2
            done.append(n)

        for n in preds:
            visit(n)
        return done

    def _module(self, name: str, node: Any) -> nn.Module:
        nir = _nir()
        from ..neurons import IF, LIF
        from ..models.snn import LeakyIntegrator

        if isinstance(node, (nir.Affine, nir.Linear)):
            w = _t(node.weight)
            if w.ndim != 2:
                raise UnsupportedNode(f"NIR node {name!r}: {type(node).__name__} with a {w.ndim}-d weight")
            lin = nn.Linear(w.shape[1], w.shape[0], bias=isinstance(node, nir.Affine))
            with torch.no_grad():
                lin.weight.copy_(w)
                if isinstance(node, nir.Affine):
                    lin.bias.copy_(_t(node.bias))
            return _Folded(lin)
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            w = _t(node.weight)
            cls = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
            pad = node.padding if isinstance(node.padding, str) else tuple(np.atleast_1d(node.padding).tolist()) if cls is nn.Conv2d else int(np.asarray(node.padding).flat[0])
            stride = tuple(np.atleast_1d(node.stride).tolist()) if cls is nn.Conv2d else int(np.asarray(node.stride).flat[0])
            dil = tuple(np.atleast_1d(node.dilation).tolist()) if cls is nn.Conv2d else int(np.asarray(node.dilation).flat[0])
            conv = cls(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]), stride=stride, padding=pad,
                       dilation=dil, groups=int(node.groups), bias=True)
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(_t(node.bias) if node.bias is not None else torch.zeros(w.shape[0]))
            return _Folded(conv)
        if isinstance(node, nir.Flatten):
            start, end = int(node.start_dim), int(node.end_dim)
            # NIR counts dimensions without batch (and time): shift past [T, B]
            s = start + 2 if start >= 0 else start
            e = end + 2 if end >= 0 else end
            return _Lambda(lambda x, s=s, e=e: x.flatten(s, e), f"flatten({start}, {end}) per sample")
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            k = tuple(int(v) for v in np.atleast_1d(node.kernel_size))
            st = tuple(int(v) for v in np.atleast_1d(node.stride))
            pd = tuple(int(v) for v in np.atleast_1d(node.padding))
            k, st, pd = (k * 2 if len(k) == 1 else k), (st * 2 if len(st) == 1 else st), (pd * 2 if len(pd) == 1 else pd)
            div = 1 if isinstance(node, nir.SumPool2d) else None
            return _Folded(_Lambda(
                lambda x, k=k, st=st, pd=pd, div=div: F.avg_pool2d(x, k, st, pd, count_include_pad=True, divisor_override=div),
                f"{type(node).__name__}(kernel={k}, stride={st}, padding={pd})",
            ))
        if isinstance(node, nir.Scale):
            s = _t(node.scale)
            return _Lambda(lambda x, s=s: x * s.to(x.device), "scale")
        if isinstance(node, nir.Delay):
            steps = np.asarray(node.delay, dtype=np.float64) / self.dt
            if not np.allclose(steps, np.round(steps), atol=1e-6):
                raise UnsupportedNode(f"NIR node {name!r}: delays {node.delay} are not whole multiples of dt = {self.dt:g} s")
            return _Delay(torch.as_tensor(np.round(steps)))
        if isinstance(node, nir.Threshold):
            thr = _t(node.threshold)
            return _Lambda(lambda x, thr=thr: (x > thr.to(x.device)).to(x.dtype), "threshold")
        if isinstance(node, (nir.LIF, nir.IF)):
            kw, gain, bias = _lif_params(name, node, self.dt)
            # scalar parameters (Norse writes them so) broadcast over any population: no shape
            shape = tuple(int(s) for s in np.asarray(node.v_threshold).shape) or None
            neuron = IF(shape, **{k: v for k, v in kw.items() if k != "beta"}) if kw["beta"] == 1.0 and isinstance(node, nir.IF) else LIF(shape, **kw)
            return _Neuron(neuron, gain, bias)
        if isinstance(node, (nir.LI, nir.I)):
            kw, gain, bias = _lif_params(name, node, self.dt)
            return _Neuron(LeakyIntegrator(kw["beta"]), gain, bias)
        if isinstance(node, nir.CubaLIF):
            return self._cuba(name, node)
        raise UnsupportedNode(f"NIR node {name!r}: {type(node).__name__} has no snnbench counterpart")

    def _cuba(self, name: str, node: Any) -> nn.Module:
        """A snnbench ``CubaLIF`` for a NIR ``CubaLIF`` (Euler, the mapping of ``_cuba_node``);
        the two input gains (``w_in dt / tau_syn`` into the current, ``r dt / tau_mem`` into
        the membrane) act as one on the input, both stages being linear."""
        from .. import neurons

        cls = getattr(neurons, "CubaLIF", None)
        if cls is None:
            raise UnsupportedNode(f"NIR node {name!r}: CubaLIF has no snnbench neuron in this install")
        meta = dict(getattr(node, "metadata", None) or {})
        dt = self.dt
        tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
        tau_mem = np.asarray(node.tau_mem, dtype=np.float64)
        if np.any(tau_syn < dt) or np.any(tau_mem < dt):
            raise UnsupportedNode(f"NIR node {name!r}: a time constant is shorter than dt = {dt:g} s")
        if np.any(np.asarray(node.v_leak) != 0):
            raise UnsupportedNode(f"NIR node {name!r}: CubaLIF with v_leak != 0 is not supported")
        decays = []
        for key, tau in (("alpha", tau_syn), ("beta", tau_mem)):
            d = 1.0 - dt / tau
            if key in meta and np.allclose(np.asarray(meta[key], dtype=np.float64), d, rtol=0, atol=1e-9):
                d = np.broadcast_to(np.asarray(meta[key], dtype=np.float64), d.shape)
            u = _uniform(name, key, d)
            if u is None:
                raise UnsupportedNode(f"NIR node {name!r}: a different {key} per neuron is not supported")
            decays.append(u)
        thr, vr = _uniform(name, "v_threshold", node.v_threshold), _uniform(name, "v_reset", node.v_reset)
        if thr is None or vr is None:
            raise UnsupportedNode(f"NIR node {name!r}: per-neuron thresholds or resets are not supported")
        gain = (np.asarray(node.w_in, dtype=np.float64) * dt / tau_syn) * (np.asarray(node.r, dtype=np.float64) * dt / tau_mem)
        g = None if np.allclose(gain, 1.0, rtol=1e-9, atol=0) else _t(gain)
        shape = tuple(int(v) for v in np.asarray(node.v_threshold).shape) or None
        neuron = cls(shape, alpha=decays[0], beta=decays[1], threshold=thr, v_reset=vr,
                     reset="soft" if meta.get("reset") == "subtract" else "hard")
        return _Neuron(neuron, g, None)

    def _recurrent(self, name: str, lif: Any, w_rec: Any, src: Any) -> nn.Module:
        nir = _nir()
        from ..neurons import RecurrentLIF

        if isinstance(lif, nir.CubaLIF):
            raise UnsupportedNode(f"NIR node {name!r}: CubaLIF has no snnbench neuron in this version")
        kw, gain, bias = _lif_params(name, lif, self.dt)
        if gain is not None or bias is not None:
            raise UnsupportedNode(f"NIR node {name!r}: a recurrent LIF needs unit input gain (r = tau / dt) and v_leak = 0")
        w = _t(w_rec.weight)
        # the input synapse: the single Affine feeding the LIF becomes RecurrentLIF.fc_in
        absorb = src is not None
        n_in = _t(src.weight).shape[1] if absorb else w.shape[0]
        rl = RecurrentLIF(n_in, w.shape[0], bias=True, **kw)
        with torch.no_grad():
            rl.fc_rec.weight.copy_(w)
            if absorb:
                rl.fc_in.weight.copy_(_t(src.weight))
                rl.fc_in.bias.copy_(_t(src.bias))
            else:  # identity input synapse
                rl.fc_in.weight.copy_(torch.eye(w.shape[0]))
                rl.fc_in.bias.zero_()
            if isinstance(w_rec, nir.Affine):
                rl.fc_in.bias.add_(_t(w_rec.bias))
        return _Recurrent(rl)

    def forward(self, x: Tensor) -> Tensor:
        """Run the graph on ``x`` ``[T, B, *input]``; returns ``[T, B, *output]``."""
        if x.ndim < 3:
            raise ValueError(f"x must be time-first [T, B, ...], got shape {tuple(x.shape)}")
        outs: dict[str, Tensor] = {}
        for n in self.order:
            if n in self.inputs:
                outs[n] = x
                continue
            ins = [outs[p] for p in self.preds[n]]
            h = ins[0] if len(ins) == 1 else torch.stack(ins).sum(0)
            key = self._keys.get(n)
            outs[n] = h if key is None else self.mods[key](h)
        return outs[self.outputs[0]]


def load(graph: Any, *, dt: float | None = None) -> NIRNetwork:
    """``nn.Module`` running a NIR graph (or a ``.nir`` file path) on ``[T, B, ...]`` input.

    ``dt`` (seconds per step) defaults to the graph's ``metadata["dt"]``.
    """
    if isinstance(graph, (str, Path)):
        graph = read(graph)
    return NIRNetwork(graph, dt=dt).eval()
