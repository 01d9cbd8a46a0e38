"""A pymatgen Structure evaluated with crystalpot through ASE's adaptor.

Run: python ase-calculator/examples/pymatgen_structure.py
"""

from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from crystalpot_ase import CrystalpotCalculator

structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
atoms = AseAtomsAdaptor.get_atoms(structure)
atoms.calc = CrystalpotCalculator()  # the shipped NaCl rigid-ion model
energy_per_atom = atoms.get_potential_energy() / len(atoms)
print(f"{structure.composition.reduced_formula} ({len(atoms)} atoms): {energy_per_atom:.8f} eV/atom")
print("stress (eV/Å^3, Voigt):", atoms.get_stress())
