"""ctypes binding of crystalpot's C ABI (``include/crystalpot.h``).

Everything foreign lives here: loading ``libcrystalpot`` (checking that its version is
semver-compatible with the header), status codes and the conversion of ASE ``Atoms`` into a
``cpot_system_t``. The declarations themselves (constants, structs, argument types) are
generated from the header into ``_c_api.py``. The rest of the package only sees numpy arrays
and :class:`CrystalpotError`.
"""

import ctypes
import json
import math
import os
import sys
import weakref
from ctypes import POINTER, c_bool, c_double, c_int32, c_size_t, c_void_p
from pathlib import Path

import numpy as np

from . import _c_api
from ._c_api import cpot_request_t as _Request
from ._c_api import cpot_results_t as _Results
from ._c_api import cpot_system_t as _System

#: Status codes of the C ABI (``cpot_status_t``), from the header.
STATUS_NAMES = _c_api.STATUS_NAMES
STATUS_BY_NAME = {name: code for code, name in STATUS_NAMES.items()}
BUFFER_TOO_SMALL = _c_api.CPOT_BUFFER_TOO_SMALL

# Request flags (cpot_request_t.flags).
PER_ATOM_ENERGIES = _c_api.CPOT_PER_ATOM_ENERGIES
FORCES = _c_api.CPOT_FORCES
VIRIAL = _c_api.CPOT_VIRIAL
PROPERTIES = _c_api.CPOT_PROPERTIES
ENERGY_STD = _c_api.CPOT_ENERGY_STD


class CrystalpotError(RuntimeError):
    """A failed call into the crystalpot library.

    ``status`` is the C ABI status code (for a failed model load, ``cpot_last_status``),
    ``status_name`` its name, ``message`` the library's own
    explanation (``cpot_last_error``).
    """

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS_NAMES.get(status) if status is not None else None
        self.message = message
        prefix = f"{self.status_name}: " if self.status_name else ""
        super().__init__(prefix + message)


def _library_file():
    """``$CRYSTALPOT_LIB`` if set, else the library bundled next to this module."""
    override = os.environ.get("CRYSTALPOT_LIB")
    if override:
        return Path(override)
    name = {"darwin": "libcrystalpot.dylib", "win32": "crystalpot.dll"}.get(sys.platform, "libcrystalpot.so")
    return Path(__file__).resolve().parent / name


