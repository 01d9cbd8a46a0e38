"""A PotNet model trained by crystalpot gives the same prediction (to 1e-6 per cell) for the same
crystal whatever its origin, atom order, cell vectors or 1e-9 Å of noise, through the ASE
calculator (the library, CLI and C ABI checks are in tests/potnet_invariance.rs)."""

import csv
import io
import subprocess

import numpy as np
from ase import Atoms
from ase.build import bulk, make_supercell
from ase.io import write

from conftest import cli_binary, rock_salt
from crystalpot_ase import CrystalpotCalculator

#: Issue 19's bar: the same crystal, the same prediction to 1e-6 eV/cell.
BAR = 1e-6


def strontium_titanate(a=3.905):
    h = a / 2
    return Atoms(
        "SrTiO3",
        positions=[(0, 0, 0), (h, h, h), (h, h, 0), (h, 0, h), (0, h, h)],
        cell=np.eye(3) * a,
        pbc=True,
    )


def crystals():
    """High-symmetry cells whose 16th neighbour falls inside a degenerate shell."""
    return {
        "SrTiO3": strontium_titanate(),
        "NaCl": rock_salt(),
        "CsCl": bulk("CsCl", "cesiumchloride", a=4.12),
        "ZnO wurtzite": bulk("ZnO", "wurtzite", a=3.25, c=5.207, u=0.382),
    }


def variants(atoms):
    """The same crystal: translated, atoms reversed, other cell vectors, 1e-9 Å of noise."""
    translated = atoms.copy()
    translated.positions += (0.37, -1.21, 2.9)
    reversed_order = atoms[::-1]
    rebased = make_supercell(atoms, [[1, 1, 0], [0, 1, 0], [0, 1, 1]])  # determinant 1
    rebased.wrap()
    noisy = atoms.copy()
    noisy.positions += 1e-9 * np.random.default_rng(5).uniform(-1, 1, noisy.positions.shape)
    return [translated, reversed_order, rebased, noisy]


def train_tiny_model(tmp_path):
    """A width-16 model trained for one epoch on the four crystals (values arbitrary): what
    matters is that `crystalpot train` writes models with the invariant construction."""
    data = tmp_path / "data.csv"
    with data.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["cif", "heat_all"])
        for k, atoms in enumerate(crystals().values()):
            text = io.BytesIO()
            write(text, atoms, format="cif")
            out.writerow([text.getvalue().decode(), 0.1 * k])
    model = tmp_path / "tiny.safetensors"
    subprocess.run(
        [cli_binary(), "train", "--data", data, "--val", data, "--target", "heat_all", "--out", model,
         "--epochs", "1", "--width", "16", "--batch-size", "2", "--threads", "1", "--unit", "eV/cell"],
        check=True, capture_output=True,
    )
    return model


def test_predictions_do_not_depend_on_how_the_crystal_is_written(tmp_path):
    calc = CrystalpotCalculator(model=train_tiny_model(tmp_path))
    assert calc.info["note"] is None, calc.info["note"]

    def predict(atoms):
        atoms = atoms.copy()
        atoms.calc = calc
        return calc.get_property("heat_all", atoms)

    for name, atoms in crystals().items():
        reference = predict(atoms)
        spread = max(abs(predict(v) - reference) for v in variants(atoms))
        assert spread <= BAR, f"{name}: {spread:.3g} eV/cell apart"


def test_the_shipped_published_construction_model_says_so():
    from conftest import REPO

    calc = CrystalpotCalculator(model=REPO / "models" / "potnet.safetensors")
    assert "16-nearest-neighbour" in calc.info["note"]
