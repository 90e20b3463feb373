"""`usagecast serve NAME`: the ASGI app in front of the champion (and a challenger).

Decisions (docs/architecture.md, "Front door"):
- One process, one uvicorn worker (asyncio keeps TCP_NODELAY; several workers lose it), the
  pyfuncs loaded in-process from the registry by version (the alias is resolved once at
  start), with the same parsing (`mlflow.pyfunc.scoring_server.infer_and_parse_data`), the
  same `model.predict(frame, params=...)` call and the same `{"predictions": [...]}` body as
  `mlflow models serve`. Beside `predictions` the body adds `variant` and `model_version`, one
  per row (MLflow's own encoder allows extra top-level keys; clients read `predictions`), and
  headers X-Request-Id, X-Model-Name, X-Model-Version, X-Model-Variant.
- Routing per row: a row whose `user_id` is a string goes to the variant the A/B module's
  sticky hash (`analytics.ab.assign`, salt = the experiment name) gives it; a row without one
  goes to the champion. A batch whose users meet both variants is split, each part scored by
  its model, the answers put back in the request's order (an error from one part names the
  variant; its row numbers count that part's rows).
- Predict/explain requests of up to INLINE_ROWS rows run on the event loop (no thread hop),
  larger ones on a thread. Whatif searches run in worker processes
  (front_door/whatif_worker.py), one per allowed concurrent search (`whatif_concurrency`):
  the genetic search is Python, and on a thread of the server it would hold the GIL that the
  event loop's single predicts need. A worker loads the same pyfuncs from the local model
  folders the server loaded, runs WHATIF_NICE_STEP nice levels below the server (so a search
  on a busy machine also yields the CPU), and scores each search as the server would (the
  same routing split, num_threads=1 in the search's LightGBM calls); its answer, its errors
  and its prediction-log rows come back to the server, which answers and logs them as for any
  request. A thread of the server waits on each search: at most `whatif_concurrency` at once
  (also those past their deadline, until their worker is stopped), else 503; the search's
  budget_ms is capped at half the deadline; at the deadline the door answers 504 and the
  worker is killed and restarted, so the deadline bounds whatif time too.
- Latency tails: once the models are loaded, the loaded objects are moved out of the garbage
  collector's reach (`gc.freeze`), so a full collection scans what requests allocate, not the
  libraries.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import gc
import hmac
import io
import ipaddress
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import uvicorn
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel
from mlflow.pyfunc.scoring_server import infer_and_parse_data, predictions_to_json
from mlflow.tracking import MlflowClient
from mlflow.utils.proto_json_utils import NumpyEncoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from analytics.ab import Experiment, bucket_groups, buckets, make_experiment
from contracts.errors import UsagecastError
from features.workspace import activate_mlflow_tracking
from front_door.limits import Limits, RequestRefused, check_payload, parse_body
from front_door.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from front_door.metrics import Metrics
from front_door.whatif_worker import (
    Search,
    SearchLate,
    SearchWorkers,
    WorkerModel,
    WorkerUnavailable,
    score,
)
from serving.prediction_log import PREDICTION_LOG_ENV, LoggedModel, PredictionLog
from serving.validation import ServingParams

CHAMPION = "champion"
INLINE_ROWS = 64
# How long `serve` waits for the whatif workers to load the models before it gives up.
WORKER_START_SECONDS = 120.0
MAX_MESSAGE_CHARS = 500
# Answered before the body is read (auth, content type, size). The server then discards the
# rest of a body declared at most DRAIN_FACTOR times the body cap and keeps the connection: a
# client still sending must get to read the answer (closing on unread bytes resets the
# connection, and the answer with it). A longer or undeclared body, or one the client holds
# back until "100 Continue", closes the connection.
UNREAD_BODY_STATUSES = (401, 413, 415)
DRAIN_FACTOR = 16
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    """What `usagecast serve` was asked to serve, and how."""

    name: str
    challenger: str | None = None
    share: float = 0.1
    experiment: str | None = None  # A/B experiment name = hash salt; default NAME-ALIAS
    token: str | None = None
    limits: Limits = field(default_factory=Limits)
    prediction_log: Path | None = None


@dataclass(frozen=True)
class Variant:
    """One loaded model version and the name it is served under."""

    variant: str
    version: str
    run_id: str | None
    model: PyFuncModel
    param_names: tuple[str, ...]
    log: PredictionLog | None
    path: str = ""  # the local model folder it was loaded from (whatif workers load it too)


class _StampedLog:
    """The pyfunc's log hook: passes its rows to `log`, stamped with the front door's request
    id (the one in the X-Request-Id header), so a response and its log rows match."""

    def __init__(self, log: PredictionLog) -> None:
        self.log = log

    def append(self, columns: Any, rows: int) -> None:
        self.log.append({**columns, "request_id": REQUEST_ID.get() or columns["request_id"]}, rows)


def experiment_for(config: ServeConfig) -> Experiment | None:
    """The A/B experiment that splits users between champion and challenger (None without
    a challenger): `usagecast ab assign` with the same name, split and groups agrees."""
    if config.challenger is None:
        return None
    percent = round(config.share * 100, 2)
    return make_experiment(
        config.experiment or f"{config.name}-{config.challenger}",
        f"{round(100 - percent, 2):g}/{percent:g}",
        dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        groups=(CHAMPION, config.challenger),
    )


def route(frame: Any, experiment: Experiment | None, rows: int) -> np.ndarray:
    """Variant index per row: 0 champion, 1 challenger (rows with a string user_id only)."""
    plan = np.zeros(rows, dtype="int64")
    if experiment is None or not isinstance(frame, pd.DataFrame):
        return plan
    if "user_id" not in frame.columns.tolist() or len(frame) != rows:
        return plan
    ids = frame["user_id"].tolist()
    known = [i for i, user in enumerate(ids) if isinstance(user, str)]
    if known:
        plan[known] = bucket_groups(buckets([ids[i] for i in known], experiment.salt), experiment)
    return plan


def load_variant(client: MlflowClient, name: str, alias: str, log_dir: Path | None) -> Variant:
    """Resolve models:/NAME@ALIAS to its version, load that version, attach the log."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        raise UsagecastError(
            f"models:/{name}@{alias} does not exist in {mlflow.get_tracking_uri()}: promote a "
            f"model (usagecast promote) or set the alias first"
        ) from None
    path = mlflow.artifacts.download_artifacts(f"models:/{name}/{version.version}")
    model = mlflow.pyfunc.load_model(path)
    schema = model.metadata.get_params_schema()
    params = tuple(p.name for p in schema.params) if schema is not None else ()
    log = _attach_log(model, log_dir, name, version.version, alias, version.run_id)
    return Variant(alias, str(version.version), version.run_id, model, params, log, path)


