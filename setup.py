"""Build step for the optional C kernels (everything else is in pyproject.toml).

``snnbench.neurons.kernels._lif_kernels`` and ``snnbench.synapses._event_kernels`` are plain shared
libraries (no Python C API) that ``neurons/kernels/c.py`` and ``native_events`` load with ctypes.
They are optional: where no C compiler is available the install goes on and the numba
kernels are used instead (see ``snnbench._native``).
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":  # MSVC has no pthreads: the build fails and numba is used
    args, link, libs = ["/O2"], [], []
else:
    # -ffp-contract=off: beta * v + x must round as a separate multiply and add (see the
    # C file); -fno-trapping-math: no floating-point trap handlers are relied on, and with
    # them GCC leaves loops with a division and a compare unvectorised (values unchanged);
    # OpenMP for the threads (src/snnbench/_parallel.h)
    args = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp", "-pthread"]
    link, libs = ["-fopenmp", "-pthread"], ["m"]


def kernels(name: str, folder: str) -> Extension:
    return Extension(
        f"snnbench.{folder.replace('/', '.')}.{name}",
        sources=[f"src/snnbench/{folder}/{name}.c"],
        depends=[f"src/snnbench/{folder}/{name}_body.h", "src/snnbench/_parallel.h"],
        extra_compile_args=args,
        extra_link_args=link,
        libraries=libs,
        optional=True,
    )


setup(ext_modules=[kernels("_lif_kernels", "neurons/kernels"), kernels("_event_kernels", "synapses")])
