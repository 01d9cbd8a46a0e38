"""The model files shipped inside the package, and how ``model=None`` picks one.

At build time every file of the repository's ``models/`` folder is copied into
``crystalpot_ase/models/``. ``model=None`` means: the file named by the environment variable
``CRYSTALPOT_MODEL`` if it is set, else the shipped model :data:`DEFAULT_MODEL`.
"""

import os
from pathlib import Path

#: The shipped model used when none is given: the rigid-ion NaCl model (Coulomb + Buckingham),
#: the only shipped model that gives energies and forces so far.
DEFAULT_MODEL = "nacl-rigid-ion.json"

SHIPPED_DIR = Path(__file__).resolve().parent / "models"


def shipped_models():
    """Shipped model files by file name (e.g. ``"nacl-rigid-ion.json"``)."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if p.is_file()}


def resolve(model):
    """The path of a model: ``None`` (the default), an existing path, or the name of a shipped
    model with or without its extension. Anything else is returned as given, so that loading
    it fails with the library's own message."""
    if model is None:
        model = os.environ.get("CRYSTALPOT_MODEL") or SHIPPED_DIR / DEFAULT_MODEL
    path = Path(model)
    if path.exists():
        return path
    shipped = shipped_models()
    for name, file in shipped.items():
        if str(model) in (name, Path(name).stem):
            return file
    return path
