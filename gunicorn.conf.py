"""gunicorn's settings for this application.

gunicorn reads this file from its working directory: the Dockerfile's CMD, the systemd unit
(deploy/systemd/) and the deployment smoke test all start it in the repository's folder. The
command line wins over the file; the container binds 0.0.0.0:8000 there, while the default below
only lets the TLS proxy on the same host in.
"""

bind = "127.0.0.1:8000"
workers = 3
# A MARC file uploaded for import is received within one request: room for a large file on a
# slow link before gunicorn gives up on the worker.
timeout = 120
# On stop or restart, requests under way may finish.
graceful_timeout = 30
# Access log on stdout, errors on stderr: the container log or the journal keeps both.
accesslog = "-"
