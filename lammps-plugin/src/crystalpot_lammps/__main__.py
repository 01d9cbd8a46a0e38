"""``python -m crystalpot_lammps --plugin-path | --plugin-dir | --env``: where the plugin is."""

import argparse
import shlex

from . import plugin_dir, plugin_path, plugin_search_path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m crystalpot_lammps", description=__doc__)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--plugin-path", action="store_true", help="absolute path of crystalpotplugin.so")
    what.add_argument("--plugin-dir", action="store_true", help="its directory")
    what.add_argument(
        "--env",
        action="store_true",
        help='a shell line setting LAMMPS_PLUGIN_PATH: eval "$(python -m crystalpot_lammps --env)"',
    )
    args = parser.parse_args(argv)
    if args.plugin_path:
        print(plugin_path())
    elif args.plugin_dir:
        print(plugin_dir())
    else:
        plugin_path()
        print(f"export LAMMPS_PLUGIN_PATH={shlex.quote(plugin_search_path())}")


if __name__ == "__main__":
    main()
