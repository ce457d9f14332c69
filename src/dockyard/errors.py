"""The error tree every Dockyard module raises.

    DockyardError
    ├── NotFound            the named object does not exist          (HTTP 404)
    ├── Conflict            it exists / is in use / wrong state      (HTTP 409)
    ├── InvalidParameter    the caller asked for something malformed (HTTP 400)
    ├── NotModified         nothing to do, already in that state     (HTTP 304)
    ├── Unavailable         a dependency is not there right now      (HTTP 503)
    ├── PermissionDenied    not allowed                               (HTTP 403)
    ├── Unsupported         valid, but this host or build can't do it (HTTP 501)
    └── Internal            a bug or an unexpected kernel failure     (HTTP 500)

Callers match on the kind, never on message text; the API maps kinds to status
codes in one place and the CLIs map them to one-line messages and exit codes.
This module imports nothing, so the runtime's fast path can use it for free.
"""


class DockyardError(Exception):
    """Base of every error Dockyard raises on purpose."""


class NotFound(DockyardError):
    pass


class Conflict(DockyardError):
    pass


class InvalidParameter(DockyardError):
    pass


class NotModified(DockyardError):
    pass


class Unavailable(DockyardError):
    pass


class PermissionDenied(DockyardError):
    pass


class Unsupported(DockyardError):
    pass


class Internal(DockyardError):
    pass
