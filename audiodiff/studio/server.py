"""Start the studio's web server: the page, its queue and the limits on what it serves and accepts."""

from __future__ import annotations

from pathlib import Path

from audiodiff.studio.app import CSS, build_app
from audiodiff.studio.command import wait_for_interrupt
from audiodiff.studio.forms import MAX_UPLOAD_MB
from audiodiff.studio.history import History
from audiodiff.studio.service import Studio

QUEUE_SIZE = 32  # requests waiting behind the running one; more are refused with a message


def serve(model: str | None, history_dir: Path, *, host: str, port: int, device: str) -> int:
    """Load ``model``, serve the page on ``host:port`` until Ctrl-C, then close the server; returns 0.

    One request runs at a time (the rest wait in the queue); uploads are limited to
    ``MAX_UPLOAD_MB`` and kept with the server's copies under ``history_dir/.gradio``; only the
    history folder is served.
    """
    studio = Studio(model, History(history_dir), device=device)
    demo = build_app(studio)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True,
                show_error=True, allowed_paths=[str(history_dir)], max_file_size=f"{MAX_UPLOAD_MB}mb",
                ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False, css=CSS,
                footer_links=["gradio"])
    print(f"audiodiff studio: serving at http://{host}:{port} (history: {history_dir}); Ctrl-C stops it",
          flush=True)
    try:
        wait_for_interrupt()
    finally:
        demo.close()
    print("audiodiff studio: stopped", flush=True)
    return 0

