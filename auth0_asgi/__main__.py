"""``python -m auth0_asgi``: the ``auth0-asgi`` command (see `auth0_asgi._cli`)."""

import sys

from ._cli import main

sys.exit(main())
