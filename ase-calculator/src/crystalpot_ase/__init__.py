"""crystalpot for ASE and numpy: an ASE calculator and the complete lattice sums.

Units everywhere: Å, eV, elementary charge; forces eV/Å; stress eV/Å^3 (ASE sign: positive
under tension, Voigt order xx, yy, zz, yz, xz, xy).
"""

from ._library import VERSION, CrystalpotError
from .calculator import CrystalpotCalculator
from .lattice import lattice_potential, lattice_sums
from .models import for_elements, shipped_models

__version__ = VERSION
__all__ = [
    "CrystalpotCalculator",
    "CrystalpotError",
    "for_elements",
    "lattice_potential",
    "lattice_sums",
    "shipped_models",
]
