"""Generates ``src/crystalpot_ase/_c_api.py``, the ctypes declarations of crystalpot's C ABI,
from the cbindgen header ``include/crystalpot.h`` (as metatensor does for its Python package).

The header is cbindgen output in a fixed style (one declaration per statement, ``//``
comments), so a small parser suffices; anything it does not recognise is an error naming the
line, never a silently missing declaration. ``tests/test_c_api.py`` fails when the committed
file differs from a fresh generation.

Usage (from anywhere): python3 ase-calculator/generate_ctypes.py [--check]
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = HERE.parent / "include" / "crystalpot.h"
OUTPUT = HERE / "src" / "crystalpot_ase" / "_c_api.py"

#: C scalar types of the header and their ctypes names.
SCALARS = {
    "double": "c_double",
    "bool": "c_bool",
    "char": "c_char",
    "int32_t": "c_int32",
    "uint32_t": "c_uint32",
    "uint8_t": "c_uint8",
    # ctypes has no uintptr_t; size_t has its width on every platform Python supports.
    "uintptr_t": "c_size_t",
}


class HeaderError(ValueError):
    """The header holds something this generator does not understand."""


def _strip_comments(text):
    """The header's code with its ``//`` and ``/* */`` comments removed."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


class Header:
    """What the Python binding needs from the header: constants, types and functions."""

    def __init__(self, text):
        self.constants = {}  # name -> int or str, in header order
        self.status_codes = []  # names of the cpot_status_t values
        self.opaque = set()  # opaque struct names (handled as c_void_p)
        self.aliases = {}  # typedef name -> C type
        self.structs = {}  # name -> [(field, C type, array length or None)]
        self.functions = {}  # name -> (return C type, [(parameter, C type)])
        self._parse(_strip_comments(text))

    def _parse(self, code):
        code = re.sub(r"#(ifndef|ifdef|endif|include)[^\n]*", "", code)
        code = re.sub(r'extern "C" \{|^\}\s*$', "", code, flags=re.M)
        after_status_typedef = False
        for match in re.finditer(r"#define[ \t]+(\w+)[ \t]*([^\n]*)|(typedef struct \w+ \{[^}]*\} \w+;|[^;#\s][^;#]*;)", code):
            define, value, statement = match.groups()
            if define:
                if define == "CRYSTALPOT_H":
                    continue
                self.constants[define] = self._constant(define, value.strip())
                if after_status_typedef and define.startswith("CPOT_"):
                    self.status_codes.append(define)
                continue
            statement = " ".join(statement.split())
            if statement.startswith("typedef int32_t cpot_status_t"):
                after_status_typedef = True
            if self.functions:
                after_status_typedef = False
            self._statement(statement)
        if "CPOT_SUCCESS" not in self.status_codes:
            raise HeaderError("no status codes (CPOT_SUCCESS) after the cpot_status_t typedef")

    @staticmethod
    def _constant(name, value):
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        if re.fullmatch(r'"[^"\\]*"', value):
            return value[1:-1]
        raise HeaderError(f"#define {name} {value}: not an integer or a plain string")

    def _statement(self, statement):
        opaque = re.fullmatch(r"typedef struct (\w+) (\w+);", statement)
        if opaque and opaque.group(1) == opaque.group(2):
            self.opaque.add(opaque.group(1))
            return
        alias = re.fullmatch(r"typedef (\w+) (\w+);", statement)
        if alias:
            self.aliases[alias.group(2)] = alias.group(1)
            return
        struct = re.fullmatch(r"typedef struct (\w+) \{(.*)\} (\w+);", statement)
        if struct and struct.group(1) == struct.group(3):
            fields = [self._field(f.strip()) for f in struct.group(2).split(";") if f.strip()]
            self.structs[struct.group(1)] = fields
            return
        function = re.fullmatch(r"(.+?)\s*\b(cpot_\w+)\((.*)\);", statement)
        if function:
            restype, name, params = function.groups()
            params = [] if params.strip() == "void" else [self._parameter(p.strip()) for p in params.split(",")]
            self.functions[name] = (restype, params)
            return
        raise HeaderError(f"unrecognised declaration: {statement}")

    @staticmethod
    def _field(text):
        match = re.fullmatch(r"(.+?)\s*\b(\w+)(?:\[(\d+)\])?", text)
        if not match:
            raise HeaderError(f"unrecognised struct field: {text}")
        ctype, name, length = match.groups()
        return name, ctype, int(length) if length else None

    @staticmethod
    def _parameter(text):
        match = re.fullmatch(r"(.+?)\s*\b(\w+)", text)
        if not match:
            raise HeaderError(f"unrecognised parameter: {text}")
        return match.group(2), match.group(1)

    def ctype(self, ctype):
        """The ctypes expression of a C type of the header."""
        ctype = " ".join(ctype.replace("const ", "").replace("struct ", "").split())
        pointers = ctype.count("*")
        base = ctype.replace("*", "").strip()
        if pointers == 0:
            if base == "void":
                return "None"
            if base in self.aliases:
                return self.ctype(self.aliases[base])
            if base in SCALARS:
                return SCALARS[base]
            if base in self.structs:
                return base
            raise HeaderError(f"unknown type {ctype}")
        if pointers == 1:
            if base == "char":
                return "c_char_p"
            if base in self.opaque or base == "void":
                return "c_void_p"
            return f"POINTER({self.ctype(base)})"
        # A pointer to pointers (an engine's per-atom neighbour arrays): one level at a time.
        return f"POINTER({self.ctype(ctype[: ctype.rindex('*')])})"


