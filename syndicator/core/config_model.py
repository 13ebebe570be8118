"""What every mapping of the config shares: unknown keys refused, values immutable, no NaN or
infinity, no lone surrogate, no true or false where a number belongs; and `CrossKeyError`, the
mistake of several keys of one mapping together. The models themselves are `source_config`'s
(a source and its mirrors) and `config`'s (the service, its sections and the whole file).
No I/O.
"""

from __future__ import annotations

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
)

from syndicator.core.config_values import lone_surrogate


class CrossKeyError(ValueError):
    """A check of several keys of one mapping together (request_deadline against
    pull_deadline): `keys` are the keys it is about, dotted below the mapping, so that the
    problem is named at the first of them the file sets rather than at the mapping."""

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.keys = keys


# Field types that take a number, and never true or false.
_NUMBERS: tuple[object, ...] = (int, float, int | None, float | None)


class ConfigModel(BaseModel):
    # NaN and infinities are no value any setting can take (`.nan` and `.inf` are YAML).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_lone_surrogate(cls, value: object) -> object:
        if (found := lone_surrogate(value)) is not None:
            raise ValueError(f"holds {found}, which is no character (a lone surrogate); remove it")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        # pydantic takes true as 1 and false as 0: `max_items: true` was one item, where
        # `every: true` and a size were refused. A quoted number ("50") stays a number, as
        # environment variables give every value.
        field = cls.model_fields.get(info.field_name or "")
        if (
            isinstance(value, bool)
            and field is not None
            and field.annotation in _NUMBERS
            and not any(isinstance(m, BeforeValidator) for m in field.metadata)
        ):
            raise ValueError(f"{str(value).lower()} is true/false, where a number belongs")
        return value
