"""The one exception a scenario raises to say it cannot run here, and why."""


class Skip(Exception):
    """Raised by a scenario that cannot run on this machine; the message says why."""
