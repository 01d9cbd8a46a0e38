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
