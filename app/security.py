"""Response headers that make the browser part of the defence, and cookies marked
Secure whenever the request came over HTTPS."""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix


def csp_nonce() -> str:
    """This request's nonce for the few script tags that carry one (Flask-Admin's)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Secure session cookies in production, and for any request made over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def register(app: Flask) -> None:
    """Install the headers, the cookie policy and (if configured) proxy trust."""
    app.session_interface = HttpsAwareSessionInterface()
    if app.config["TRUSTED_PROXIES"]:
        # Believe X-Forwarded-Proto/For from this many proxies in front of us.
        hops = app.config["TRUSTED_PROXIES"]
        # Flask's documented way to add WSGI middleware; mypy cannot see an instance
        # attribute replacing the method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # No inline script anywhere: scripts come from this site or carry the nonce
        # (pages only: a JSON answer has no script and draws no random bytes).
        html = response.mimetype == "text/html" or "csp_nonce" in g
        nonce = f" 'nonce-{csp_nonce()}'" if html else ""
        headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self'{nonce}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
