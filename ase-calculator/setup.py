"""Build step of crystalpot-ase: compiles the Rust library with cargo and bundles it.

Build the wheel once, from inside the crystalpot repository (the Rust crate is one level up)::

    pip wheel --no-deps -w dist ./ase-calculator

and install ``dist/crystalpot_ase-*.whl`` anywhere without a Rust toolchain. The wheel is
tagged ``py3-none-<platform>``: the package reaches the library through ctypes, so it
depends on the platform but not on the Python version or ABI. It contains
``crystalpot_ase/libcrystalpot.so`` (``.dylib``/``.dll`` elsewhere) and the shipped models
(``models/*.safetensors``, the model JSON files and the model cards ``models/README.md``;
not the training logs, configs or plots).

Why not maturin or setuptools-rust: maturin packages a cdylib only with pyo3, cffi or uniffi
bindings, and setuptools-rust's ``Binding.NoBinding`` names the library like a CPython
extension module (``libcrystalpot.cpython-311-x86_64-linux-gnu.so``) inside a ``cp311`` wheel.
A ctypes package needs neither, so this file runs ``cargo build --release --lib`` itself.

Environment: ``CARGO`` (the cargo executable, default ``cargo`` on PATH, then
``~/.cargo/bin/cargo``), ``CARGO_TARGET_DIR`` (default: the repository's ``target/``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def crate_version():
    """The version of the Rust crate: the Python package carries the same one."""
    manifest = REPO / "Cargo.toml"
    if not manifest.is_file():
        sys.exit(
            f"crystalpot-ase: {manifest} not found; build this package from inside the "
            "crystalpot repository (pip install ./ase-calculator from its root)"
        )
    package = re.search(r"^\[package\]\s*$(.*?)(^\[|\Z)", manifest.read_text(), re.M | re.S)
    version = package and re.search(r'^version\s*=\s*"([^"]+)"', package.group(1), re.M)
    if not version:
        sys.exit(f"crystalpot-ase: no [package] version in {manifest}")
    return version.group(1)


def library_name():
    if sys.platform == "darwin":
        return "libcrystalpot.dylib"
    if sys.platform == "win32":
        return "crystalpot.dll"
    return "libcrystalpot.so"


def find_cargo():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo:
        return cargo
    fallback = Path.home() / ".cargo" / "bin" / "cargo"
    if fallback.is_file():
        return str(fallback)
    sys.exit("crystalpot-ase: cargo not found; install Rust (https://rustup.rs) or set CARGO")


def build_library():
    """Runs ``cargo build --release --lib`` in the repository; returns the cdylib's path."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    cmd = [find_cargo(), "build", "--release", "--locked", "--lib"]
    print("crystalpot-ase: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    lib = target / "release" / library_name()
    if not lib.is_file():
        sys.exit(f"crystalpot-ase: cargo did not produce {lib} (is the crate a cdylib?)")
    return lib


def shipped_files():
    """The files of ``models/`` the package ships: model files and their cards."""
    for path in sorted((REPO / "models").iterdir()):
        if path.suffix == ".safetensors" or path.name == "README.md":
            yield path
        elif path.suffix == ".json" and "kind" in json.loads(path.read_text()):
            # A model file (rigid-ion); training configurations have no "kind".
            yield path


class BuildWithCargo(build_py):
    """build_py plus the Rust library and the shipped model files."""

    def run(self):
        package = Path(self.build_lib) / "crystalpot_ase"
        # pip builds in the source tree: start from an empty build/lib so that a model or
        # module removed since the last build cannot linger into this wheel.
        shutil.rmtree(package, ignore_errors=True)
        super().run()
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_library(), package / library_name())
        models = package / "models"
        models.mkdir(exist_ok=True)
        for model in shipped_files():
            shutil.copy2(model, models / model.name)


class BinaryDistribution(Distribution):
    """The wheel holds a native library, so it is a platform wheel (files at the wheel's root,
    installed into platlib)."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for one platform but any Python 3: the native library is loaded by ctypes and
    links no libpython."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=crate_version(),
    cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel},
    distclass=BinaryDistribution,
)
