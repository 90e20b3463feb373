"""Ctrl-C/SIGTERM are recorded by the handler and acted on only at safe points."""

from __future__ import annotations

import logging
import pickle
import signal

import numpy as np
import optuna
import pandas as pd
import pytest

from experiments.interrupts import RunTerminated, deferred_stop, quiet_stop_tracebacks
from experiments.objective import build_study_data, make_objective
from usagecast_cli.main import interrupt_exit_code


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_is_recorded_then_raised_at_the_next_check(signum):
    before = signal.getsignal(signum)
    with deferred_stop() as stop:
        stop.check()  # nothing requested: no-op
        signal.raise_signal(signum)
        assert stop.requested  # the handler returned instead of raising mid-statement
        with pytest.raises(RunTerminated, match=signal.Signals(signum).name) as raised:
            stop.check()
    assert signal.getsignal(signum) is before
    # The CLI exits with 128 + signum (130 / 143); the signal survives pickling to a parent.
    assert interrupt_exit_code(raised.value) == 128 + signum
    assert pickle.loads(pickle.dumps(raised.value)).signum == signum


def test_a_second_signal_stops_at_once():
    with deferred_stop(), pytest.raises(RunTerminated, match="twice"):
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)


def test_a_stop_during_a_trial_fails_that_trial_at_the_next_boosting_iteration():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = (x["a"] + rng.normal(size=400) > 0).astype(int).to_numpy()
    data = build_study_data(x[:300], y[:300], x[300:], y[300:], categorical=[])
    iterations = []
    with deferred_stop() as stop:

        def checkpoint() -> None:
            iterations.append(len(iterations))
            if len(iterations) == 3:
                signal.raise_signal(signal.SIGTERM)
            stop.check()

        study = optuna.create_study(direction="maximize")
        objective = make_objective(data, "roc_auc", seed=0, num_threads=1, checkpoint=checkpoint)
        with pytest.raises(RunTerminated):
            study.optimize(objective, n_trials=5)
    assert len(iterations) == 3
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]


def test_a_stopped_trial_is_logged_without_its_traceback_other_failures_with(caplog):
    logger = logging.getLogger("usagecast.test.trials")
    with quiet_stop_tracebacks(logger.name), caplog.at_level(logging.WARNING, logger.name):
        for error in (RunTerminated(signal.SIGTERM), ValueError("a bug")):
            try:
                raise error
            except BaseException:
                logger.warning("trial failed", exc_info=True)
    stopped, failed = caplog.records
    assert stopped.exc_info is None and failed.exc_info[0] is ValueError
    assert "Traceback" in caplog.text.split("trial failed")[-1]  # the bug keeps its traceback
