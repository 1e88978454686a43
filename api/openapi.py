"""The OpenAPI document: operation ids, problem+json errors, request ids, `model` as an installed plugin."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import examples
from api.errors import PROBLEM_JSON
from api.request_id import HEADER, PARAMETER, RESPONSE_HEADER
from store.catalog import REF_TEMPLATE, models


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (`get_run_curves` is `getRunCurves`): stable, and readable."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, then declare problem+json errors, request ids and `model` by plugin."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _errors_as_problems(document["paths"])
            _request_ids(document["paths"])
            for (path, method, status), example in examples.ANSWERS.items():
                document["paths"][path][method]["responses"][status]["content"]["application/json"] |= example
            _choose_models(document["components"]["schemas"])
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _errors_as_problems(paths: dict[str, Any]) -> None:
    """Every error answer's body under application/problem+json, the type the error handlers send."""
    for operations in paths.values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")


def _request_ids(paths: dict[str, Any]) -> None:
    """Every operation takes an X-Request-ID and every answer carries one: the middleware wraps them all."""
    for operations in paths.values():
        for operation in operations.values():
            operation.setdefault("parameters", []).append(PARAMETER)
            for response in operation["responses"].values():
                response.setdefault("headers", {})[HEADER] = RESPONSE_HEADER


def _choose_models(schemas: dict[str, Any]) -> None:
    """ModelSpec becomes oneOf the installed models, each with its own `params` schema."""
    mapping: dict[str, str] = {}
    name_doc = schemas["ModelSpec"]["properties"]["name"].get("description", "The model")
    for model in models():
        params = dict(model.params)
        schemas.update(params.pop("$defs", {}))
        component = f"Model_{model.name}"
        schemas[component] = {
            "title": model.name,
            "description": model.summary,
            "type": "object",
            "properties": {
                "name": {"type": "string", "const": model.name, "description": name_doc},
                "params": params,
            },
            "required": ["name"],
            "additionalProperties": False,
        }
        mapping[model.name] = REF_TEMPLATE.format(model=component)
    schemas["ModelSpec"] = {
        "description": schemas["ModelSpec"].get("description", ""),
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "name", "mapping": mapping},
    }
