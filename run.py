"""One command for the embedded default: the web app plus a huey consumer in one process.

`flask --app run ...` uses the `app` defined here for the CLI.
"""
import logging

from app import create_app

app = create_app()


def main() -> None:
    from tasks import bind_app, huey

    consumer = None
    if app.config["EMBEDDED_CONSUMER"]:
        bind_app(app)
        consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=True)
        consumer.start()
        logging.getLogger(__name__).info("huey consumer started (%s)", type(huey).__name__)
    try:  # Ctrl-C ends app.run; the consumer then stops after its running tasks
        app.run(host=app.config["HOST"], port=int(app.config["PORT"]), debug=False,
                use_reloader=False, threaded=True)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
            logging.getLogger(__name__).info("huey consumer stopped")


if __name__ == "__main__":
    main()
