"""The bad-input corpus (tests/bad_inputs/, see its README): every malformed config or data file
ends with its exact one-line error, exit code 2, and nothing written. Each case starts from a fresh
state: no generated data on disk, only the case's own files."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from kinject.cli import main

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every directory (None): a created empty directory counts as written."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_its_line_exit_2_and_writes_nothing(case, tmp_path, tiny_model_dir, capsys, monkeypatch):
    work = tmp_path / "case"
    shutil.copytree(CORPUS / "_base", work)
    shutil.copytree(tiny_model_dir, work / "model")
    shutil.copytree(CORPUS / case, work, dirs_exist_ok=True)
    expected = (work / "expected").read_text().strip()
    args_file = work / "args"
    args = shlex.split(args_file.read_text()) if args_file.exists() else ["run", "run.yaml"]
    monkeypatch.chdir(work)
    before = snapshot(work)
    capsys.readouterr()
    code = main(args)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    if os.environ.get("KINJECT_SHOW_BAD_INPUTS"):  # to review or refresh the expected lines
        print(f"\n{case}\t{code}\t{lines[-1] if lines else ''}")
    assert code == 2
    assert lines and lines[-1] == expected
    assert snapshot(work) == before  # nothing written, nothing changed
    assert not (work / "pwned").exists()
