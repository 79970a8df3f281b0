"""One replica as its own process: the real app and server with the deterministic LengthRM.

``python -m tests.integration.shared_state.replica PORT``; settings come from ``HERO_*`` variables.
"""

from __future__ import annotations

import sys

from hero_service.app import create_app
from hero_service.logs import configure_logging
from hero_service.server import build_server
from hero_service.settings import Settings
from tests.integration.conftest import LengthRM


def main(port: int) -> None:
    settings = Settings(port=port)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, reward_model=LengthRM())
    build_server(app, settings).run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
