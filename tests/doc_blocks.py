"""Runs every code block of the given Markdown files, so the documentation cannot drift from
the code. Usage: python tests/doc_blocks.py README.md docs/*.md   (tests/run-docs.sh)

Every fenced block needs a language tag:
- ``sh``: run with ``bash -euo pipefail`` from the repository root, with the release build
  and ``target/venv/bin`` first on PATH and HOME pointing at a scratch folder (so install
  examples under ``$HOME`` stay inside it);
- ``python``: run with this interpreter (the test venv, where crystalpot_ase is installed)
  from the repository root;
- ``text``: output, file formats, syntax summaries — not code, not run;
- any other tag (``cmake``, ``lammps``…): an excerpt; it must be preceded by
  ``<!-- doctest: excerpt of PATH -->`` and each of its lines must occur in PATH, a file the
  test command builds or runs.

An HTML comment just before a block adjusts how it runs:
- ``<!-- doctest: replace OLD => NEW -->`` (several allowed): run the block with OLD replaced,
  for commands whose documented size takes too long for CI (the replacement is printed);
- ``<!-- doctest: the test command -->``: the block is the test command itself, which CI is
  running right now; it is checked to be exactly what ``.ci/run`` executes.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(.*?)\s*-->\s*$")
RUNNERS = {"sh": ["bash", "-euo", "pipefail", "-c"], "python": [sys.executable, "-c"]}


def blocks(path):
    """(line, tag, code, directives) of every fenced block of a Markdown file."""
    lines = path.read_text().split("\n")
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, tag = opening.groups()
        directives, k = [], i - 1
        while k >= 0 and (DIRECTIVE.match(lines[k]) or not lines[k].strip()):
            if DIRECTIVE.match(lines[k]):
                directives.insert(0, DIRECTIVE.match(lines[k]).group(1))
            k -= 1
        end = i + 1
        while end < len(lines) and not FENCE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise SystemExit(f"{path}:{i + 1}: code block is never closed")
        code = "\n".join(line[len(indent):] for line in lines[i + 1:end])
        found.append((i + 1, tag, code, directives))
        i = end + 1
    return found


def replaced(code, directives, where):
    for directive in directives:
        if directive.startswith("replace "):
            old, sep, new = directive[len("replace "):].partition(" => ")
            if not sep or old not in code:
                raise AssertionError(f"{where}: replace directive {directive!r} does not match the block")
            code = code.replace(old, new)
            print(f"    (run with {old!r} -> {new!r})")
    return code


def check_excerpt(code, directives, where):
    sources = [d[len("excerpt of "):] for d in directives if d.startswith("excerpt of ")]
    if len(sources) != 1:
        raise AssertionError(f"{where}: an excerpt block needs one '<!-- doctest: excerpt of PATH -->'")
    text = (ROOT / sources[0]).read_text()
    missing = [line for line in code.split("\n") if line.strip() and line.strip() not in text]
    if missing:
        raise AssertionError(f"{where}: lines not in {sources[0]}: {missing}")


def check_test_command(code, where):
    ci = (ROOT / ".ci" / "run").read_text()
    command = code.strip()
    script = command.removeprefix("bash ").strip()
    if not command.startswith("bash ") or f'exec bash "$(dirname "$0")/../{script}"' not in ci:
        raise AssertionError(f"{where}: {command!r} is not what .ci/run executes")


def run(path, line, tag, code, directives, env):
    where = f"{path.relative_to(ROOT)}:{line}"
    print(f"--- {where} ({tag})", flush=True)
    if tag == "text":
        return
    if "the test command" in directives:
        check_test_command(code, where)
        return
    if tag not in RUNNERS:
        check_excerpt(code, directives, where)
        return
    code = replaced(code, directives, where)
    if "CRYSTALPOT_DATA" in env:  # the documented default location of the shared data
        code = code.replace("../shared/data", env["CRYSTALPOT_DATA"])
    done = subprocess.run(RUNNERS[tag] + [code], cwd=ROOT, env=env, text=True, capture_output=True)
    if done.returncode != 0:
        raise AssertionError(
            f"{where}: the {tag} block failed (exit {done.returncode})\n--- block:\n{code}\n"
            f"--- stdout:\n{done.stdout[-4000:]}\n--- stderr:\n{done.stderr[-4000:]}"
        )


def main(paths):
    failures, count = [], 0
    with tempfile.TemporaryDirectory(prefix="crystalpot-docs-") as home:
        real_home = Path.home()
        env = dict(os.environ, HOME=home)
        # Cargo and rustup find their toolchains under the real home.
        env.setdefault("RUSTUP_HOME", str(real_home / ".rustup"))
        env.setdefault("CARGO_HOME", str(real_home / ".cargo"))
        env["PATH"] = os.pathsep.join(
            [str(ROOT / "target" / "release"), str(Path(sys.executable).parent), env.get("PATH", "")]
        )
        for name in paths:
            path = Path(name).resolve()
            for line, tag, code, directives in blocks(path):
                count += 1
                if not tag:
                    failures.append(f"{path.relative_to(ROOT)}:{line}: code block without a language tag")
                    continue
                try:
                    run(path, line, tag, code, directives, env)
                except AssertionError as e:
                    failures.append(str(e))
    print(f"{count} code blocks, {len(failures)} failed")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
