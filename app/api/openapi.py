"""The OpenAPI 3.1 document of /api, generated from the route table.

Every API view carries its :class:`~app.api.operations.Operation` (input models,
headers, answers, errors); the models carry their JSON Schemas. Nothing here
repeats a limit or a status: paths come from Flask's URL map, schemas from
pydantic, statuses from the operations and the error classes they name.
"""

from __future__ import annotations

import re

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.api.operations import Operation
from app.api.problems import Problem
from app.inputs import MAX_BIGINT

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
# Path parameters by the converter of their URL rule.
CONVERTER_SCHEMAS = {
    "IdConverter": {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT, "examples": [1]}
}


def api_operations(app: Flask) -> list[tuple[str, str, str, dict, Operation]]:
    """(OpenAPI path, method, operationId, path parameter schemas, operation) of every
    declared API view."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        declared = getattr(app.view_functions.get(rule.endpoint), "operation", None)
        if declared is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        path_schemas = {
            name: declared.path_parameters.get(name)
            or CONVERTER_SCHEMAS.get(type(converter).__name__, {"type": "string"})
            for name, converter in rule._converters.items()
        }
        assert rule.methods is not None  # Flask's add_url_rule always sets them
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation_id = rule.endpoint.rsplit(".", 1)[-1]
            found.append((path, method.lower(), operation_id, path_schemas, declared))
    return found


def _parameters(path_schemas: dict, declared: Operation) -> list:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in path_schemas.items()
    ]
    if declared.query is not None:
        model_schema = declared.query.model_json_schema(ref_template=REF)
        required = set(model_schema.get("required", ()))
        for name, schema in model_schema["properties"].items():
            schema = {k: v for k, v in schema.items() if k != "title"}
            if schema.get("default", 0) is None:
                del schema["default"]
            parameter = {"name": name, "in": "query", "required": name in required}
            if description := schema.pop("description", None):
                parameter["description"] = description
            parameters.append(parameter | {"schema": schema})
    for header in declared.headers:
        parameters.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": header.schema,
            }
        )
    return parameters


def _problem_response(whys: list[str], retry: bool = False) -> dict:
    response = {
        "description": " ".join(sorted(set(whys))),
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if retry:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def build_spec(app: Flask) -> dict:
    """The OpenAPI document for ``app``'s API views."""
    operations = api_operations(app)
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(Problem, "serialization")}
    for *_ignored, declared in operations:
        models.add((declared.ok.model, "serialization"))
        if declared.body is not None:
            models.add((declared.body, "validation"))
    refs, definitions = models_json_schema(
        sorted(models, key=lambda pair: (pair[0].__name__, pair[1])), ref_template=REF
    )
    paths: dict = {}
    for path, method, operation_id, path_schemas, declared in operations:
        answer = declared.ok
        ok = {
            "description": answer.description,
            "content": {"application/json": {"schema": refs[(answer.model, "serialization")]}},
        }
        if answer.headers:
            ok["headers"] = {
                h.name: {"description": h.description, "schema": h.schema} for h in answer.headers
            }
        if answer.links:
            ok["links"] = answer.links
        responses = {str(answer.status): ok}
        retrying = {409, 503}
        for status, whys in sorted(declared.error_statuses().items()):
            response = _problem_response(whys, retry=status in retrying)
            if status == 412:
                response["headers"] = {
                    "ETag": {"description": "The current version.", "schema": {"type": "string"}}
                }
            responses[str(status)] = response
        entry = {
            "operationId": operation_id,
            "summary": declared.summary,
            "parameters": _parameters(path_schemas, declared),
            "responses": responses,
        }
        if declared.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(declared.body, "validation")]}},
            }
        if declared.public:
            entry["security"] = []
        paths.setdefault(path, {})[method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stockroom API",
            "version": "1.0.0",
            "description": (
                "Errors are RFC 9457 problem+json (`application/problem+json`). Numbers in "
                "bodies are JSON Schema integers (`207.0` is 207); in query strings and "
                "headers, ASCII digits."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `flask api-token create NAME`.",
                }
            },
        },
    }


def spec(app: Flask) -> dict:
    """The document, built once per app."""
    document = app.extensions.get("stockroom.openapi")
    if document is None:
        document = app.extensions["stockroom.openapi"] = build_spec(app)
    return document
