"""What a request proves beyond its token: the URL a DPoP proof must name, and the one
peer-trust rule for forwarding headers.
"""
