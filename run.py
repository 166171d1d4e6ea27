"""One command for the embedded default: the web app plus a huey consumer in one process.

`flask --app run ...` uses the `app` defined here for the CLI.
"""
import logging
import signal

from app import create_app

app = create_app()
log = logging.getLogger("run")


def _stop_on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def start_embedded_consumer():
    """Start huey's consumer in threads of this process (the embedded default only)."""
    from tasks import bind_app, huey

    bind_app(app)
    # an idle worker looks at the queue every 0.5 s at most, so a licence photo is read at once
    # (the task warms the OCR engine when the consumer starts: tasks/ocr.py)
    consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=True, max_delay=0.5)
    consumer.start()
    # consumer.start() installs huey's own signal handlers, meant for its run() loop,
    # which we do not use: give Ctrl-C and SIGTERM back to the web server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log.info("huey consumer started (%s)", type(huey.storage).__name__)
    return consumer


def main() -> None:
    consumer = start_embedded_consumer() if app.config["EMBEDDED_CONSUMER"] else None
    try:  # Ctrl-C ends app.run; the consumer then stops after its running tasks
        app.run(host=app.config["HOST"], port=int(app.config["PORT"]), debug=False,
                use_reloader=False, threaded=True)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
            log.info("huey consumer stopped")


if __name__ == "__main__":
    main()
