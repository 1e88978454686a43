"""The OpenAPI document: operation ids, problem+json errors, request ids, `model` and `dataset` by plugin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import examples
from api.errors import PROBLEM_JSON
from api.request_id import HEADER, PARAMETER, RESPONSE_HEADER
from store.catalog import REF_TEMPLATE, DatasetOut, ModelOut, datasets, models

Plugin = ModelOut | DatasetOut


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (`get_run_curves` is `getRunCurves`): stable, and readable."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, then declare problem+json errors, request ids, models and datasets."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _errors_as_problems(document["paths"])
            _request_ids(document["paths"])
            for (path, method, status), example in examples.ANSWERS.items():
                document["paths"][path][method]["responses"][status]["content"]["application/json"] |= example
            schemas = document["components"]["schemas"]
            _choose_plugins(schemas, "ModelSpec", "Model", models())
            _choose_plugins(schemas, "DatasetSpec", "Dataset", datasets(None))
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


def _choose_plugins(schemas: dict[str, Any], spec: str, prefix: str, plugins: Sequence[Plugin]) -> None:
    """The spec's schema becomes oneOf the installed plugins, each with its own `params` schema."""
    mapping: dict[str, str] = {}
    common = {k: v for k, v in schemas[spec]["properties"].items() if k not in ("name", "params")}
    name_doc = schemas[spec]["properties"]["name"].get("description", spec)
    for plugin in plugins:
        params = dict(plugin.params)
        schemas.update(params.pop("$defs", {}))
        path = plugin.path if isinstance(plugin, DatasetOut) else None
        fields = dict(common)
        if path == "none":
            fields["path"] = {"type": "null", "description": f"{plugin.name} takes no path"}
        component = f"{prefix}_{plugin.name}"
        schemas[component] = {
            "title": plugin.name,
            "description": plugin.summary,
            "type": "object",
            "properties": {
                "name": {"type": "string", "const": plugin.name, "description": name_doc},
                "params": params,
                **fields,
            },
            "required": ["name", "path"] if path == "required" else ["name"],
            "additionalProperties": False,
        }
        mapping[plugin.name] = REF_TEMPLATE.format(model=component)
    schemas[spec] = {
        "description": schemas[spec].get("description", ""),
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "name", "mapping": mapping},
    }
