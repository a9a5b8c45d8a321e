"""Interchange with other tools: NIR graphs (:mod:`snnbench.interop.nir`, also reachable as
``snnbench.nir``) and ``torch.compile``/``torch.export`` of trained models
(:mod:`snnbench.interop.compile`: the reference path that compiles without graph breaks)."""
