"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py run:app`
(deploy/serve-prod.sh does this). Every value can be changed through the environment.

Each worker imports run.py and builds its own app (no preload), so database pools and the
S3 client are never shared across a fork; run.py starts no task consumer under gunicorn.
"""
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# HOST/PORT as for `make run`: the loopback interface unless told otherwise. A host behind a
# load balancer sets HOST=0.0.0.0 (or its private address) or GUNICORN_BIND explicitly.
bind = os.environ.get("GUNICORN_BIND") or (
    f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 8000}")

# Processes x threads. Each process holds a full app (~150 MB) and its own pool of database
# connections (5 + 10 overflow). A page is mostly Python (6-13 ms of CPU; its SQL takes 2-6 ms), so
# processes share out the CPU; the threads of a process share one interpreter lock and are there
# for the connections it holds: a kept-alive connection stays with the worker that accepted it,
# and Linux wakes the same worker first for new connections on the shared socket (32-42 of 50
# users' on one of five). bench/load.py, 50 users on 2 cores: 5 x 4 gave page p95 70-131 ms in
# four runs, 5 x 2 64-84 ms in three; 2 threads finish a request sooner (gunicorn's p95 37-47 ms
# against 55-66), 4 work off the busy worker's queue sooner; how many connections that worker
# holds decides more than either. SO_REUSEPORT spreads connections evenly, but then a stopping
# worker (max_requests) resets those queued on its socket unless the host sets
# net.ipv4.tcp_migrate_req=1, and a booting one takes connections seconds before it can serve.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
preload_app = False

# Roster imports and PDFs of a whole plan take seconds, not minutes.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the load balancer's idle timeout (60 s on most): the balancer then closes an idle
# connection first, and never sends a request down one gunicorn has just closed (a 502). Idle
# kept-alive connections wait in the gthread worker's poller, not on a thread.
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle workers now and then so a slow leak never takes a host down (jitter: not all at once).
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)  # thumbnails count: keep restarts rare
max_requests_jitter = max_requests // 10

# Logs: access and errors on stdout/stderr for the service manager (journald, docker).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address first (as the proxy reported it), then the request and its duration in ms.
access_log_format = ('%({x-forwarded-for}i)s %(h)s %(u)s %(t)s "%(r)s" %(s)s %(b)s '
                     '"%(f)s" "%(a)s" %(M)sms')

# X-Forwarded-Proto is believed from these addresses only (the load balancers).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn's control socket sits at one path per user: two servers on a host would share it.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Behind N proxies (load balancer, nginx), take the client address from X-Forwarded-For, so
# that rate limits, the audit log and payment notices see the client, not the load balancer.
# 0 (the default): the header is ignored, as anyone can send it.
PROXY_COUNT = _int("JIANPEI_PROXY_COUNT", 0)


def post_worker_init(worker):
    if PROXY_COUNT:
        from werkzeug.middleware.proxy_fix import ProxyFix

        worker.wsgi = ProxyFix(worker.wsgi, x_for=PROXY_COUNT, x_proto=PROXY_COUNT,
                               x_host=0, x_port=0, x_prefix=0)
    # "Booting worker" is logged at the fork; this once the app is built and the worker serves.
    worker.log.info("Worker ready (pid: %s)", worker.pid)
