"""Reference servers for `make bench`, each under the same gunicorn settings as feedsvc.

minimal_flask and bare_wsgi hand back the very bytes feedsvc stored (read once, kept in
memory); flask_feedgen and django_syndication generate the same section feed per request from
the same database, the way an application without stored documents would.
"""
