"""Fetching key sets: the capped GET, the key-set document, refresh ahead of expiry."""