def render(header):
    """The text of ``_c_api.py`` for a parsed header."""
    out = [
        '"""ctypes declarations of crystalpot\'s C ABI: every constant, struct and function of',
        "``include/crystalpot.h``.",
        "",
        "Generated by ase-calculator/generate_ctypes.py from the header -- do not edit. Regenerate with",
        "``python3 ase-calculator/generate_ctypes.py``.",
        '"""',
        "",
        "# ruff: noqa",
        "from ctypes import POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_int32, c_size_t, c_uint8, c_uint32, c_void_p",
        "",
    ]
    for name, value in header.constants.items():
        out.append(f"{name} = {value!r}")
    out += ["", "#: The cpot_status_t values by code.", "STATUS_NAMES = {"]
    out += [f"    {name}: {name!r}," for name in header.status_codes]
    out += ["}", ""]
    for alias, target in header.aliases.items():
        out.append(f"{alias} = {header.ctype(target)}")
    for name, fields in header.structs.items():
        out += ["", "", f"class {name}(Structure):", "    _fields_ = ["]
        for field, ctype, length in fields:
            expression = header.ctype(ctype) + (f" * {length}" if length else "")
            out.append(f"        ({field!r}, {expression}),")
        out += ["    ]"]
    out += ["", "", "#: name -> (restype, argtypes) of every function.", "FUNCTIONS = {"]
    for name, (restype, params) in header.functions.items():
        arguments = ", ".join(header.ctype(ctype) for _, ctype in params)
        out.append(f"    {name!r}: ({header.ctype(restype)}, [{arguments}]),")
    out += [
        "}",
        "",
        "",
        "def declare(lib):",
        '    """Sets restype and argtypes of every function on ``lib`` (a ctypes.CDLL); a function the',
        '    library lacks raises AttributeError naming it."""',
        "    for name, (restype, argtypes) in FUNCTIONS.items():",
        "        function = getattr(lib, name)",
        "        function.restype = restype",
        "        function.argtypes = argtypes",
        "",
    ]
    return "\n".join(out)


def generate(header_path=HEADER):
    return render(Header(Path(header_path).read_text()))


def main(argv):
    text = generate()
    if "--check" in argv:
        if OUTPUT.read_text() != text:
            sys.exit(f"{OUTPUT} is stale: run python3 {Path(__file__).name}")
        return
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
