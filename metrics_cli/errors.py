"""The two kinds of failure a user can cause, each mapped to one exit code."""


class NbhdError(Exception):
    """A failure the user can act on: printed as one sentence, never a traceback."""

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return self.message if self.where is None else f"{self.message} (see {self.where})"


class UsageError(NbhdError):
    """Wrong arguments or environment: exit code 2."""

    exit_code = 2


class DataError(NbhdError):
    """The data has problems the user must fix: exit code 1."""

    exit_code = 1


class DiskFull(NbhdError):
    """The disk filled up: an environment error, exit code 2, reported once."""

    exit_code = 2
