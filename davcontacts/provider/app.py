"""Build the WsgiDAV application for /dav: our provider, our middleware stack, locks
and dead properties in the database, and the guard in front."""

from __future__ import annotations

import logging

from wsgidav import util
from wsgidav.wsgidav_app import WsgiDAVApp

from ..acl.auth import CredentialCache, ThrottlePolicy, parse_networks
from .auth import DbDomainController
from .base import DavSettings
from .deadprops import DbPropertyManager
from .guard import Guard
from .locks import DbLockStorage
from .middleware import BasicAuthenticator, ErrorRenderer
from .provider import ContactsProvider
from .server import CardResolver

MOUNT = "/dav"


def make_dav_app(*, realm: str, settings: DavSettings, secret: bytes, cache_seconds: float,
                 max_body: int, throttle: ThrottlePolicy | None = None,
                 trusted_proxies: tuple[str, ...] = ()):
    util.public_wsgidav_info = "davcontacts"
    config = {
        "provider_mapping": {"/": ContactsProvider()},
        "mount_path": MOUNT,
        "middleware_stack": [ErrorRenderer, BasicAuthenticator, CardResolver],
        "http_authenticator": {
            "domain_controller": DbDomainController,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
            "trusted_auth_header": None,
        },
        "lock_storage": DbLockStorage(),
        "property_manager": DbPropertyManager(),
        "verbose": 1,
        "logging": {"enable": False},
        "add_header_MS_Author_Via": False,
        "hotfixes": {"re_encode_path_info": True, "unquote_path_info": False},
        "davcontacts": {
            "realm": realm,
            "settings": settings,
            "credential_cache": CredentialCache(secret, cache_seconds),
            "throttle": throttle,
            "trusted_proxies": parse_networks(trusted_proxies),
        },
    }
    app = WsgiDAVApp(config)
    logging.getLogger("wsgidav").setLevel(logging.WARNING)
    return Guard(app, max_body=max_body)
