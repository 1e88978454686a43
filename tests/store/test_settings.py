"""store/settings.py against the README's Settings table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from store.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def variables(model: type[BaseModel], prefix: str, delimiter: str) -> Iterator[str]:
    """The environment variable of every field, those of nested groups as PREFIX_GROUP<delimiter>FIELD."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name}".upper()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from variables(field.annotation, variable + delimiter, delimiter)
        else:
            yield variable


def documented() -> set[str]:
    """The variables named in the first column of the README's Settings table."""
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(CLR_\w+)`", row.split("|")[1])}


def settings_variables() -> set[str]:
    config = Settings.model_config
    return set(variables(Settings, config.get("env_prefix", ""), config.get("env_nested_delimiter") or "__"))


def test_every_setting_is_in_the_readme_settings_table() -> None:
    assert settings_variables() - documented() == set()


def test_the_readme_settings_table_names_no_setting_that_does_not_exist() -> None:
    assert documented() - settings_variables() == set()
