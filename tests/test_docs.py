"""Documentation that is generated must be current; the README keeps its shape."""

from __future__ import annotations

from pathlib import Path

from kinject.config.reference import markdown_reference

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current():
    assert (ROOT / "docs" / "config.md").read_text() == markdown_reference(), \
        "docs/config.md is stale: kinject config --markdown > docs/config.md"


def test_readme_starts_with_the_two_fresh_machine_commands_and_stays_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[0] == "# kinject" and lines[2] == "```bash"
    assert lines[3].startswith("make demo") and lines[4].startswith("make test") and lines[5] == "```"
    assert len(lines) <= 160


def test_no_citation_of_a_file_users_do_not_have():
    for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "src").rglob("*.py"),
                 *(ROOT / "configs").rglob("*.yaml")]:
        assert "methods.md" not in path.read_text(), path
