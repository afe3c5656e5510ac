"""``python -m audiodiff.studio [--model DIR] [--port P] [--host H] [--history DIR] [--device D]``."""

from __future__ import annotations

import argparse
import sys

from audiodiff.studio.command import add_arguments, cmd_studio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audiodiff.studio", description="The audiodiff web studio.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_studio(args)
    except (ValueError, OSError, ImportError) as err:
        print(f"audiodiff studio: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
