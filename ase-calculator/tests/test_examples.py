"""The ASE page's Python example and the pymatgen example run and give the right numbers."""

import re
import runpy
from pathlib import Path

import numpy as np

from crystalpot_ase import CrystalpotCalculator
from conftest import REPO, rock_salt


def test_docs_example_runs():
    page = (REPO / "docs" / "ase.md").read_text()
    section = page[page.index("# ASE / Python") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)[:1]
    namespace = {}
    exec(compile(code, "docs/ase.md", "exec"), namespace)
    atoms = namespace["atoms"]
    assert np.max(np.abs(atoms.get_forces())) < 1e-3
    assert namespace["sums"]["coulomb"].shape == (8, 8)


def test_pymatgen_structure_example(capsys):
    namespace = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "pymatgen_structure.py"))
    assert "NaCl (8 atoms)" in capsys.readouterr().out
    reference = rock_salt(5.64)
    reference.calc = CrystalpotCalculator()
    expected = reference.get_potential_energy() / len(reference)
    assert abs(namespace["energy_per_atom"] - expected) <= 1e-12 * abs(expected)
