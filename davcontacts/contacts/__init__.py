"""The one write path: every change to users, books, cards and plain WebDAV files,
from DAV, the admin or the CLI, goes through these modules (DESIGN.md)."""
