"""The failures a user can meet and act on.

An EdgeseqError becomes one line on stderr and exit code 2; anything else is a bug.
"""


class EdgeseqError(Exception):
    """A known failure with a message written for the user (one line, actionable)."""


class InputError(EdgeseqError):
    """Bad user input: a file, a column, a prompt character, an option value."""


class ParameterError(InputError):
    """An argument out of its range, worded with the argument's name: ``length must be a
    positive number of characters, got 0``. The CLI says the same with the flag that set it
    (``--length ...``): ``flag_message()``. A name that is already a flag stays as it is."""

    def __init__(self, parameter: str, after: str, before: str = ""):
        self.parameter, self.before, self.after = parameter, before, after
        super().__init__(f"{before}{parameter}{after}")

    def flag_message(self) -> str:
        name = self.parameter
        flag = name if name.startswith("-") else "--" + name.replace("_", "-")
        return f"{self.before}{flag}{self.after}"


class ModelFileError(EdgeseqError):
    """A file that is not ONNX, or not an edgeseq model, or not the kind asked for."""


class ExportCheckError(EdgeseqError):
    """The exported graph failed a check against TensorFlow (parity, op types)."""


class IntegrityError(ModelFileError):
    """A model file whose bytes do not match the digest it carries: damaged or edited."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, after the command said what it kept: exit 130 with nothing more to add."""
