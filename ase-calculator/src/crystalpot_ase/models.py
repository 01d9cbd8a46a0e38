"""The model files shipped inside the package, and how ``model=None`` picks one.

At build time the model files of the repository's ``models/`` folder are copied into
``crystalpot_ase/models/``. ``model=None`` means: the file named by the environment variable
``CRYSTALPOT_MODEL`` if it is set, else the shipped energy model made for the elements of the
atoms (:func:`for_elements`), chosen at the first calculation.
"""

import os
from pathlib import Path

from . import _library

SHIPPED_DIR = Path(__file__).resolve().parent / "models"

#: Which kind of shipped model wins when several cover the elements: fitted linear models are
#: the most accurate, then the energy network, then rigid-ion models.
_KIND_PREFERENCE = {"linear": 0, "energy": 1, "rigid-ion": 2}

_infos = {}


def _is_model_file(path):
    name = path.name
    by_product = name.endswith(".checkpoint.safetensors") or name.endswith(".train-config.json")
    return path.is_file() and path.suffix in (".safetensors", ".json") and not by_product


def shipped_models():
    """Shipped model files by file name (e.g. ``"linear-mlearn-Si.safetensors"``); cards,
    training logs and plots are not models and are left out."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if _is_model_file(p)}


def info(path):
    """The description (``cpot_model_info``) of a model file, loaded once per process."""
    key = str(path)
    if key not in _infos:
        _infos[key] = _library.Model(path).info
    return _infos[key]


def for_elements(symbols):
    """The shipped energy model for atoms of these chemical symbols: among those that know
    every element, the one with the fewest other elements, linear models first. Raises
    ``ValueError`` naming the shipped energy models and their elements if none fits."""
    needed = set(symbols)
    fitting = []
    available = []
    for name, path in shipped_models().items():
        description = info(path)
        if not description["energy"]:
            continue
        elements = set(description["elements"])
        available.append(f"{name} ({' '.join(sorted(elements))})")
        if needed <= elements:
            rank = _KIND_PREFERENCE.get(description["kind"], len(_KIND_PREFERENCE))
            fitting.append((len(elements - needed), rank, name, path))
    if not fitting:
        raise ValueError(
            f"no shipped energy model knows {' '.join(sorted(needed))}; pass model= a model file. "
            f"Shipped energy models: {', '.join(available) or 'none'}"
        )
    return min(fitting)[3]


def resolve(model):
    """The path of a given model: an existing path, or the name of a shipped model with or
    without its extension; ``None`` gives ``$CRYSTALPOT_MODEL`` if set, else ``None`` (pick by
    elements). Anything else is returned as given, so that loading it fails with the library's
    own message."""
    if model is None:
        model = os.environ.get("CRYSTALPOT_MODEL")
        if not model:
            return None
    path = Path(model)
    if path.exists():
        return path
    for name, file in shipped_models().items():
        if str(model) in (name, Path(name).stem):
            return file
    return path
