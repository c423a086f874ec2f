"""Gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Workers and threads come from WEB_CONCURRENCY and GUNICORN_THREADS; the master
sizes every worker's connection pool from them (see app/db/pool_plan.py).
"""

import os

from app.config import default_threads, default_workers
from app.serving import gunicorn_hooks

bind = f"{os.environ.get('BIND', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = default_workers()
threads = default_threads()
worker_class = "gthread"
# Workers build the app after the fork, so no connection of the master is inherited.
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
# Heartbeat files on tmpfs: a slow disk must not get workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Several gunicorns (tests, a second checkout) on one machine would fight over one socket.
control_socket_disable = True
# One line per request: the app's JSON line, or gunicorn's when the app writes none.
accesslog = gunicorn_hooks.access_log(dict(os.environ))
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
proc_name = "stockroom"

on_starting = gunicorn_hooks.on_starting
on_exit = gunicorn_hooks.on_exit
post_worker_init = gunicorn_hooks.post_worker_init
worker_exit = gunicorn_hooks.worker_exit
