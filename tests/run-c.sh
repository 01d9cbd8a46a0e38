#!/usr/bin/env bash
# The C/C++ stage of the test command: builds the Rust library (release), installs the
# package (library, headers, CMake config, pkg-config file) into a temporary prefix, builds
# the examples and the C/C++ tests against the INSTALLED package through find_package and
# through pkg-config, and runs them under valgrind (definite/indirect leaks and memory errors
# fail; the Rust runtime's "still reachable"/"possibly lost" thread-pool memory does not).
# Usage (from anywhere): bash tests/run-c.sh
# Environment: CRYSTALPOT_POTNET_MODEL: a PotNet model file for the prediction example
#   (default: the shipped models/potnet.safetensors).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

source tests/common.sh

step "C/C++: Rust library (release)"
cargo build --release --locked --lib

step "C/C++: build tools (cmake, pkg-config from PyPI)"
bash tests/venv.sh bindings/requirements.txt
venv="$root/target/venv/bin"
cmake="$venv/cmake"

work="$root/target/c-stage"
rm -rf "$work"
mkdir -p "$work/scratch"
prefix="$work/prefix"

step "C/C++: install into $prefix"
"$cmake" -S bindings -B "$work/install" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCRYSTALPOT_LIBRARY_DIR="$root/target/release" >/dev/null
"$cmake" --install "$work/install"

step "C/C++: examples and tests via find_package(crystalpot)"
for project in examples tests; do
    "$cmake" -S "bindings/$project" -B "$work/$project" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Debug >/dev/null
    "$cmake" --build "$work/$project" -j 2
done

step "C/C++: examples and tests via pkg-config"
pcdir=$(dirname "$(find "$prefix" -name crystalpot.pc)")
pc() { PKG_CONFIG_PATH="$pcdir" "$venv/pkg-config" "$@" crystalpot; }
libdir=$(pc --variable=libdir)
mkdir -p "$work/pkg-config"
version=$(pc --modversion)
gcc -std=c99 -Wall -Wextra -Werror -O1 -g bindings/examples/rocksalt.c $(pc --cflags) \
    -o "$work/pkg-config/rocksalt_c" $(pc --libs) -Wl,-rpath,"$libdir"
g++ -std=c++17 -Wall -Wextra -Werror -O1 -g bindings/examples/rocksalt.cpp $(pc --cflags) \
    -o "$work/pkg-config/rocksalt_cpp" $(pc --libs) -Wl,-rpath,"$libdir"
gcc -std=c99 -Wall -Wextra -Werror -O1 -g -DCRYSTALPOT_EXPECTED_VERSION="\"$version\"" \
    bindings/tests/test_capi.c $(pc --cflags) -o "$work/pkg-config/test_capi" \
    $(pc --libs) -lm -Wl,-rpath,"$libdir"
# The static library through pkg-config: the archive itself plus Libs.private.
g++ -std=c++17 -Wall -Wextra -Werror -O1 -g bindings/tests/test_cpp.cpp $(pc --cflags) \
    -o "$work/pkg-config/test_cpp_static" "$libdir/libcrystalpot.a" $(pc --static --libs-only-l | sed 's/-lcrystalpot//')

# The installed library carries its SONAME (build.rs) under that name, and the programs linked
# through either route record it: they find it through the rpath given above (pkg-config) or
# CMake's build rpath; LD_LIBRARY_PATH is not needed.
step "C/C++: SONAME of the installed library and of what links it"
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(libcrystalpot[^]]*\)\]/\1/p'; }
name=$(soname "$libdir/libcrystalpot.so")
[ -n "$name" ] && [ -e "$libdir/$name" ] || { echo "libcrystalpot.so has no SONAME or no $libdir/$name" >&2; exit 1; }
for program in "$work/examples/rocksalt_c" "$work/tests/test_capi_shared" "$work/pkg-config/test_capi"; do
    [ "$(needed "$program")" = "$name" ] || { echo "$program needs '$(needed "$program")', not $name" >&2; exit 1; }
done
echo "SONAME $name, recorded by the programs linked through find_package and pkg-config"

grind() {
    printf -- '--- %s\n' "$*"
    valgrind --quiet --error-exitcode=1 --leak-check=full \
        --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --track-origins=yes "$@"
}

step "C/C++: run under valgrind"
models="$root/models"
for dir in "$work/examples" "$work/pkg-config"; do
    grind "$dir/rocksalt_c" "$models/nacl-rigid-ion.json"
    grind "$dir/rocksalt_cpp" "$models/nacl-rigid-ion.json"
done
potnet=${CRYSTALPOT_POTNET_MODEL:-$models/potnet.safetensors}
grind "$work/examples/predict_c" "$potnet"
for kind in shared static; do
    grind "$work/tests/test_capi_$kind" "$models" "$work/scratch"
    grind "$work/tests/test_cpp_$kind" "$models"
done
grind "$work/pkg-config/test_capi" "$models" "$work/scratch"
grind "$work/pkg-config/test_cpp_static" "$models"

step "C/C++: all passed"
