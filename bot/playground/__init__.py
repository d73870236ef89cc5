"""The playground: the real bot in a browser, without Telegram or jiema.my.

``python -m bot --playground`` runs :func:`run_playground`: the sandbox jiema API, the
strict fake Bot API, the real bot against both, and a web chat that is a client of the fake
Bot API like Telegram's own apps.  Nothing here runs in a normal deployment.
"""

from bot.playground.run import PlaygroundError, run_playground

__all__ = ["PlaygroundError", "run_playground"]
