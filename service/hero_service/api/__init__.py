"""The HTTP layer: routes, wire <-> domain translation (OpenRLHF's contract included) and the mapping of
the service's errors to status codes. The wire format (``hero_client.schemas``) stops here."""

from hero_service.api.errors import install_error_handlers
from hero_service.api.routes import router

__all__ = ["install_error_handlers", "router"]
