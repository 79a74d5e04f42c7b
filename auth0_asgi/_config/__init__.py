"""`AUTH0_*` text to values, and the checks `auth0_asgi.settings` makes of them."""
