"""Exceptions of gradsign-nas. Every one is a ``ValueError`` whose message is one sentence saying
what was expected and what came; the CLI prints it and exits with code 2."""


class GradSignNASError(ValueError):
    """Base class of the toolkit's user-facing errors."""


class DataError(GradSignNASError):
    """A data file is missing, corrupt, or not in the expected format."""


class UnsafePickleError(DataError):
    """A pickle asked for something other than builtins and numpy scalars."""
