"""The errors refq raises for bad input.

Every public function validates its arguments before computing anything and
raises one of these classes. The message always starts with the argument's
name and says what is allowed, so that a user never has to read refq's source
to learn what went wrong.
"""

from __future__ import annotations


class RefqError(Exception):
    """Base class of every error refq raises on purpose."""


class RefqValueError(RefqError, ValueError):
    """An argument has the right type but a value outside what is allowed."""


class RefqTypeError(RefqError, TypeError):
    """An argument has a type refq does not accept."""


def invalid(argument: str, allowed: str, got: object) -> RefqValueError:
    """Build the standard message: ``<argument>: must be <allowed>, got <got>``."""
    return RefqValueError(f"{argument}: must be {allowed}, got {got!r}")


def wrong_type(argument: str, allowed: str, got: object) -> RefqTypeError:
    return RefqTypeError(f"{argument}: must be {allowed}, got {type(got).__name__} {got!r}")
