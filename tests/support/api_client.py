"""A test client for /api that checks every response against /api/openapi.json."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from app.api.openapi import spec

# Problems that tell the client to come back later, with Retry-After.
RETRYABLE_TYPES = {"/problems/conflict", "/problems/idempotency-in-progress"}


def spec_path(rule: str) -> str:
    """Flask's ``/api/products/<id:product_id>`` as OpenAPI's ``/api/products/{product_id}``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


class ApiClient:
    """Wraps Flask's test client; every response must match the documented schema."""

    def __init__(self, app, client, headers: dict | None = None) -> None:
        self.app = app
        self.client = client
        self.headers = headers or {}
        self.checked: list[tuple[str, str, int]] = []

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        response = self.client.open(
            path, method=method, headers={**self.headers, **(headers or {})}, **kwargs
        )
        self.check(method, path, response)
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def check(self, method: str, path: str, response) -> None:
        """Assert the response's status, media type and body are documented."""
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _args = adapter.match(path.split("?")[0], method=method, return_rule=True)
        except Exception:
            # Unknown routes and methods answer with generic problem+json.
            assert response.content_type == "application/problem+json", response.data
            return
        document = spec(self.app)
        operation = document["paths"][spec_path(rule.rule)][method.lower()]
        documented = operation["responses"].get(str(response.status_code))
        assert documented, f"{method} {rule.rule} answered {response.status_code}, undocumented"
        ((media_type, content),) = documented["content"].items()
        assert response.content_type == media_type, (response.content_type, response.data)
        schema = {**content["schema"], "components": document["components"]}
        Draft202012Validator(schema).validate(response.get_json())
        body = response.get_json()
        retry_later = response.status_code == 503 or body.get("type") in RETRYABLE_TYPES
        for header in documented.get("headers", {}):
            if header != "Retry-After" or retry_later:
                assert header in response.headers, f"{header} missing: {body}"
        self.checked.append((method, rule.rule, response.status_code))