def _attach_log(
    model: PyFuncModel,
    log_dir: Path | None,
    name: str,
    version: str,
    variant: str,
    run_id: str | None,
) -> PredictionLog | None:
    """Give the pyfunc's scorer a prediction log naming this version and variant (None when
    logging is off, or for a model without the usagecast scorer)."""
    scorer = getattr(model.unwrap_python_model(), "scorer", None)
    if log_dir is None or scorer is None:
        return None
    logged = LoggedModel(
        feature_set=scorer.metadata.feature_set,
        model_run_id=run_id,
        model_sha256=scorer.metadata.model_sha256,
        model_name=name,
        model_version=str(version),
        variant=variant,
    )
    log = PredictionLog(log_dir, logged)
    scorer.prediction_log = _StampedLog(log)
    return log


def _error(status: int, message: str, error_code: str = "BAD_REQUEST", **headers: str) -> Response:
    """The MLflow error body shape, one line, cut short; never a stack trace."""
    text = " ".join(message.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return JSONResponse({"error_code": error_code, "message": text}, status, headers=headers)


class FrontDoor:
    """The app's state: variants, limits, metrics, the whatif threads and workers (the
    workers start with `searches.start`, or on the first whatif)."""

    def __init__(self, config: ServeConfig, variants: list[Variant]) -> None:
        self.config = config
        self.limits = config.limits
        self.variants = variants
        self.models = tuple(v.model for v in variants)
        self.variant_names = tuple(v.variant for v in variants)
        self.experiment = experiment_for(config)
        self.metrics = Metrics()
        self.whatif_slots = threading.BoundedSemaphore(config.limits.whatif_concurrency)
        self.whatif_pool = ThreadPoolExecutor(
            config.limits.whatif_concurrency, thread_name_prefix="whatif"
        )
        self.searches = SearchWorkers(
            tuple(WorkerModel(v.variant, v.path, v.log is not None) for v in variants),
            config.limits.whatif_concurrency,
        )
        self.token = config.token.encode() if config.token else None

    def app(self) -> Starlette:
        """The Starlette app: /ping, /health, /version, /metrics, POST /invocations."""
        return Starlette(
            routes=[
                Route("/ping", self.ping, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/version", self.version, methods=["GET"]),
                Route("/metrics", self.metrics_text, methods=["GET"]),
                Route("/invocations", self.invocations, methods=["POST"]),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        self.whatif_pool.shutdown(wait=False, cancel_futures=True)
        self.searches.close()
        for variant in self.variants:
            if variant.log is not None:
                variant.log.close()

    def _refused_auth(self, request: Request) -> Response | None:
        if self.token is None:
            return None
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), self.token):
            return None
        return _error(
            401,
            "missing or wrong bearer token",
            "UNAUTHENTICATED",
            **{"WWW-Authenticate": "Bearer"},
        )

    async def ping(self, request: Request) -> Response:
        """Liveness, open to all (no token): the models are loaded once the server listens."""
        return Response("\n", media_type="application/json")

    async def health(self, request: Request) -> Response:
        """Models loaded (variant, version, run, share) and the prediction log's state."""
        if refused := self._refused_auth(request):
            return refused
        return JSONResponse(self.health_report())

    def health_report(self) -> dict[str, Any]:
        """The /health body."""
        share = self.config.share if self.config.challenger else 0.0
        log_state = {
            v.variant: {
                "dropped_rows": v.log.dropped_rows,
                "failed_rows": v.log.failed_rows,
            }
            for v in self.variants
            if v.log is not None
        }
        lost = sum(s["dropped_rows"] + s["failed_rows"] for s in log_state.values())
        return {
            "status": "ok",
            "model": self.config.name,
            "variants": [
                {
                    "variant": v.variant,
                    "version": v.version,
                    "run_id": v.run_id,
                    "share": share if v.variant != CHAMPION else round(1 - share, 6),
                }
                for v in self.variants
            ],
            "experiment": self.experiment.name if self.experiment else None,
            "prediction_log": {
                "enabled": self.config.prediction_log is not None,
                "directory": str(self.config.prediction_log or "") or None,
                "status": "off" if not log_state else ("losing rows" if lost else "ok"),
                "variants": log_state,
            },
        }

    async def version(self, request: Request) -> Response:
        """MLflow's and usagecast's versions and the served model versions."""
        if refused := self._refused_auth(request):
            return refused
        from importlib.metadata import version

        return JSONResponse(
            {
                "usagecast": version("usagecast"),
                "mlflow": mlflow.__version__,
                "model": self.config.name,
                "versions": {v.variant: v.version for v in self.variants},
            }
        )

    async def metrics_text(self, request: Request) -> Response:
        """Prometheus text: request counts, latency, the prediction log's lost rows."""
        if refused := self._refused_auth(request):
            return refused
        gauges = [
            (
                f"usagecast_prediction_log_{kind}_rows",
                f"Prediction log rows {kind} (not written), since start.",
                {"variant": v.variant},
                float(getattr(v.log, f"{kind}_rows")),
            )
            for kind in ("dropped", "failed")
            for v in self.variants
            if v.log is not None
        ]
        return Response(self.metrics.render(gauges), media_type=METRICS_CONTENT_TYPE)

    async def invocations(self, request: Request) -> Response:
        """Score a request as `mlflow models serve` would, within the limits."""
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        variant_label = "none"
        try:
            response, variant_label = await self._invocations(request, request_id)
        except RequestRefused as refused:
            response = _error(refused.status, str(refused), _code(refused.status))
        except MlflowException as error:  # models are loaded at start: this is about the input
            status = error.get_http_status_code()
            response = _error(status if status < 500 else 400, error.message, error.error_code)
        except Exception as error:  # the model failed on input it did not refuse: a 400
            _logger.exception("request %s: the model raised", request_id)
            response = _error(
                400,
                f"the model could not score this request ({type(error).__name__}); "
                f"check the values sent",
            )
        response.headers["X-Request-Id"] = request_id
        if response.status_code in UNREAD_BODY_STATUSES and not _drainable(
            request, DRAIN_FACTOR * self.limits.max_body_bytes
        ):
            response.headers["Connection"] = "close"
        self.metrics.observe(response.status_code, variant_label, time.perf_counter() - started)
        return response

    async def _invocations(self, request: Request, request_id: str) -> tuple[Response, str]:
        if refused := self._refused_auth(request):
            return refused, "none"
        _check_content_type(request.headers.get("content-type"))
        body = parse_body(await _read_capped(request, self.limits.max_body_bytes), self.limits)
        checked = check_payload(body, self.limits, self.variants[0].param_names)
        frame = infer_and_parse_data({checked.input_format: checked.data})
        plan = route(frame, self.experiment, checked.rows)
        params = dict(checked.params) if checked.params is not None else None
        whatif = params is not None and params.get("mode") == "whatif"
        if whatif:
            _cap_budget(params, self.limits.whatif_deadline_ms)
            predictions = await self._whatif(self._search(Search(frame, params, plan), request_id))
        elif checked.rows <= INLINE_ROWS:
            predictions = self._job(frame, params, plan, request_id)()
        else:
            job = self._job(frame, params, plan, request_id)
            predictions = await asyncio.get_running_loop().run_in_executor(None, job)
        used = [self.variants[i] for i in plan]
        body = predictions_json(
            predictions,
            {"variant": [v.variant for v in used], "model_version": [v.version for v in used]},
        )
        served = [self.variants[i] for i in dict.fromkeys(plan.tolist())] or self.variants[:1]
        headers = {
            "X-Model-Name": self.config.name,
            "X-Model-Variant": ",".join(v.variant for v in served),
            "X-Model-Version": ",".join(v.version for v in served),
        }
        label = served[0].variant if len(served) == 1 else "mixed"
        return Response(body, media_type="application/json", headers=headers), label

    def _job(
        self, frame: Any, params: dict[str, Any] | None, plan: np.ndarray, request_id: str
    ) -> Callable[[], Any]:
        """The model call(s) of one request, to run on any thread."""

        def run() -> Any:
            REQUEST_ID.set(request_id)
            return score(self.models, self.variant_names, frame, params, plan)

        return lambda: contextvars.copy_context().run(run)

    def _search(self, search: Search, request_id: str) -> Callable[[], Any]:
        """A whatif request's job, to run on a whatif thread: the search on a worker process
        until the deadline, its prediction-log calls replayed into the variants' logs under
        this request's id, then its predictions (or its error) as the model call's."""
        deadline = time.monotonic() + self.limits.whatif_deadline_ms / 1000

        def run() -> Any:
            REQUEST_ID.set(request_id)
            try:
                outcome = self.searches.run(search, deadline)
            except SearchLate:
                raise _late(self.limits.whatif_deadline_ms) from None
            except WorkerUnavailable as error:  # its detail may name files: logged, not sent
                _logger.warning("request %s: %s", request_id, error)
                raise RequestRefused(
                    503, "the whatif worker stopped or could not load the models; retry"
                ) from None
            for call in outcome.log_calls:
                log = self.variants[call.variant].log
                if log is None:
                    continue
                if call.error is not None:
                    log.count_failed(call.rows, call.error)
                elif call.columns is not None:
                    _StampedLog(log).append(call.columns, call.rows)
            return outcome.result()

        return lambda: contextvars.copy_context().run(run)

    async def _whatif(self, job: Callable[[], Any]) -> Any:
        if not self.whatif_slots.acquire(blocking=False):
            raise RequestRefused(
                503, f"{self.limits.whatif_concurrency} whatif searches already running; retry"
            )

        def run() -> Any:
            try:
                return job()
            finally:
                self.whatif_slots.release()

        future = self.whatif_pool.submit(run)
        try:
            return await asyncio.wait_for(
                asyncio.wrap_future(future), self.limits.whatif_deadline_ms / 1000
            )
        except TimeoutError:
            raise _late(self.limits.whatif_deadline_ms) from None


def _late(deadline_ms: int) -> RequestRefused:
    return RequestRefused(504, f"whatif took longer than the {deadline_ms} ms deadline")


def predictions_json(predictions: Any, metadata: dict[str, list[str]]) -> bytes:
    """The bytes `mlflow.pyfunc.scoring_server.predictions_to_json` writes for these
    predictions and extra keys, without its pandas `to_dict` (the dearest step of a one-row
    answer): a frame with unique column names becomes its records column by column."""
    if not isinstance(predictions, pd.DataFrame) or not predictions.columns.is_unique:
        out = io.StringIO()
        predictions_to_json(predictions, out, metadata=metadata)
        return out.getvalue().encode()
    names = predictions.columns.tolist()
    columns = [predictions[name].tolist() for name in names]
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return json.dumps({"predictions": records, **metadata}, cls=NumpyEncoder).encode()


def _cap_budget(params: dict[str, Any], deadline_ms: int) -> None:
    """Pass half the deadline, at most, to the search as its budget_ms (a value of the wrong
    type is left for the model to refuse)."""
    budget = params.get("budget_ms", ServingParams().budget_ms)
    if isinstance(budget, int) and not isinstance(budget, bool):
        params["budget_ms"] = max(1, min(budget, deadline_ms // 2))


def _code(status: int) -> str:
    return {
        401: "UNAUTHENTICATED",
        413: "REQUEST_LIMIT_EXCEEDED",
        415: "BAD_REQUEST",
        503: "TEMPORARILY_UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }.get(status, "BAD_REQUEST")


def _drainable(request: Request, most: int) -> bool:
    """Whether the server may discard the unread body (see DRAIN_FACTOR) rather than close the
    connection: its length is declared and at most `most`, and the client is sending it (one
    that waits for "100 Continue" never sends it: only closing keeps the next request apart)."""
    length = request.headers.get("content-length", "")
    waits = "100-continue" in request.headers.get("expect", "").lower()
    return length.isdigit() and int(length) <= most and not waits


def _check_content_type(header: str | None) -> None:
    mime, *parameters = (part.strip().lower() for part in (header or "").split(";"))
    charset_ok = all(p in ("charset=utf-8", "charset=utf8") for p in parameters if p)
    if mime != "application/json" or not charset_ok:
        raise RequestRefused(
            415, "send the body as JSON with the header Content-Type: application/json"
        )


async def _read_capped(request: Request, cap: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `cap` bytes: from
    Content-Length before reading anything, else while streaming (never read past cap)."""
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise RequestRefused(400, "the Content-Length header is not a number")
    if declared is not None and int(declared) > cap:
        raise RequestRefused(413, f"the body is larger than the {cap} byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise RequestRefused(413, f"the body is larger than the {cap} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(config: ServeConfig, host: str, port: int) -> None:
    """Load the champion (and challenger), then answer on host:port until SIGINT/SIGTERM.

    Refuses a non-loopback host without a token: the models would answer anyone who can
    reach the machine.
    """
    if not is_loopback(host) and config.token is None:
        raise UsagecastError(
            f"--host {host} is reachable from other machines: give --token-file FILE (clients "
            f"then send 'Authorization: Bearer <token>') or serve on 127.0.0.1"
        )
    if config.challenger == CHAMPION:
        raise UsagecastError("--challenger: name an alias other than 'champion'")
    # The front door writes the log itself, with version and variant; the pyfunc must not
    # open a second one from the environment.
    os.environ.pop(PREDICTION_LOG_ENV, None)
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    activate_mlflow_tracking()
    client = MlflowClient()
    aliases = [CHAMPION, *([config.challenger] if config.challenger else [])]
    variants = [load_variant(client, config.name, a, config.prediction_log) for a in aliases]
    door = FrontDoor(config, variants)
    door.searches.start(WORKER_START_SECONDS)
    gc.collect()
    gc.freeze()
    served = ", ".join(f"{v.variant} = version {v.version}" for v in variants)
    print(f"serving {config.name} ({served}) on http://{host}:{port}", file=sys.stderr, flush=True)
    uvicorn_config = uvicorn.Config(
        door.app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    uvicorn.Server(uvicorn_config).run()
