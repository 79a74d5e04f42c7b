"""The ``auth0-asgi`` command: ``token``, ``explain``, ``doctor`` and the rest."""

from .command import main, main_for_console

__all__ = ["main", "main_for_console"]
