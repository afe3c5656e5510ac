"""The web studio (``audiodiff studio``): every operation in the browser, with players,
spectrograms and an on-disk history. Gradio is imported only when the server starts.

Modules: ``command`` (the subcommand), ``server`` (launch), ``app`` and ``widgets`` (the page),
``service`` (the operations and the history, no Gradio), ``forms`` (field values), ``history``,
``render`` (spectrogram pictures).
"""

from audiodiff.studio.command import add_parser, cmd_studio

__all__ = ["add_parser", "cmd_studio"]
