"""WsgiDAV domain controller over the User table: HTTP Basic only (Digest would need
a stored MD5 of the password), with the credential cache and login throttling of
acl.auth. A throttled login is left in the environ for BasicAuthenticator to answer
429 instead of 401."""

from __future__ import annotations

from wsgidav.dc.base_dc import BaseDomainController

from ..acl.auth import LoginThrottled, client_address
from ..contacts.users import authenticate
from .base import CONTEXT_KEY, RequestContext

THROTTLED_KEY = "davcontacts.throttled"


class DbDomainController(BaseDomainController):
    def __init__(self, wsgidav_app, config):
        super().__init__(wsgidav_app, config)
        services = config["davcontacts"]
        self.realm = services["realm"]
        self.cache = services["credential_cache"]
        self.settings = services["settings"]
        self.throttle = services.get("throttle")
        self.trusted_proxies = services.get("trusted_proxies", ())
        self.mount = config.get("mount_path") or ""

    def __str__(self) -> str:
        return f"DbDomainController({self.realm})"

    def get_domain_realm(self, path_info, environ):
        return self.realm

    def require_authentication(self, realm, environ):
        return True

    def is_share_anonymous(self, path_info):
        return False

    def supports_http_digest_auth(self):
        return False

    def basic_auth_user(self, realm, user_name, password, environ):
        try:
            user = authenticate(user_name, password, self.cache,
                                client_address=client_address(environ, self.trusted_proxies),
                                throttle=self.throttle)
        except LoginThrottled as exc:
            environ[THROTTLED_KEY] = exc
            return False
        if user is None:
            return False
        environ[CONTEXT_KEY] = RequestContext(user=user, settings=self.settings, mount=self.mount)
        environ["davcontacts.user"] = user
        return True
