r"""Estimated compute energy from operation counts.

.. math::

    E = N_{AC} e_{AC} + N_{MAC} e_{MAC} \;(+\, N_{upd} e_{upd})

Defaults: 45 nm CMOS, float32 (Horowitz 2014, "Computing's energy problem"): an add
(accumulate) 0.9 pJ, a multiply 3.7 pJ plus an add, so 4.6 pJ per multiply-accumulate.
This counts arithmetic only: memory traffic (fetching weights and states, which dominates
on real hardware) is not included, so the numbers compare operation mixes, not chips.
Neuron state updates are not costed by default (``update_pj = 0``); set ``update_pj`` (e.g.
to ``mac_pj``: one multiply-add per LIF update) to include them.
"""

from __future__ import annotations

from typing import NamedTuple

from .._validation import check_positive


class EnergyModel(NamedTuple):
    """Energy per operation in picojoules."""

    ac_pj: float = 0.9
    mac_pj: float = 4.6
    update_pj: float = 0.0
    source: str = "Horowitz 2014, 45 nm, float32"


def check_energy_model(e: EnergyModel) -> EnergyModel:
    check_positive("ac_pj", e.ac_pj, allow_zero=True)
    check_positive("mac_pj", e.mac_pj, allow_zero=True)
    check_positive("update_pj", e.update_pj, allow_zero=True)
    return e


def estimate_energy(
    effective_macs: float,
    effective_acs: float,
    neuron_updates: float = 0.0,
    model: EnergyModel = EnergyModel(),
) -> float:
    """Energy in pJ of the given operation counts (any unit of counting: per sample, total)."""
    check_energy_model(model)
    check_positive("effective_macs", effective_macs, allow_zero=True)
    check_positive("effective_acs", effective_acs, allow_zero=True)
    check_positive("neuron_updates", neuron_updates, allow_zero=True)
    return effective_acs * model.ac_pj + effective_macs * model.mac_pj + neuron_updates * model.update_pj
