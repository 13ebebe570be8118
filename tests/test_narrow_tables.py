"""`syndicate mirrors` and `syndicate check` on an 80-column terminal (and on output read
through a pipe, which rich lays out at 80 columns): every row of a table on one line, every
mirror and error whole; wider terminals keep the wide tables."""

from __future__ import annotations

from pathlib import Path

from .test_cli_surface import default_config, syndicate

MIRRORS = ["https://www.presstv.ir", "https://www.presstv.co.uk", "https://www.presstv.tv"]


def operator_config(tmp_path: Path) -> Path:
    """The default config with its snapshots named by their whole paths, as an operator's
    config names them, and one mirror whose snapshot is gone, so that `mirrors` has an error
    to show."""
    config = default_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    text = text.replace("file:../seeds/", f"file:{tmp_path / 'seeds'}/")
    text = text.replace("seeds/www.presstv.tv", "seeds/gone")
    config.write_text(text, encoding="utf-8")
    return config


def body_rows(out: str) -> list[str]:
    """The lines of a table's rows, from the first table in `out`."""
    return [line for line in out.splitlines() if line.startswith("│")]


async def test_mirrors_fits_each_mirror_on_one_line_at_80_columns(tmp_path: Path) -> None:
    config = str(operator_config(tmp_path))
    code, _, err = await syndicate("--config", config, "pull", cwd=tmp_path)
    assert code == 0, err
    code, out, err = await syndicate(
        "--config", config, "mirrors", cwd=tmp_path, env={"COLUMNS": "80"}
    )
    assert code == 0, err
    # The error folded the row into 18 lines of 7 characters ("http-40", "4:", "https:/").
    rows = body_rows(out)
    assert len(rows) == 3, out
    assert all(len(line) <= 80 for line in out.splitlines() if line[:1] in "┏┃┡│└"), out
    for row, mirror in zip(rows, MIRRORS, strict=True):
        cells = [cell.strip() for cell in row.split("│")[1:-1]]
        assert cells[:2] == ["presstv", mirror], out
    assert rows[2].split("│")[3].strip() == "degraded", out
    # What went wrong with the mirror, whole, on a line of its own below the table.
    gone = f"{tmp_path / 'seeds' / 'gone'}/Section/10104"
    said = [line for line in out.splitlines() if gone in line]
    assert len(said) == 1, out
    assert said[0].startswith("! presstv https://www.presstv.tv: 1 failed"), out
    assert "http-404: https://www.presstv.tv/Section/10104: no file" in said[0], out

    # A wide terminal keeps one table, the error in its column.
    code, wide, err = await syndicate(
        "--config", config, "mirrors", cwd=tmp_path, env={"COLUMNS": "300"}
    )
    assert code == 0, err
    rows = body_rows(wide)
    assert len(rows) == 3 and gone in rows[2] and "degraded, 1 failed" in rows[2], wide
    assert "!" not in wide, wide
    # As it did before: room for the error column, which folds the long error in two.
    code, wide, err = await syndicate(
        "--config", config, "mirrors", cwd=tmp_path, env={"COLUMNS": "150"}
    )
    assert code == 0, err
    assert "no file" in body_rows(wide)[2] and "!" not in wide, wide


async def test_check_fits_each_entry_point_on_one_line_at_80_columns(tmp_path: Path) -> None:
    config = str(operator_config(tmp_path))
    code, out, err = await syndicate(
        "--config", config, "check", cwd=tmp_path, env={"COLUMNS": "80"}
    )
    assert code == 0, err
    # The mirrors' paths folded the one row into 10 lines ("file:///tmp/pytest", "-of-root").
    rows = body_rows(out)
    assert len(rows) == 1, out
    cells = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    assert cells[:3] == ["presstv", "north-africa", "page /Section/10104"], out
    assert all(len(line) <= 80 for line in out.splitlines() if line[:1] in "┏┃┡│└"), out
    # The mirrors a pull asks, each whole on its line, in order, below the table.
    lines = out.splitlines()
    start = lines.index("presstv pulls from:")
    seeds = tmp_path / "seeds"
    pulled = [f"file://{seeds}/www.presstv.ir", f"file://{seeds}/www.presstv.co.uk"]
    assert [line.strip() for line in lines[start + 1 : start + 4]] == [
        *pulled,
        f"file://{seeds}/gone",
    ], out

    code, wide, err = await syndicate(
        "--config", config, "check", cwd=tmp_path, env={"COLUMNS": "200"}
    )
    assert code == 0, err
    assert "pulls from:" not in wide and pulled[0] in wide and "pulled from" in wide, wide


async def test_status_and_pull_with_long_names_stay_within_80_columns(tmp_path: Path) -> None:
    # A source or section name is never folded: beside the columns of counts it made the
    # tables 89 to 92 columns wide, and an 80-column terminal broke each of their lines.
    config = default_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace("north-africa", "north-africa-and-maghreb")
    config.write_text(text.replace("\n  presstv:\n", "\n  presstv-english-edition:\n"))
    for command in ("pull", "status"):
        code, out, err = await syndicate(
            "--config", str(config), command, cwd=tmp_path, env={"COLUMNS": "80"}
        )
        assert code == 0, err
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= 80, out
        assert "presstv-english-edition" in lines, out
        # Each value after its column's name.
        assert ["failed", "0"] in [line.split() for line in lines], out
        if command == "status":
            assert "north-africa-and-maghreb" in lines, out
            assert ["stale", "after", "never"] in [line.split() for line in lines], out
        code, wide, err = await syndicate(
            "--config", str(config), command, cwd=tmp_path, env={"COLUMNS": "120"}
        )
        assert code == 0, err
        assert "┃ source                  ┃" in wide, wide
