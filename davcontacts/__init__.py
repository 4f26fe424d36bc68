"""davcontacts: a CardDAV/WebDAV contacts server with a web admin panel."""

__version__ = "0.1.0"
