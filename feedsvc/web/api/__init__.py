"""The JSON API for CMS integrations: /api/v1/…, bearer tokens, the same services as the form."""
