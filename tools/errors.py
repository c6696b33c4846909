"""Exceptions raised by the maintainer helpers; each names what failed and how to fix it."""


class ToolError(RuntimeError):
    """Base class: message says what failed and what to do."""

    exit_code = 1


class RecipeError(ToolError):
    """A recipe cannot be rendered or is inconsistent."""

    exit_code = 2


class DownloadError(ToolError):
    """A source could not be fetched or failed its checksum."""

    exit_code = 3


class PatchError(ToolError):
    """A recipe patch does not apply to its source."""

    exit_code = 4


class BuildError(ToolError):
    """The recipe's build script failed."""

    exit_code = 5


class SetupError(ToolError):
    """A test-suite prerequisite (such as the conda tools) cannot be installed."""

    exit_code = 6
