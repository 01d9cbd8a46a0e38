"""Shared structures, model files and helpers of the crystalpot_ase tests."""

import json
import os
import subprocess
from pathlib import Path

# The tests' linear algebra is 3×3 (cell filters, BFGS): OpenBLAS threads make each such solve
# cost milliseconds instead of microseconds on a busy machine. Set before numpy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ase.build import bulk  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

#: pymatgen's e²/(4πε₀) in eV·Å (EwaldSummation.CONV_FACT, from scipy's CODATA constants).
PYMATGEN_COULOMB_CONSTANT = 14.399645468667815


def rock_salt(a=5.64, repeat=(1, 1, 1)):
    """Conventional (8-atom) NaCl cell with lattice constant ``a`` Å, repeated."""
    return bulk("NaCl", "rocksalt", a=a, cubic=True).repeat(repeat)


def distorted(atoms, strain=0.02, rattle=0.05, seed=7):
    """``atoms`` with a general (non-symmetric) strain of the cell and rattled positions."""
    atoms = atoms.copy()
    rng = np.random.default_rng(seed)
    deformation = np.eye(3) + strain * rng.uniform(-1, 1, (3, 3))
    atoms.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
    atoms.positions += rattle * rng.standard_normal(atoms.positions.shape)
    return atoms


def relative_deviation(actual, expected):
    """Largest absolute deviation over the largest magnitude of the expected values."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    return np.max(np.abs(actual - expected)) / np.max(np.abs(expected))


def write_model(path, **fields):
    """A rigid-ion model file with ``fields`` (charges, pairs, coulomb_constant, tolerance…)."""
    path.write_text(json.dumps({"kind": "rigid-ion", **fields}))
    return path


@pytest.fixture
def nacl_model():
    """The repository's NaCl rigid-ion model (the one the package ships as its default)."""
    return REPO / "models" / "nacl-rigid-ion.json"


def cli_binary():
    """The crystalpot command-line tool built by tests/run-python.sh (or $CRYSTALPOT_CLI)."""
    cli = Path(os.environ.get("CRYSTALPOT_CLI", REPO / "target" / "release" / "crystalpot"))
    assert cli.is_file(), f"{cli} missing: build it with cargo build --release (tests/run-python.sh does)"
    return cli


def run_cli(*args):
    """Runs the crystalpot CLI with ``args`` and returns its JSON output as a list."""
    out = subprocess.run([cli_binary(), *map(str, args), "--json"], check=True, capture_output=True, text=True)
    value = json.loads(out.stdout)
    return value if isinstance(value, list) else [value]
