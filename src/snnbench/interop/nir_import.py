"""NIR import: a ``nir.NIRGraph`` (or a ``.nir`` file) as a time-first ``nn.Module``
(units and conventions: :mod:`snnbench.interop.nir`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._nir_base import UnsupportedNode, _nir


def read(path: str | Path) -> Any:
    """Read a ``.nir`` file; a missing or unreadable file raises a one-line error."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"NIR file {str(p)!r} does not exist")
    try:
        return _nir().read(str(p))
    except (OSError, KeyError, AssertionError) as err:
        raise ValueError(f"{str(p)!r} is not a readable NIR file ({err})") from None



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
        from ..models.snn import LeakyIntegrator
        from ..neurons import IF, LIF

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
