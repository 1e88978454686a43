"""The OpenAPI document, with the model object as a choice among the installed model plugins."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from store.catalog import REF_TEMPLATE, models


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, then describe `model` by the plugins this installation has."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _choose_models(generate()["components"]["schemas"])
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _choose_models(schemas: dict[str, Any]) -> None:
    """ModelSpec becomes oneOf the installed models, each with its own `params` schema."""
    mapping: dict[str, str] = {}
    for model in models():
        params = dict(model.params)
        schemas.update(params.pop("$defs", {}))
        component = f"Model_{model.name}"
        schemas[component] = {
            "title": model.name,
            "description": model.summary,
            "type": "object",
            "properties": {"name": {"type": "string", "const": model.name}, "params": params},
            "required": ["name"],
            "additionalProperties": False,
        }
        mapping[model.name] = REF_TEMPLATE.format(model=component)
    schemas["ModelSpec"] = {
        "description": schemas["ModelSpec"].get("description", ""),
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "name", "mapping": mapping},
    }
