"""The ctypes declarations are generated from the header and complete."""

import re
import sys

from conftest import REPO

from crystalpot_ase import _c_api, _library

sys.path.insert(0, str(REPO / "ase-calculator"))
import generate_ctypes  # noqa: E402


def test_committed_declarations_are_a_fresh_generation():
    committed = (REPO / "ase-calculator" / "src" / "crystalpot_ase" / "_c_api.py").read_text()
    assert committed == generate_ctypes.generate(), (
        "src/crystalpot_ase/_c_api.py is stale: run python3 ase-calculator/generate_ctypes.py"
    )


def test_every_function_of_the_header_is_declared_and_in_the_library():
    header = (REPO / "include" / "crystalpot.h").read_text()
    # Independent of the generator's parser: every `cpot_name(` that starts a prototype.
    prototypes = set(re.findall(r"^[^/\n]*?\b(cpot_\w+)\(", header, flags=re.M))
    assert {"cpot_compute_share", "cpot_compute_batch", "cpot_last_status", "cpot_model_n_targets"} <= prototypes
    assert set(_c_api.FUNCTIONS) == prototypes
    for name in prototypes:
        assert getattr(_library.LIB, name).argtypes is not None, name


def test_header_version_macros_match_the_library():
    version = f"{_c_api.CRYSTALPOT_VERSION_MAJOR}.{_c_api.CRYSTALPOT_VERSION_MINOR}.{_c_api.CRYSTALPOT_VERSION_PATCH}"
    assert version == _c_api.CRYSTALPOT_VERSION == _library.VERSION