def _version_tuple(version):
    """(major, minor, patch) of a version string such as "0.1.0" (a pre-release or build
    suffix is ignored), or None when it is not one."""
    parts = version.split("+")[0].split("-")[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def check_version(library_version, header_version=_c_api.CRYSTALPOT_VERSION):
    """The library must be semver-compatible with the header these declarations come from:
    the same major version (the same 0.minor before 1.0, as the SONAME says) and not older,
    since a newer compatible library only adds functions. Anything else is refused."""
    library, header = _version_tuple(library_version), _version_tuple(header_version)
    generation = (lambda v: v[:2] if v[0] == 0 else v[:1]) if library and header else None
    if not generation or generation(library) != generation(header) or library < header:
        raise ImportError(
            f"crystalpot_ase needs a libcrystalpot compatible with {header_version}, found "
            f"{library_version} ({_library_file()}); reinstall the package (pip install crystalpot-ase, "
            "or a wheel built from one checkout) or point CRYSTALPOT_LIB at a compatible library"
        )


def _load():
    path = _library_file()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(
            f"cannot load the crystalpot library {path}: {e}; install with pip install ./ase-calculator "
            "from the crystalpot repository, or point CRYSTALPOT_LIB at libcrystalpot"
        ) from e
    # The version first: an incompatible library may lack functions the declarations name.
    lib.cpot_version.restype = ctypes.c_char_p
    lib.cpot_version.argtypes = []
    check_version(lib.cpot_version().decode())
    _c_api.declare(lib)
    return lib


LIB = _load()
VERSION = LIB.cpot_version().decode()


def last_error():
    """The library's message for the last failed call on this thread."""
    return (LIB.cpot_last_error() or b"").decode(errors="replace")


def last_warnings():
    """The warnings of the last successful compute on this thread (a list, often empty)."""
    text = (LIB.cpot_last_warning() or b"").decode(errors="replace")
    return [line for line in text.splitlines() if line]


def atomic_numbers(numbers):
    """``numbers`` as int32 for the C ABI, refusing values int32 cannot hold (which a plain
    cast would wrap: 2**32 + 11 would become Na)."""
    numbers = np.asarray(numbers)
    if numbers.size and (numbers.min() < np.iinfo(np.int32).min or numbers.max() > np.iinfo(np.int32).max):
        bad = int(numbers[(numbers < np.iinfo(np.int32).min) | (numbers > np.iinfo(np.int32).max)][0])
        raise CrystalpotError(STATUS_BY_NAME["CPOT_INVALID_STRUCTURE"], f"atomic number {bad} is outside 1..=118")
    return np.ascontiguousarray(numbers, dtype=np.int32)


def thread_count(threads):
    """``threads`` as the C ABI's size_t, refusing what is not a non-negative integer (before
    ctypes would wrap -1 to 2**64 - 1 or reject 2.5 with an ArgumentError)."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise CrystalpotError(
            STATUS_BY_NAME["CPOT_INVALID_ARGUMENT"],
            f"threads must be a non-negative integer (0 = all cores), got {threads!r}",
        )
    return int(threads)


def check(status):
    """Raises :class:`CrystalpotError` with the library's message unless ``status`` is success."""
    if status != 0:
        raise CrystalpotError(status, last_error())


def _pointer(array, ctype=c_double):
    return array.ctypes.data_as(POINTER(ctype)) if array is not None else None


def _output(shape, wanted=True):
    return np.zeros(shape, dtype=np.float64) if wanted else None


class System:
    """A ``cpot_system_t`` view of ASE ``Atoms``, owning the arrays the struct points to."""

    def __init__(self, atoms):
        self.n_atoms = len(atoms)
        self.lattice = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
        self.numbers = atomic_numbers(atoms.numbers)
        self.positions = np.ascontiguousarray(atoms.positions, dtype=np.float64)
        self.struct = _System(
            self.n_atoms,
            _pointer(self.lattice),
            _pointer(self.numbers, c_int32),
            _pointer(self.positions),
            (c_bool * 3)(*(bool(p) for p in atoms.pbc)),
        )


class Model:
    """A loaded model file (``cpot_model_t``), freed when garbage-collected."""

    def __init__(self, path, threads=None):
        if threads is not None:
            threads = thread_count(threads)
        handle = LIB.cpot_model_load(os.fsencode(path))
        if not handle:
            raise CrystalpotError(LIB.cpot_last_status(), last_error())
        self.handle = handle
        self._finalizer = weakref.finalize(self, LIB.cpot_model_free, c_void_p(handle))
        if threads is not None:
            check(LIB.cpot_model_set_threads(self.handle, threads))
        self.info = self._info()

    def _info(self):
        needed = c_size_t(0)
        buffer = ctypes.create_string_buffer(4096)
        status = LIB.cpot_model_info(self.handle, buffer, len(buffer), ctypes.byref(needed))
        if status == BUFFER_TOO_SMALL:
            buffer = ctypes.create_string_buffer(needed.value)
            status = LIB.cpot_model_info(self.handle, buffer, len(buffer), ctypes.byref(needed))
        check(status)
        return json.loads(buffer.value.decode())

    def compute(self, atoms, flags):
        """Energy (eV) and its bound, plus the arrays ``flags`` asks for (``None`` otherwise):
        per-atom energies (eV), forces (eV/Å, n×3), virial (eV, 3×3), properties (target order)."""
        system = System(atoms)
        n = system.n_atoms
        n_targets = len(self.info["targets"])
        out = {
            "energies": _output(n, flags & PER_ATOM_ENERGIES),
            "forces": _output((n, 3), flags & FORCES),
            "virial": _output((3, 3), flags & VIRIAL),
            "properties": _output(n_targets, flags & PROPERTIES),
        }
        results = _Results(
            0.0,
            0.0,
            _pointer(out["energies"]),
            _pointer(out["forces"]),
            _pointer(out["virial"]),
            _pointer(out["properties"]),
            n_targets if flags & PROPERTIES else 0,
        )
        request = _Request(flags, None)
        check(LIB.cpot_compute(self.handle, ctypes.byref(system.struct), ctypes.byref(request), ctypes.byref(results)))
        out["energy"] = results.energy
        out["energy_error_bound"] = results.energy_error_bound
        out["warnings"] = last_warnings()
        std = LIB.cpot_last_energy_std() if flags & ENERGY_STD else float("nan")
        out["energy_std"] = None if math.isnan(std) else std
        return out


def lattice_sums(atoms, tolerance, relative, pauli_alpha, pauli_include_self):
    """The three N×N lattice-sum matrices and their three error bounds (``cpot_lattice_sums``)."""
    system = System(atoms)
    n = system.n_atoms
    coulomb, london, pauli = (_output((n, n)) for _ in range(3))
    bounds = _output(3)
    check(
        LIB.cpot_lattice_sums(
            ctypes.byref(system.struct),
            float(tolerance),
            int(bool(relative)),
            float(pauli_alpha),
            int(bool(pauli_include_self)),
            _pointer(coulomb),
            _pointer(london),
            _pointer(pauli),
            _pointer(bounds),
        )
    )
    return coulomb, london, pauli, bounds


def lattice_potential(atoms, p, weights, tolerance, derivatives):
    """Per-atom potential φ, its bound, and (if ``derivatives``) E, forces and virial
    (``cpot_lattice_potential``)."""
    system = System(atoms)
    n = system.n_atoms
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"weights must have one value per atom ({n}), got shape {weights.shape}")
    phi = _output(n)
    bound, energy = c_double(0.0), c_double(0.0)
    forces = _output((n, 3), derivatives)
    virial = _output((3, 3), derivatives)
    check(
        LIB.cpot_lattice_potential(
            ctypes.byref(system.struct),
            float(p),
            _pointer(weights),
            float(tolerance),
            _pointer(phi),
            ctypes.pointer(bound),
            ctypes.pointer(energy) if derivatives else None,
            _pointer(forces),
            _pointer(virial),
        )
    )
    return phi, bound.value, (energy.value if derivatives else None), forces, virial
