"""JSON in: media type, UTF-8, syntax, duplicate keys, each field's JSON type, RFC 3339 times.

Only what the JSON edge alone can get wrong is checked here; whether a value can be stored
(lengths, ranges, slugs) is the services' call, exactly as for the admin form.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn

from flask import request

from feedsvc.web.api.contract import JSON, MERGE_PATCH, TIME_EXAMPLE, Field, Kind, names
from feedsvc.web.api.errors import ApiError

# A present, well-typed field's value: text (null is "" where allowed), or an integer.
Value = str | int | tuple[str, ...]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def body(*, patch: bool = False) -> dict[str, Any]:
    """The request's JSON object, or an ApiError (415, 413, 400)."""
    accepted = [JSON, MERGE_PATCH] if patch else [JSON]
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in accepted or charset not in ("utf-8", "utf8"):
        header = "Accept-Patch" if patch else "Accept-Post"
        raise ApiError(
            415,
            f"Send the request body as {' or '.join(accepted)} (UTF-8), with that Content-Type.",
            headers={header: ", ".join(accepted)},
        )
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not UTF-8; JSON must be UTF-8.") from None
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey as exc:
        raise ApiError(
            400, f"The key “{exc.args[0]}” appears twice in one object; send it once."
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}.",
        ) from None
    except RecursionError:
        raise ApiError(400, "The JSON is nested too deeply.") from None
    except ValueError:  # NaN/Infinity, or an integer with thousands of digits
        raise ApiError(
            400, "The request body is not valid JSON: it has an invalid number."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, 'The request body must be a JSON object, like {"name": "…"}.')
    return data


def _whole(value: Any) -> Any:
    """A JSON number with a zero fraction as the integer it is: JSON Schema 2020-12 (§6.1.1 of
    its validation vocabulary) counts 5.0 as an integer, so the description allows it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _typed(field: Field, value: Any) -> tuple[Value | None, str]:
    """The value if its JSON type is the field's (null → "" where allowed), else a sentence."""
    name = field.name
    if value is None and field.nullable and field.kind is Kind.INTEGER:
        return "", ""  # null: "not given" (the caller reads "" as None)
    if field.kind in (Kind.INTEGER, Kind.REFERENCE):
        value = _whole(value)
    if field.kind is Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"“{name}” must be an integer{' or null' if field.nullable else ''}."
        return value, ""
    if field.kind is Kind.REFERENCE:
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None, f"“{name}” must be a section id (an integer) or slug (a string)."
        return value, ""
    if field.kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            return None, f"“{name}” must be true or false."
        return value, ""
    if field.kind is Kind.STRING_LIST:
        if value is None and field.nullable:
            return (), ""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f'“{name}” must be an array of strings, like ["climate", "energy"].'
        return tuple(value), ""
    if value is None and field.nullable:
        return "", ""
    if not isinstance(value, str):
        return None, f"“{name}” must be a string{' or null' if field.nullable else ''}."
    return value, ""


def fields(data: dict[str, Any], accepted: tuple[Field, ...]) -> dict[str, Value]:
    """The present fields of a JSON object, each of its JSON type; else 400 naming them all."""
    allowed = names(accepted)
    errors: dict[str, str] = {}
    for key in data:
        if key not in allowed:
            errors[key] = f"Unknown field. The fields you can send are: {', '.join(allowed)}."
    values: dict[str, Value] = {}
    for field in accepted:
        if field.name not in data:
            continue
        value, problem = _typed(field, data[field.name])
        if value is None:
            errors[field.name] = problem
        else:
            values[field.name] = value
    if errors:
        noun = "field" if len(errors) == 1 else "fields"
        raise ApiError(
            400, f"The request has the wrong {noun}: see “fields”. Nothing was saved.", errors
        )
    return values


# RFC 3339 §5.6 date-time; the offset is optional here only so that a missing one gets its
# own message (from the articles service) instead of "bad format". ASCII digits only.
_DATE_TIME = re.compile(
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?\Z"
)


def date_time(name: str, text: str) -> datetime:
    """An RFC 3339 date-time; naive when the offset is missing (the service refuses those)."""
    label = name.replace("_", " ").capitalize()
    match = _DATE_TIME.fullmatch(text.strip())
    if match is None:
        raise ApiError(
            422,
            f"“{name}” is not an RFC 3339 date and time.",
            {name: f"{label} must be an RFC 3339 date and time with an offset, {TIME_EXAMPLE}."},
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or ".")[1:7].ljust(6, "0")
    try:
        zone: timezone | None = None
        if match.group(8):
            zone = UTC
        elif match.group(9):
            hours, minutes = int(match.group(10)), int(match.group(11))
            if minutes > 59:
                raise ValueError("offset minutes")
            offset = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-offset if match.group(9) == "-" else offset)  # < 24 h, or ValueError
        return datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
    except ValueError:
        raise ApiError(
            422,
            f"“{name}” is not a real date and time.",
            {name: f"{label} is not a real date and time; use one {TIME_EXAMPLE}."},
        ) from None


def query_int(name: str, low: int, high: int, problems: dict[str, str]) -> int | None:
    """A whole-number query parameter in [low, high]; a sentence in problems otherwise."""
    text = request.args.get(name)
    if text is None:
        return None
    if re.fullmatch(r"[0-9]{1,10}", text) and low <= int(text) <= high:
        return int(text)
    problems[name] = f"{name} must be a whole number from {low} to {high}."
    return None
