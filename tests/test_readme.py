"""The docs' config reference is a config the service accepts, and the README's layout table is
the package tree, so the docs cannot drift."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pydantic import BaseModel

from syndicator.core.config import Config
from syndicator.core.config_file import load_config, parse_config
from syndicator.core.config_values import parse_duration, parse_size
from syndicator.core.errors import ConfigError
from syndicator.ops.cli import main
from syndicator.publish.documents import FeedBook
from syndicator.store import Store
from syndicator.web.metrics import Metrics
from syndicator.web.server import make_app

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


def _intro(text: str) -> str:
    """What a page says before its first heading of level 2, its title left out."""
    start = text.index("\n") + 1
    return text[start : text.index("\n## ", start)].strip()


def test_the_manual_home_page_says_what_the_readme_says() -> None:
    # docs/index.md repeats the README's opening for the site; it had fallen behind (it
    # named neither `db check` nor `db backup` among the commands).
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    home = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    assert _intro(home) == _intro(readme).replace("](docs/", "](")
    # Its two set-up commands are the README's.
    commands = re.findall(r"^(pip install [^#\n]*?)\s*(?:#.*)?$", home, flags=re.M)
    assert len(commands) == 2
    for command in commands:
        assert f"\n{command}\n" in readme, command


# The smallest config the bounds are tried in: one section, one source with a sitemap.
_BOUNDS_BASE: dict[str, Any] = {
    "service": {"store": "sqlite:///x.db"},
    "sections": {"a": {"title": "A"}},
    "sources": {
        "s": {
            "title": "S",
            "canonical": "https://www.example.org",
            "sections": {"a": {"feed": "/rss.xml", "sitemap": "/sitemap.xml"}},
        }
    },
}
# What a key's bound needs of the keys it is checked against (lease_timeout >= 3x poll ...).
_COMPANIONS = {
    "cluster.lease_timeout": {"cluster.poll": 0.05},
    "cluster.poll": {"cluster.lease_timeout": 86400},
    "service.request_deadline": {"service.pull_deadline": 86400},
    "service.pull_deadline": {"service.request_deadline": 1},
    "sources.s.breaker.backoff": {"sources.s.breaker.max_backoff": 30 * 86400},
    "sources.s.breaker.max_backoff": {"sources.s.breaker.backoff": 1},
    "service.archive.page_size": {"service.max_items": 10000},
}


def _bounds_rows() -> list[tuple[str, str, str, str]]:
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    section = text[text.index("## Bounds") : text.index("No duration may exceed")]
    rows = re.findall(r"^\| `([\w.*]+)`[^|]* \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", section, re.M)
    return [tuple(cell.strip() for cell in row) for row in rows]  # type: ignore[misc]


def _value(text: str, like: object) -> float | None:
    """A cell of the table as the model holds it; None for words (`off`, `max_items`)."""
    try:
        if isinstance(like, int) and re.fullmatch(r"\d+ ?(B|KiB|MiB|GiB)", text):
            return parse_size(text)
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        return parse_duration(text)
    except ValueError:
        return None


def _load_with(key: str, value: float | None) -> Any:
    data = copy.deepcopy(_BOUNDS_BASE)
    settings = {} if value is None else {**_COMPANIONS.get(key, {}), key: value}
    for dotted, given in settings.items():
        *path, last = dotted.split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        node[last] = given
    config = parse_config(yaml.safe_dump(data), Path("/tmp/bounds.yaml"))
    node: Any = config
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


@pytest.mark.parametrize(("key", "default", "low", "high"), _bounds_rows())
def test_the_bounds_table_is_what_the_config_model_holds(
    key: str, default: str, low: str, high: str
) -> None:
    # Every row of docs/config.md's table: its default is the model's, its bounds are
    # accepted and a step beyond each is refused, naming the key.
    key = key.replace("*", {"sections.*.stale_after": "a"}.get(key, "s"), 1).replace("*", "a")
    unset = _load_with(key, None)
    whole = isinstance(unset, int) and not isinstance(unset, bool)
    # Unset by default (retention.days): a count when both bounds are written as one.
    whole = whole or (unset is None and low.isdigit() and high.isdigit())
    like: object = 1 if whole else 1.0
    if (number := _value(default, like)) is not None:
        assert unset == number, f"{key}: the model's default is {unset}, the table says {default}"
    for bound, step in ((low, -1), (high, 1)):
        limit = _value(bound, like)
        if limit is None:
            continue
        assert _load_with(key, limit) == limit, f"{key}: {bound} is refused"
        if whole:
            beyond = limit + step
        else:
            beyond = limit * 1.01 if step > 0 else (limit * 0.99 if limit else -0.01)
        with pytest.raises(ConfigError) as refused:
            _load_with(key, beyond)
        assert f" {key}: " in str(refused.value), str(refused.value)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The config models a field's type holds: itself, or inside Annotated, a union, a
    list or a mapping."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def test_the_config_reference_names_every_key_the_model_takes() -> None:
    # A key the model accepts that the reference block leaves out is a setting no operator
    # finds: each is in the block as `name:` (the selectors' fields but `body`, in the
    # comment that lists them).
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    start = text.index("```yaml\nservice:")
    block = text[start : text.index("```", start + 3)]
    models, seen, keys = [Config], set(), []
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if name != "base_dir":
                keys.append(f"{model.__name__}.{name}")
                models += _models_in(field.annotation)
    assert len(keys) > 60
    listed = re.search(r"# title, author, .* work the same way", block)
    assert listed is not None
    missing = [
        k
        for k in keys
        if not re.search(rf"[\s{{,]{k.split('.')[1]}:", block)
        and not (k.startswith("Selectors.") and k.split(".")[1] in listed.group())
    ]
    assert missing == []


async def _ready() -> tuple[bool, dict[str, Any]]:
    return True, {}


def test_every_route_the_server_answers_is_in_the_publishing_table() -> None:
    # docs/publishing.md's HTTP table is what an operator reads to know what the server
    # answers: /mirrors (the dashboard the index links to) was missing from it.
    config = load_config(REPO / "config" / "syndicator.yaml")
    book = FeedBook(config, cast(Store, None))  # routes only: nothing is asked of the store
    app = make_app(book, metrics_of=Metrics(config), readiness=_ready)
    routes = {route.resource.canonical for route in app.router.routes() if route.resource}
    text = (REPO / "docs" / "publishing.md").read_text(encoding="utf-8")
    table = text[text.index("## HTTP") : text.index("The index page ends")]
    documented = set(re.findall(r"`(/[^`?]*)`", table))
    assert len(routes) > 12
    for route in sorted(routes):
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route))
        assert any(re.fullmatch(pattern, path) for path in documented), route


def test_the_command_table_names_every_command_and_only_options_it_takes() -> None:
    # docs/operating.md's command table is where an operator looks up a command: every
    # command is in it, and every option a row shows is one the command takes.
    text = (REPO / "docs" / "operating.md").read_text(encoding="utf-8")
    table = text[text.index("## Command line") : text.index("Every command takes `--json`")]
    commands: dict[str, Any] = {}
    for name, command in main.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            commands.update({f"{name} {sub}": c for sub, c in subcommands.items()})
        else:
            commands[name] = command
    rows = re.findall(r"^\| `syndicate (.+?)` \|", table, re.M)
    longest_first = sorted(commands, key=len, reverse=True)
    named = {
        row: next((n for n in longest_first if f"{row} ".startswith(f"{n} ")), "") for row in rows
    }
    assert sorted(set(named.values())) == sorted(commands)
    for row, name in named.items():
        params = commands[name].params
        taken = {opt for param in params for opt in param.opts + param.secondary_opts}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", row):
            assert option in taken, f"syndicate {name}: {option}"
