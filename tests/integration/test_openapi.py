"""The OpenAPI document matches the routes (responses are checked in every API test)."""

from api_client import spec_path
from jsonschema import Draft202012Validator

from app.api.blueprint import PUBLIC_ENDPOINTS
from app.api.openapi import spec


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = {
        (spec_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint not in PUBLIC_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in spec(app)["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


def test_schemas_are_valid_json_schema(app):
    for schema in spec(app)["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises, naming the bad part


def test_docs_and_their_assets_are_served_here_without_a_token(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/api/docs/assets/{asset}" in page.text
        with client.get(f"/api/docs/assets/{asset}") as response:
            assert response.status_code == 200 and len(response.data) > 1000
    assert "https://" not in page.text  # no CDN
    assert client.get("/api/docs/assets/..%2Fcore.py").status_code == 404
    assert client.get("/api/docs/assets/index.html").status_code == 404
    assert client.get("/api/openapi.json").status_code == 200


def test_every_status_a_route_answers_is_documented_with_the_problem_schema(app):
    document = spec(app)
    create = document["paths"]["/api/orders"]["post"]
    assert {"201", "400", "401", "404", "409", "413", "415", "422", "503"} == set(
        create["responses"]
    )
    patch = document["paths"]["/api/products/{product_id}"]["patch"]
    assert {"400", "412", "428"} <= set(patch["responses"])
    (if_match,) = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match["required"] and if_match["schema"]["pattern"] == '^"[0-9]+"$'
    (key,) = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"]["pattern"]
    # Limits come from the models: one source, stated in the document.
    line = document["components"]["schemas"]["NewOrderLine"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 1_000_000}.items() <= line[
        "quantity"
    ].items()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status"} <= set(problem["required"])
    (cursor,) = [
        p for p in document["paths"]["/api/products"]["get"]["parameters"] if p["name"] == "cursor"
    ]
    assert cursor["schema"]["pattern"] == "^[0-9]{1,19}$"
