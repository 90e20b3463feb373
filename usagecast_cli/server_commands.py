"""`usagecast server`: the MLflow tracking server that several hosts' workers share."""

from __future__ import annotations

import argparse


def _server(args: argparse.Namespace) -> None:
    from features.tracking_server import ServerConfig, run_server

    run_server(
        ServerConfig(
            host=args.host,
            port=args.port,
            backend_store_uri=args.backend_store_uri,
            artifacts_destination=args.artifacts_destination,
            app_name=args.app_name,
            workers=args.workers,
        )
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `server` subcommand."""
    from features.tracking_server import AUTH_APP, DEFAULT_HOST, DEFAULT_PORT

    server = subparsers.add_parser(
        "server",
        help="start an MLflow tracking server on the workspace's store",
        description="Runs `mlflow server` on the tracking store in effect (the workspace's "
        "SQLite store unless MLFLOW_TRACKING_URI names a database) with the workspace's "
        "mlartifacts/ served through it, so clients elsewhere need only "
        "MLFLOW_TRACKING_URI=http://HOST:PORT. It listens on loopback unless --host says "
        f"otherwise, and any other address needs --app-name {AUTH_APP}.",
    )
    server.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    server.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    server.add_argument(
        "--backend-store-uri",
        default=None,
        metavar="URI",
        help="tracking store (default: MLFLOW_TRACKING_URI when a database, else the "
        "workspace's sqlite:///.../mlflow.db)",
    )
    server.add_argument(
        "--artifacts-destination",
        default=None,
        metavar="DIR_OR_URI",
        help="where served artifacts are stored (default: the workspace's mlartifacts/)",
    )
    server.add_argument(
        "--app-name",
        choices=(AUTH_APP,),
        default=None,
        help="MLflow's authentication app; required for a non-loopback --host",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes answering requests (default: MLflow's, 4)",
    )
    server.set_defaults(handler=_server)
