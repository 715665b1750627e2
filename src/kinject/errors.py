"""User-facing errors: one line that names the file, record and field."""


class KinjectError(Exception):
    """A problem with the user's input or configuration.

    The CLI prints ``str(err)`` on one line and exits with code 2; no traceback.
    """

    exit_code = 2


class RunFailed(KinjectError):
    """A run that started and could not go on (out of memory): one line, exit code 1."""

    exit_code = 1


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C, after the run saved a checkpoint at an optimizer-step boundary (exit code 130)."""


def need(ok: bool, key: str, message: str) -> None:
    """A config check: a one-line error naming the key when `ok` is false (the file and run are added
    by kinject.config.naming_source)."""
    if not ok:
        raise KinjectError(f"config: key '{key}': {message}")


def located(path, message: str, line: int | None = None, field: str | None = None) -> KinjectError:
    """Build a one-line error like ``data.jsonl:7: field 'answer': must be a non-empty string``."""
    where = str(path)
    if line is not None:
        where += f":{line}"
    if field is not None:
        message = f"field '{field}': {message}"
    return KinjectError(f"{where}: {message}")
