# Shell helpers of the test stages (sourced, not run).

# A stage heading in the log.
step() { printf '\n=== %s\n' "$*"; }

# PATH without cargo and rustup, for running what was built as a user without Rust would;
# fails if cargo is still found.
path_without_rust() {
    local path
    path=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e cargo -e rustup | paste -sd: -)
    if PATH="$path" command -v cargo >/dev/null; then
        echo "cargo is still on the stripped PATH ($path)" >&2
        return 1
    fi
    printf '%s' "$path"
}

# Fails with one line naming every command of "$@" that is not on PATH (the tools the test
# command cannot install from the package registries itself).
require_tools() {
    local tool missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=("python3-venv")
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "missing: ${missing[*]} (install them with the system's package manager, e.g. apt-get install ${missing[*]/readelf/binutils})" >&2
        return 1
    fi
}
