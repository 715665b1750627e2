"""What people see: one progress bar per run (loss, learning rate, ETA), one line per evaluation,
and the final table. Per-step dictionaries go to the run directory (train_log.jsonl) and
TensorBoard; `-v` prints them too, with the libraries' own progress bars and warnings; `-q` keeps
only the final table and errors. In a multi-process run only the main process speaks."""

from __future__ import annotations

import sys

QUIET, NORMAL, VERBOSE = 0, 1, 2
_level = NORMAL
_bar = None  # the training bar of the run in progress


def set_verbosity(level: int) -> None:
    global _level
    _level = level
    quiet_libraries(level < VERBOSE)


def verbosity() -> int:
    return _level


def speaks(level: int = NORMAL) -> bool:
    from kinject.distributed import process_index

    return _level >= level and process_index() == 0


def log(message: str, level: int = NORMAL) -> None:
    """One line to stderr, above the progress bar if one is showing."""
    if not speaks(level):
        return
    line = f"[kinject] {message}"
    if _bar is not None:
        _bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


LIBRARY_QUIET = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                 "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def quiet_libraries(quiet: bool) -> None:
    """transformers' and datasets' own bars and info lines (weight loading, map, shard writing):
    through their environment variables before they are imported (no import cost here), through
    their functions once they are."""
    import os

    for key, value in LIBRARY_QUIET.items():
        if quiet:
            os.environ.setdefault(key, value)
        elif os.environ.get(key) == value:
            del os.environ[key]
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error() if quiet else hf_logging.set_verbosity_warning()
        hf_logging.disable_progress_bar() if quiet else hf_logging.enable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        if quiet:
            datasets.disable_progress_bars()
        elif not datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS:  # fixed when datasets was imported
            datasets.enable_progress_bars()


def progress_enabled() -> bool:
    """Inner bars (generation batches, paraphrase chunks) only with -v: the run's bar says what runs."""
    return speaks(VERBOSE)


def training_bar(total: int | None, description: str):
    global _bar
    from tqdm.auto import tqdm

    _bar = tqdm(total=total, desc=description, unit="step", dynamic_ncols=True, disable=not speaks(),
                file=sys.stderr, leave=True)
    return _bar


def current_bar():
    return _bar


def close_bar() -> None:
    global _bar
    if _bar is not None:
        _bar.close()
        _bar = None


def status(text: str) -> None:
    """What the run is doing besides training (an evaluation), shown on its bar."""
    if _bar is not None and not _bar.disable:
        _bar.set_postfix_str(text, refresh=True)


def print_table(caption: str, headers: list[str], rows: list[list[str]]) -> None:
    """The final table, rendered for a terminal (stdout; also with -q)."""
    from kinject.distributed import process_index

    if process_index() != 0:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=caption, title_justify="left", show_lines=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console()
    (console if console.is_terminal else Console(width=120)).print(table)  # a log file gets a fixed width


def close_progress_bars() -> None:
    """Close bars a failed run left open, so the error is the last line on the screen."""
    from tqdm import tqdm

    close_bar()
    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()
