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

from ._nir_base import UnsupportedNode
from .nir_export import export, write
from .nir_import import NIRNetwork, load, read

__all__ = ["NIRNetwork", "export", "load", "read", "write", "UnsupportedNode"]
