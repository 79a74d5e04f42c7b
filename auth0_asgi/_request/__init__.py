"""The ASGI boundary: the gate, paths and prefixes, credentials, authentication, refusal and
challenge, lifespan, assembly of the middleware's parts, MCP tool scopes.
"""
