#!/usr/bin/env bash
# Serve Jianpei the production way: gunicorn web workers and a separate huey consumer.
#
#   deploy/serve-prod.sh [all|setup|web|worker]
#
#   all     (default) setup, then huey_consumer and gunicorn side by side: one host does it all
#   setup   `flask --app run setup` (migrations, roles) and exit: once per release
#   web     gunicorn only (a web host behind the load balancer)
#   worker  huey_consumer only (a worker host)
#
# Runs from a virtualenv with requirements.txt installed (JIANPEI_BIN, default .venv/bin; `make
# serve-prod` installs it): the runtime packages only, not requirements-test.txt.
#
# Needs DATABASE_URL (PostgreSQL) and REDIS_URL, from the environment or the JIANPEI_CONFIG file
# (the app and the queue read both). JIANPEI_ENV=production adds the checks of
# app/config_loader.py (secrets, Alipay, ministry, storage); left unset, the app runs with its
# simulators, which is how it is tried on one machine.
#
# SIGTERM or SIGINT stops both processes gracefully (gunicorn finishes its requests, the consumer
# its tasks); if either dies, the other is stopped too and the script exits non-zero, so that
# the service manager restarts the pair.
#
# Environment: HUEY_WORKERS (4 threads), HUEY_PERIODIC (1; set 0 on every worker host but one),
# HUEY_SHUTDOWN_TIMEOUT (30 s); gunicorn's settings are described in gunicorn.conf.py. gunicorn
# listens on 127.0.0.1:8000 unless HOST (and PORT) or GUNICORN_BIND say otherwise: a web host
# that a load balancer reaches sets HOST=0.0.0.0 or its private address.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${JIANPEI_BIN:-.venv/bin}
mode=${1:-all}

say() { echo "serve-prod: $*" >&2; }
die() { say "$*"; exit 2; }

case "$mode" in all | setup | web | worker) ;; *) die "usage: $0 [all|setup|web|worker]" ;; esac
# The settings as the app and the queue read them: the environment, else the JIANPEI_CONFIG file.
settings=$("$BIN/python" -c 'from app.config_loader import layered_config
config = layered_config()
for key in ("DATABASE_URL", "REDIS_URL", "JIANPEI_ENV"):
    print(config.get(key) or "")') || die "cannot read the configuration (config.py, JIANPEI_CONFIG)"
{ read -r database_url; read -r redis_url; read -r jianpei_env; } <<<"$settings"
[[ -n $database_url ]] || die "DATABASE_URL is required (postgresql://user:password@host:5432/db)"
[[ $database_url == postgres* ]] || die "DATABASE_URL must be a PostgreSQL URL, not ${database_url%%:*}"
[[ -n $redis_url ]] || die "REDIS_URL is required (redis://host:6379/0)"
if [[ $jianpei_env != production ]]; then
  say "JIANPEI_ENV is not 'production': the Alipay simulator and the ministry receiver are on"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # huey_consumer imports tasks/ from here

if [[ $mode == all || $mode == setup ]]; then
  "$BIN/flask" --app run setup
fi
[[ $mode == setup ]] && exit 0

pids=()
signalled=0
stop() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
}
trap 'signalled=1; stop' TERM INT

if [[ $mode == all || $mode == worker ]]; then
  periodic=()
  [[ ${HUEY_PERIODIC:-1} == 0 ]] && periodic=(--no-periodic)
  # -g TERM: SIGTERM lets running tasks finish (at most -t seconds; tasks are safe to rerun).
  "$BIN/huey_consumer" tasks.huey -k thread -w "${HUEY_WORKERS:-4}" -g TERM \
    -t "${HUEY_SHUTDOWN_TIMEOUT:-30}" "${periodic[@]}" &
  pids+=($!)
  say "huey_consumer started (pid $!)"
fi
if [[ $mode == all || $mode == web ]]; then
  "$BIN/gunicorn" -c gunicorn.conf.py run:app &
  pids+=($!)
  say "gunicorn started (pid $!) on ${GUNICORN_BIND:-${HOST:-127.0.0.1}:${PORT:-8000}}"
fi

# Sleep until a signal arrives (the trap stops everyone) or one process ends on its own.
ended=0
wait -n "${pids[@]}" || ended=$?
if ((!signalled)); then
  say "a process ended on its own (exit $ended): stopping the others"
  stop
fi
status=0
for pid in "${pids[@]}"; do
  code=0
  wait "$pid" || code=$?
  ((code == 127)) && code=0  # the one `wait -n` already collected
  ((code != 0)) && status=$code
done
if ((!signalled)); then
  status=$((ended != 0 ? ended : 1))  # nobody asked it to stop: a failure either way
fi
say "stopped (exit $status)"
exit "$status"
