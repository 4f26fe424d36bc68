"""The admin web app, mounted at /admin (issue 6 builds it; until then this page
says where the CardDAV service is)."""

from __future__ import annotations

from ..config import Config

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>davcontacts</title></head>
<body><h1>davcontacts</h1>
<p>The CardDAV service is at <code>/dav/</code> (clients discover it from
<code>/.well-known/carddav</code>). The admin panel is not part of this release yet.</p>
</body></html>
"""


def make_admin_app(config: Config):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(PAGE))),
                                  ("X-Frame-Options", "DENY"),
                                  ("Content-Security-Policy", "default-src 'none'")])
        return [PAGE]
    return app
