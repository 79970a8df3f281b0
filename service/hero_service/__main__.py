"""``python -m hero_service``: the same as the ``hero-reward`` command."""

from hero_service.cli import main

main()
