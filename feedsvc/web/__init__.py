"""The web process: everything that runs inside a request; it reads stored bytes, never renders."""
