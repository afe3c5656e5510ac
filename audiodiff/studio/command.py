"""The ``studio`` subcommand: ``add_parser`` for the main CLI, ``cmd_studio`` to run the server."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from types import ModuleType

DEFAULT_PORT = 7860
DEFAULT_HOST = "127.0.0.1"
UPLOAD_CACHE = ".gradio"  # inside the history folder: uploads and the server's copies of results
INSTALL_HINT = 'the studio needs Gradio: pip install "audiodiff[studio]"'


def default_history() -> Path:
    """Where results go without ``--history``: a folder under the system's temporary folder."""
    return Path(tempfile.gettempdir()) / "audiodiff-studio"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The studio's options, on ``parser``."""
    parser.add_argument("--model", help="model folder, or a bundled model: fast (the default) or full")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}: this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--history", type=Path, default=None,
                        help=f"folder for results and uploads (default {default_history()})")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``studio`` to the main CLI's ``subparsers``; it runs :func:`cmd_studio`."""
    parser = subparsers.add_parser("studio", help="open the web studio: every operation in the browser")
    add_arguments(parser)
    parser.set_defaults(func=cmd_studio)


def import_gradio() -> ModuleType:
    """Gradio, with analytics off and its temporary files under the app's folder, or an ``ImportError`` that
    says how to install it."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return gradio


def cmd_studio(args: argparse.Namespace) -> int:
    """Serve the studio until Ctrl-C; print its address first. Returns the exit code (0)."""
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    history_dir = Path(args.history or default_history()).resolve()
    cache = history_dir / UPLOAD_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(cache)  # read when Gradio is imported: set it first
    import_gradio()
    from audiodiff.studio.server import serve

    return serve(args.model, history_dir, host=args.host, port=args.port, device=args.device)


def wait_for_interrupt() -> None:
    """Sleep until Ctrl-C."""
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
