"""Errors that the command line and the protocol report to the user as plain messages."""


class InputError(ValueError):
    """Bad input: the message names the file (when there is one) and the problem."""


class NotAvailableError(NotImplementedError):
    """A documented feature of the reference program that this package does not offer yet."""
