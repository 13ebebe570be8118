"""The README's config reference is a config the service accepts, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

from syndicator.config import load_config

from .conftest import REPO


def test_the_config_reference_in_the_readme_validates(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("```yaml\nservice:") + len("```yaml\n")
    block = text[start : text.index("```", start)]
    path = tmp_path / "reference.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    source = config.sources["presstv"]
    # The reference shows every part of the config, not a trimmed copy.
    assert source.selectors is not None and source.section_rules and source.strip_text
    assert config.service.websub.hub and config.retention.enabled
