"""Token in, claims out: JWS, JWK, algorithms, claim checks, `cnf`, scopes, step-up, delegation,
the verified-token cache and the diagnosis of a refusal.

No Starlette, httpx or anyio import (tests/test_package_shape.py says so): what is here
judges a token's text against a policy and a key, and nothing else.
"""
