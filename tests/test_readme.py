"""The docs' config reference is a config the service accepts, and the README's layout table is
the package tree, so the docs cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from syndicator.core.config import load_config

from .conftest import REPO


def test_the_config_reference_in_the_docs_validates(tmp_path: Path) -> None:
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    start = text.index("```yaml\nservice:") + len("```yaml\n")
    block = text[start : text.index("```", start)]
    path = tmp_path / "reference.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    source = config.sources["presstv"]
    # The reference shows every part of the config, not a trimmed copy.
    assert source.selectors is not None and source.section_rules and source.strip_text
    assert config.service.websub.hub and config.retention.enabled


def test_the_layout_table_in_the_readme_matches_the_package_tree() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Layout") :]
    rows = re.findall(r"^\| `(\w+)/` \| (.*) \|$", section, flags=re.M)
    listed = {folder: set(re.findall(r"`(\w+)`", what)) for folder, what in rows}
    package = REPO / "syndicator"
    folders = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert set(listed) == folders
    for folder, names in listed.items():
        modules = {p.stem for p in (package / folder).glob("*.py") if p.stem != "__init__"}
        assert modules <= names, f"{folder}/: {sorted(modules - names)} not in the README"


def test_the_readme_is_short_and_every_manual_page_it_names_exists() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    pages = re.findall(r"\]\((docs/[\w-]+\.md)\)", text)
    assert len(set(pages)) >= 8
    for page in pages:
        assert (REPO / page).is_file(), page
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in pages:
        assert page.removeprefix("docs/") in nav, f"{page} is not in the MkDocs nav"
