"""The ASE calculator."""

import warnings

from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from . import _library, models

#: Properties of every model that gives energies, with their units.
ENERGY_PROPERTIES = {
    "energy": "eV",
    "free_energy": "eV (equal to energy: no electronic entropy)",
    "energies": "eV per atom (sums to energy)",
    "forces": "eV/Å",
    "stress": "eV/Å^3, Voigt order xx yy zz yz xz xy, positive under tension",
}


class CrystalpotCalculator(Calculator):
    """crystalpot as an ASE calculator: every Coulomb/dispersion/repulsion term summed over all
    periodic images, to the model's tolerance.

    Parameters
    ----------
    model:
        The path of a model file, the name of a shipped model (``"linear-mlearn-Si"``, see
        ``crystalpot models``), or ``None``: the file in ``$CRYSTALPOT_MODEL`` if set, else the
        shipped energy model made for the elements of the atoms, chosen at the first
        calculation (:func:`crystalpot_ase.models.for_elements`; an error names the shipped
        models if none knows them).
    threads:
        Threads used by each computation (``None`` or 0: all cores).

    Properties (``implemented_properties``; units in :attr:`units`): ``energy``, ``free_energy``,
    ``energies``, ``forces`` and ``stress`` when the model gives energies, plus each of the
    model's targets (e.g. a formation energy) by its name. ``results["energy_error_bound"]``
    holds the rigorous bound (eV) on the energy's lattice-sum truncation error.

    Only fully periodic systems are supported: others raise :class:`CrystalpotError`.
    """

    #: The models take no charges or magnetic moments from the atoms: changing those keeps results.
    ignored_changes = {"initial_charges", "initial_magmoms"}

    def __init__(self, model=None, threads=None, **kwargs):
        path = models.resolve(model)
        Calculator.__init__(self, model=None if path is None else str(path), threads=threads, **kwargs)
        if threads is not None:
            _library.thread_count(threads)  # a bad count fails here, not at the first calculation
        self._threads = threads
        #: The loaded model (``None`` until the first calculation when it is chosen by elements).
        self.model = None
        #: The model's description: kind, name, elements, targets, validation errors
        #: (``cpot_model_info``); ``None`` until the model is chosen.
        self.info = None
        self.targets = []
        #: Unit of every implemented property (a model chosen by elements gives energies).
        self.units = dict(ENERGY_PROPERTIES)
        self.implemented_properties = list(self.units)
        if path is not None:
            self._load(path)

    def _load(self, path):
        self.model = _library.Model(path, threads=self._threads)
        self.parameters["model"] = str(path)
        info = self.info = self.model.info
        self.targets = [t["name"] for t in info["targets"] if t["name"] not in ENERGY_PROPERTIES]
        self.units = dict(ENERGY_PROPERTIES) if info["energy"] else {}
        self.units.update({t["name"]: t["unit"] for t in info["targets"] if t["name"] in self.targets})
        self.implemented_properties = list(self.units)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        if self.model is None:
            self._load(models.for_elements(self.atoms.get_chemical_symbols()))
        flags = 0
        if "energies" in properties:
            flags |= _library.PER_ATOM_ENERGIES
        if "forces" in properties:
            flags |= _library.FORCES
        if "stress" in properties:
            flags |= _library.VIRIAL
        if any(name in self.targets for name in properties):
            flags |= _library.PROPERTIES
        if self.info["kind"] == "linear":
            flags |= _library.ENERGY_STD
        out = self.model.compute(self.atoms, flags)
        #: Warnings of the library about this result (e.g. a charged cell computed with a
        #: neutralising background, or lattice sums that reached a looser accuracy near a very
        #: close pair: ``energy_error_bound`` is the bound reached); each kind is also issued
        #: once as a Python warning.
        self.results["warnings"] = out["warnings"]
        for text in out["warnings"]:
            warnings.warn(f"crystalpot: {text}", RuntimeWarning, stacklevel=2)
        if self.info["energy"]:
            self.results["energy"] = self.results["free_energy"] = out["energy"]
            self.results["energy_error_bound"] = out["energy_error_bound"]
            #: The energy's standard deviation over the model's committee (eV): linear models
            #: carry one drawn from their fit's posterior; absent for other models.
            if out["energy_std"] is not None:
                self.results["energy_std"] = out["energy_std"]
        if out["energies"] is not None:
            self.results["energies"] = out["energies"]
        if out["forces"] is not None:
            self.results["forces"] = out["forces"]
        if out["virial"] is not None:
            stress = -out["virial"] / self.atoms.get_volume()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
        if out["properties"] is not None:
            all_targets = [t["name"] for t in self.info["targets"]]
            for name in self.targets:
                self.results[name] = out["properties"][all_targets.index(name)]
