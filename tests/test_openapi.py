"""The OpenAPI document matches the routes (responses are checked in every API test)."""

from api_client import spec_path
from jsonschema import Draft202012Validator

from app.api.openapi import SPEC


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = {
        (spec_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in SPEC["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


def test_schemas_are_valid_json_schema():
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises, naming the bad part
