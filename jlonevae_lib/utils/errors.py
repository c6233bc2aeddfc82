"""User-facing errors and the CLI wrapper that shows them as one readable line."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

from jlonevae_lib.utils.exit_status import EXIT_USAGE

F = TypeVar("F", bound=Callable[..., int | None])


class JLoneVAEError(Exception):
    """An error caused by the user's input (flags, files, names) with a message saying what to do.

    CLIs catch it, print ``error: <message>`` without a traceback and exit with ``exit_code``.
    """

    exit_code = EXIT_USAGE


class DataFileError(JLoneVAEError):
    """A data or model file is missing, truncated, corrupt or has the wrong shape."""


class UnsafePickleError(JLoneVAEError):
    """A pickle file asked to build an object that is not plain data."""


#: Characters of a library's error text kept in our one-line messages.
REASON_MAX_CHARS = 160


def short_reason(err: BaseException, max_chars: int = REASON_MAX_CHARS) -> str:
    """``"<Type>: <first line of the message>"``, cut to ``max_chars`` with an ellipsis.

    torch and numpy put paragraphs of advice into some errors (``torch.load``'s weights-only
    refusal runs to a dozen lines); our messages quote only enough to identify the cause.
    """
    lines = str(err).strip().splitlines()
    reason = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return reason if len(reason) <= max_chars else reason[:max_chars - 1].rstrip() + "…"


#: Errors of a path the user gave: a file where a folder should be or the reverse, or no
#: permission. A CLI shows them as one line (:func:`path_error_line`) rather than a traceback.
PATH_ERRORS = (NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError)


def path_error_line(err: OSError) -> str:
    """One line for a :data:`PATH_ERRORS` error: the path, what is wrong, what to do."""
    where = err.filename if err.filename is not None else "a path"
    what = (err.strerror or type(err).__name__).lower()
    advice = ("check that you may write there" if isinstance(err, PermissionError)
              else "a file and a folder have the same name there; give another path")
    return f"{where}: {what} ({advice})"


def user_message(err: JLoneVAEError) -> str:
    """The error's message without the lines gin appends when it passes an error up through a
    configurable ("In call to configurable 'evaluation' (...)"), which say nothing to a user."""
    return "\n".join(line for line in str(err).splitlines()
                     if not line.strip().startswith("In call to configurable"))


def one_line_warning(message: Warning | str, category: type[Warning], filename: str,
                     lineno: int, line: str | None = None) -> str:
    """A warning as a command line shows it: ``warning: <message>``, without the source line
    Python prints by default (:func:`warnings.formatwarning`'s signature)."""
    return f"warning: {message}\n"


def cli_errors(main: F) -> F:
    """Decorate a CLI ``main``: user errors become one line on stderr and their exit code."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        warnings.formatwarning = one_line_warning
        try:
            return main(*args, **kwargs)
        except JLoneVAEError as err:
            print(f"error: {user_message(err)}", file=sys.stderr)
            raise SystemExit(err.exit_code) from None
        except PATH_ERRORS as err:
            print(f"error: {path_error_line(err)}", file=sys.stderr)
            raise SystemExit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, as command-line tools do.
            # Python flushes stdout at exit; into the closed pipe that would fail again.
            sys.stdout = open(os.devnull, "w")
            raise SystemExit(141) from None

    return wrapper  # type: ignore[return-value]

