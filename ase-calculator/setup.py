"""Build step of crystalpot-ase: compiles the Rust library with cargo and bundles it.

The package must be built from inside the crystalpot repository (``pip install
./ase-calculator`` from the repository root): the Rust crate is one level up. The wheel
contains ``crystalpot_ase/libcrystalpot.so`` (``.dylib``/``.dll`` elsewhere) and every file of
the repository's ``models/`` folder under ``crystalpot_ase/models/``.

Environment: ``CARGO`` (the cargo executable, default ``cargo`` on PATH, then
``~/.cargo/bin/cargo``), ``CARGO_TARGET_DIR`` (default: the repository's ``target/``).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
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


class BuildWithCargo(build_py):
    """build_py plus the Rust library and the shipped model files."""

    def run(self):
        super().run()
        package = Path(self.build_lib) / "crystalpot_ase"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_library(), package / library_name())
        models = package / "models"
        models.mkdir(exist_ok=True)
        for model in sorted((REPO / "models").iterdir()):
            if model.is_file():
                shutil.copy2(model, models / model.name)


class BinaryDistribution(Distribution):
    """The wheel holds a native library, so it must carry a platform tag."""

    def has_ext_modules(self):
        return True


setup(
    version=crate_version(),
    cmdclass={"build_py": BuildWithCargo},
    distclass=BinaryDistribution,
)
