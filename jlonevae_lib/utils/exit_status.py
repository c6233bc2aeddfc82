"""The exit statuses of our processes, one home for each, so that the sweep's backends can tell
what happened to a training process from its status alone.

=====  ==========================================================================================
0      finished
2      bad input (flags, files): :class:`~jlonevae_lib.utils.errors.JLoneVAEError`
3      the loss diverged; the trainer wrote ``FAILED`` and kept its last good checkpoint
75     busy: another live process holds the run folder's lock (BSD's ``EX_TEMPFAIL``: try later)
130    stopped by SIGINT after a checkpoint (128 + 2)
143    stopped by SIGTERM after a checkpoint (128 + 15: what schedulers expect of a stopped job)
=====  ==========================================================================================

A process killed by a signal it did not handle reports minus the signal's number to its parent
(``subprocess``'s convention): -9 for SIGKILL, which is also how the kernel's out-of-memory
killer ends a process.
"""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_BUSY = 75
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM
#: The status of a process that SIGKILL ended (out of memory, or a scheduler's kill after its
#: grace time).
KILLED = -signal.SIGKILL
