"""Exceptions of gradsign-nas. Every one is a ``ValueError`` whose message is one sentence saying
what was expected and what came; the CLI prints it and exits with code 2. Any other exception is a
bug in the toolkit: the CLI shows its traceback and exits with code 1."""


class GradSignNASError(ValueError):
    """Base class of the toolkit's user-facing errors."""


class InputError(GradSignNASError):
    """An argument, option or setting the user gave is not valid."""


class DataError(GradSignNASError):
    """A data file is missing, corrupt, or not in the expected format."""


class UnsafePickleError(DataError):
    """A pickle asked for something other than builtins and numpy scalars."""
