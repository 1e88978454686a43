"""What this installation can run, as JSON Schema: the model plugins and their parameters.

The OpenAPI document and the discovery endpoints read it, from the same plugins the request checks use.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from clr.plugins import Installed, model_plugins

REF_TEMPLATE = "#/components/schemas/{model}"


def params_schema(installed: Installed) -> dict[str, Any]:
    """The JSON Schema of a plugin's parameters (nested definitions under `$defs`)."""
    schema: dict[str, Any] = TypeAdapter(installed.plugin.params).json_schema(ref_template=REF_TEMPLATE)
    schema.setdefault("additionalProperties", False)
    return schema


def model_choices() -> dict[str, dict[str, Any]]:
    """Each installed model by name: its summary, where it comes from and its parameters' schema."""
    return {
        name: {
            "summary": installed.plugin.summary,
            "source": installed.source,
            "params": params_schema(installed),
        }
        for name, installed in model_plugins().items()
    }
