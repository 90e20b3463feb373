"""Where specs live: the project's folder first, the shipped examples second, clashes refused."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml
from featureset_testlib import write_spec

from contracts.refs import InvalidRefError
from features.featureset.catalog import (
    CANCELLATION_WHY,
    SHIPPED_DIR,
    STARTER_FILE,
    StoreFacts,
    area_use,
    cancellation_event_type,
    conversion_event_type,
    item_categories,
    list_specs,
    load_spec,
    locate_spec,
    main_event_type,
    mean_item_features,
    model_attributes,
    new_spec,
    project_specs_dir,
    release_spec,
    signup_windows,
    starter_calendar,
    starter_windows,
    store_data_end,
    store_data_start,
    valued_types,
)
from features.featureset.compiler.cutoffs import calendar_cutoff_dates
from features.featureset.spec import FEATURE_KINDS, SpecError, expand_features

OWN = """
name: mine
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: month}}
label: {kind: churn, horizon_days: 30}
features:
  - {kind: count, event_types: [LOGIN], windows: [7]}
"""


def test_the_project_folder_is_specs_under_the_working_directory_unless_moved(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("USAGECAST_SPECS")
    assert project_specs_dir() == tmp_path / "specs"
    write_spec(tmp_path / "specs", OWN)
    assert locate_spec("mine@v1").origin == "project"
    monkeypatch.setenv("USAGECAST_SPECS", str(tmp_path / "elsewhere"))
    assert project_specs_dir() == tmp_path / "elsewhere"
    with pytest.raises(SpecError, match=r"mine@v1: no spec at .*elsewhere/mine/v1\.yaml or "):
        locate_spec("mine@v1")


def test_project_specs_and_shipped_examples_resolve_each_where_they_are(sets_dir):
    write_spec(sets_dir, OWN)
    own, shipped = locate_spec("mine@v1", sets_dir), locate_spec("premium_30d@v1", sets_dir)
    assert (own.origin, own.path) == ("project", sets_dir / "mine" / "v1.yaml")
    assert (shipped.origin, shipped.folder) == ("shipped", SHIPPED_DIR)
    assert load_spec("mine@v1", sets_dir).name == "mine"
    origins = {str(entry.ref): entry.origin for entry in list_specs(sets_dir)}
    assert origins["mine@v1"] == "project" and origins["premium_30d@v1"] == "shipped"
    # A later version of a shipped name is a different NAME@vN: no clash.
    write_spec(sets_dir, OWN.replace("name: mine", "name: premium_30d").replace("1\n", "2\n", 1))
    assert locate_spec("premium_30d@v2", sets_dir).origin == "project"


def test_the_same_ref_in_both_folders_is_an_error_naming_both_files(sets_dir):
    write_spec(sets_dir, OWN.replace("name: mine", "name: premium_30d"))
    clash = r"premium_30d@v1 is defined twice: .*premium_30d/v1\.yaml \(project\) and .*sets/"
    for action in (load_spec, locate_spec, lambda _, d: list_specs(d)):
        with pytest.raises(SpecError, match=clash):
            action("premium_30d@v1", sets_dir)


def test_a_starter_spec_loads_and_is_never_written_over(sets_dir):
    path = new_spec("trial", sets_dir).path
    assert path == sets_dir / "trial" / "v1.yaml"
    text = path.read_text()
    for topic in ("after_signup", "event_within", "item_mean", "not_converted", "actionable"):
        assert topic in text
    spec = load_spec("trial@v1", sets_dir)
    assert (spec.name, spec.version) == ("trial", 1)
    assert expand_features(spec) and spec.actionable
    path.write_text(text.replace("my_dataset", "shop"))
    with pytest.raises(SpecError, match=r"trial/v1\.yaml already exists \(project\)"):
        new_spec("trial", sets_dir)
    assert yaml.safe_load(path.read_text())["dataset"] == "shop"
    with pytest.raises(SpecError, match=r"premium_30d/v1\.yaml already exists \(shipped\)"):
        new_spec("premium_30d", sets_dir)
    with pytest.raises(InvalidRefError, match="is not a feature-set reference"):
        new_spec("2fast", sets_dir)


def test_releasing_locks_a_project_spec_but_never_a_shipped_one(sets_dir):
    path = write_spec(sets_dir, OWN)
    entry, digest = release_spec("mine@v1", sets_dir)
    assert entry.folder == sets_dir and (sets_dir / "LOCK.json").exists()
    assert len(digest) == 64
    path.write_text(OWN.replace("[7]", "[14]"))
    with pytest.raises(SpecError, match=r"released and locked in .*LOCK\.json"):
        load_spec("mine@v1", sets_dir)
    with pytest.raises(SpecError, match=r"premium_30d@v1 is a shipped example .*already locked"):
        release_spec("premium_30d@v1", sets_dir)


def _header(text: str) -> str:
    """A starter's opening comment as one line (it is wrapped at 90 characters)."""
    lines = text.split("\n\n")[0].splitlines()
    return " ".join(line.removeprefix("#").strip() for line in lines)


@pytest.mark.parametrize("dataset", ["shop", "shop: EU #1", 'say "hi"'])
def test_a_starter_takes_the_dataset_name_as_one_yaml_string(sets_dir, dataset):
    path = new_spec("trial", sets_dir, store=StoreFacts(dataset, (), ())).path
    assert yaml.safe_load(path.read_text())["dataset"] == dataset
    assert load_spec("trial@v1", sets_dir).dataset == dataset


@pytest.mark.parametrize(
    ("months", "calendar"),
    [
        (("2024-05", "2024-06", "2024-07"), (date(2024, 6, 1), date(2024, 6, 1))),
        (("2024-05", "2025-02"), (date(2024, 6, 1), date(2025, 1, 1))),
        (("2023-11", "2024-12", "2025-01"), (date(2023, 12, 1), date(2024, 12, 1))),
        (("2024-05", "2024-06"), None),
        (("2024-05",), None),
        ((), None),
    ],
)
def test_starter_cutoffs_leave_a_month_of_history_and_of_label_inside_the_store(months, calendar):
    written = starter_calendar(months)
    if calendar is None:
        assert written is None
    else:
        start, end = calendar
        assert yaml.safe_load(written)["calendar"] == {
            "start": start,
            "end": end,
            "every": "month",
        }


_CDNOW_MONTHS = tuple(f"{1997 + m // 12}-{m % 12 + 1:02d}" for m in range(18))


@pytest.mark.parametrize(
    ("months", "data_end", "last_cutoff"),
    [
        # CDNOW: date-only, last order 1998-06-30, so data ends at 1998-07-01 00:00.
        (_CDNOW_MONTHS, datetime(1998, 7, 1), date(1998, 6, 1)),
        (_CDNOW_MONTHS, datetime(1998, 6, 30, 23, 59), date(1998, 5, 1)),  # 29.99 days
        (_CDNOW_MONTHS, datetime(1998, 6, 15), date(1998, 5, 1)),  # exported mid-month
        (_CDNOW_MONTHS, None, date(1998, 5, 1)),  # a report without the column
        (_CDNOW_MONTHS, datetime(2031, 5, 1), date(1998, 5, 1)),  # a stray: June's end unknown
        (("2024-08", "2024-09", "2024-10"), datetime(2024, 10, 31), date(2024, 10, 1)),
    ],
)
def test_the_last_cutoff_is_the_last_month_when_its_label_horizon_is_inside_the_data(
    months, data_end, last_cutoff
):
    assert yaml.safe_load(starter_calendar(months, data_end))["calendar"]["end"] == last_cutoff


@pytest.mark.parametrize(
    ("granularity", "latest", "data_end"),
    [
        ("date", "1998-06-30 00:00:00", datetime(1998, 7, 1)),
        ("timestamp", "2024-10-31 23:59:59.5", datetime(2024, 10, 31, 23, 59, 59, 500000)),
        (None, "2024-10-31 08:00:00", datetime(2024, 10, 31, 8)),
    ],
)
def test_the_store_data_end_is_read_as_a_build_reads_it(granularity, latest, data_end):
    report = {"columns": {"events": {"columns": {"event_time": {"max": latest}}}}}
    if granularity:
        report["granularity"] = granularity
    assert store_data_end(report) == data_end


@pytest.mark.parametrize(
    ("months", "data_start", "data_end", "calendar"),
    [
        # Six weeks: no weekly cutoff has two weeks before it and 30 days after.
        (("2025-03", "2025-04"), datetime(2025, 3, 1, 8), datetime(2025, 4, 12), None),
        # Ten weeks: weekly, from two weeks in to 30 days before the end.
        (
            ("2025-03", "2025-04", "2025-05"),
            datetime(2025, 3, 1, 8),
            datetime(2025, 5, 15),
            {"start": date(2025, 3, 15), "end": date(2025, 4, 12), "every": 7},
        ),
        # Two monthly cutoffs fit: twelve weekly ones rather.
        (
            ("2025-03", "2025-04", "2025-05", "2025-06"),
            datetime(2025, 3, 1),
            datetime(2025, 6, 30),
            {"start": date(2025, 3, 15), "end": date(2025, 5, 31), "every": 7},
        ),
        # Three monthly cutoffs fit: monthly.
        (
            ("2025-03", "2025-04", "2025-05", "2025-06", "2025-07"),
            datetime(2025, 3, 1),
            datetime(2025, 7, 30),
            {"start": date(2025, 4, 1), "end": date(2025, 6, 1), "every": "month"},
        ),
        # Three monthly cutoffs from February: its 30-day labels run into March, so `tune`
        # would have no train part; weekly ones can be split.
        (
            ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05"),
            datetime(2024, 1, 1, 21),
            datetime(2024, 5, 30, 12),
            {"start": date(2024, 1, 15), "end": date(2024, 4, 29), "every": 7},
        ),
        # Without the first event's time, the monthly cutoffs that fit.
        (
            ("2025-03", "2025-04", "2025-05"),
            None,
            datetime(2025, 5, 15),
            {"start": date(2025, 4, 1), "end": date(2025, 4, 1), "every": "month"},
        ),
    ],
)
def test_a_short_store_gets_weekly_starter_cutoffs(months, data_start, data_end, calendar):
    written = starter_calendar(months, data_end, data_start)
    assert (written if calendar is None else yaml.safe_load(written)["calendar"]) == calendar
    if calendar is not None and calendar["every"] == 7:
        last = datetime.combine(calendar["end"], datetime.min.time())
        assert (data_end - last).days >= 30 and (calendar["start"] - data_start.date()).days == 14


@pytest.mark.parametrize(
    ("earliest", "months", "data_start"),
    [
        ("2025-03-04 10:00:00", ("2025-03", "2025-04"), datetime(2025, 3, 4, 10)),
        ("2019-07-01 00:00:00", ("2025-03", "2025-04"), datetime(2025, 3, 1)),  # a stray
        (None, ("2025-03",), None),
    ],
)
def test_the_store_data_start_leaves_a_stray_early_event_out(earliest, months, data_start):
    report = {"columns": {"events": {"columns": {"event_time": {"min": earliest}}}}}
    assert store_data_start(report, months) == data_start


def test_a_starter_from_a_store_counts_its_nameable_event_types_and_builds_its_cutoffs(sets_dir):
    store = StoreFacts(
        "shop",
        ("2024-01", "2024-02", "2024-03", "2024-04"),
        ("page view", "yes", "PLAY", "Add_to_Cart", "LIKE", "SKIP", *"ABCDE"),
    )
    starter = new_spec("trial", sets_dir, store=store)
    # The eight most frequent a spec can name: a rare type is often the telling one.
    assert starter.counted == ("yes", "PLAY", "Add_to_Cart", "LIKE", "SKIP", "A", "B", "C")
    spec = load_spec("trial@v1", sets_dir)
    assert spec.dataset == "shop"
    assert [str(d) for d in calendar_cutoff_dates(spec.cutoffs.calendar)] == [
        "2024-02-01",
        "2024-03-01",
    ]
    assert {f.name for f in expand_features(spec)} >= {"count_yes_7d", "count_PLAY_30d"}
    text = starter.path.read_text()
    assert "come from your event store (dataset shop)" in _header(text) and "LOGIN" not in text
    assert spec.label.event_type == "PURCHASE"  # the one placeholder left


def test_a_starter_from_a_short_store_keeps_the_placeholder_cutoffs(sets_dir):
    starter = new_spec("trial", sets_dir, store=StoreFacts("shop", ("2024-01",), ("page view",)))
    assert (starter.calendar, starter.counted) == (None, ())
    assert "placeholders: replace them\n# with the event types" in starter.path.read_text()


@pytest.mark.parametrize(
    ("event_types", "label"),
    [
        (("Song_Played", "Checkout_Started", "Subscription_Purchased"), "Subscription_Purchased"),
        (("PLAY", "BUY_PREMIUM"), "BUY_PREMIUM"),
        (("page_view", "orderCompleted"), "orderCompleted"),
        (("Anmeldung", "Kauf"), "Kauf"),  # a German export's purchase
        (("ANMELDUNG", "KAUFE"), "KAUFE"),  # the event types of files `Käufe.csv`, ...
        (("Connexion", "Achat"), "Achat"),
        (("Order Completed", "page_view"), None),  # a spec cannot name it yet
        (("PLAY", "SKIP", "LIKE"), None),
    ],
)
def test_the_label_is_the_type_with_the_strongest_conversion_word(event_types, label):
    assert conversion_event_type(event_types) == label


def test_a_starter_from_a_store_with_a_conversion_takes_it_as_label_and_says_so(sets_dir):
    store = StoreFacts(
        "app",
        ("2024-01", "2024-02", "2024-03", "2024-04"),
        ("Song_Played", "App_Open", "Checkout_Started", "Subscription_Purchased"),
    )
    starter = new_spec("trial", sets_dir, store=store)
    assert starter.label == "Subscription_Purchased"
    # Never counted: no eligible user (not converted) has one, so the count is always 0.
    assert starter.counted == ("Song_Played", "App_Open", "Checkout_Started")
    spec = load_spec("trial@v1", sets_dir)
    assert spec.label.event_type == spec.eligibility.not_converted == "Subscription_Purchased"
    text = starter.path.read_text()
    assert "PURCHASE" not in text
    assert "label's event type, Subscription_Purchased, is a guess from its name" in text


def test_a_starter_from_a_store_of_one_event_type_predicts_a_repeat(sets_dir):
    """A purchase log (CDNOW): will a buyer buy again? Not `not_converted`, which would
    leave no row."""
    store = StoreFacts("cdnow", ("1997-01", "1997-02", "1997-03", "1997-04"), ("ORDER",))
    starter = new_spec("repeat", sets_dir, store=store)
    spec = load_spec("repeat@v1", sets_dir)
    assert (spec.label.event_type, spec.eligibility.not_converted) == ("ORDER", None)
    assert spec.eligibility.active_within_days is None  # the dormant customers too
    assert spec.description == "Every user; label = an ORDER within 30 days."
    assert starter.label_why == "the store's only event type, so a repeat"
    assert starter.counted == ("ORDER",)  # a repeat's own past orders are what it reads
    assert "label's event type, ORDER, is the store's only event type" in starter.path.read_text()


def test_a_starter_from_a_store_of_trials_and_payments_asks_who_pays(sets_dir):
    """A subscription app's transactions split by their trial flag at ingest: the paid type
    is the conversion, asked of those who have not paid, though it is the main type and
    its name holds no conversion word; the trials' starts are counted as behaviour."""
    store = StoreFacts(
        "app",
        ("2024-01", "2024-02", "2024-03", "2024-04"),
        ("TRANSACTION", "TRANSACTION_TRIAL", "TRANSACTION_UNSUBSCRIBE"),
        main_type="TRANSACTION",
    )
    starter = new_spec("payers", sets_dir, store=store)
    spec = load_spec("payers@v1", sets_dir)
    assert spec.label.event_type == spec.eligibility.not_converted == "TRANSACTION"
    assert "TRANSACTION_TRIAL" in starter.counted
    assert starter.label_why.startswith("the paid events beside their trials' starts")


@pytest.mark.parametrize(
    ("counts", "main"),
    [
        ((("PURCHASE", 95), ("CANCEL", 5)), "PURCHASE"),
        ((("PLAY", 50), ("BUY", 50)), "PLAY"),  # half is enough; the more frequent first
        ((("PLAY", 40), ("SKIP", 35), ("BUY", 25)), None),
        ((), None),
    ],
)
def test_the_main_event_type_holds_half_or_more_of_the_events(counts, main):
    assert main_event_type([{"event_type": t, "events": n} for t, n in counts]) == main


def test_an_order_log_with_a_few_cancellations_predicts_a_repeat_of_its_main_type(sets_dir):
    """Online Retail with its cancellations as a type of their own: nearly every customer
    has bought, so the label is buying again, asked of every customer."""
    months = ("2010-12", "2011-01", "2011-02", "2011-03")
    store = StoreFacts("retail", months, ("PURCHASE", "CANCEL"), main_type="PURCHASE")
    starter = new_spec("repeat", sets_dir, store=store)
    spec = load_spec("repeat@v1", sets_dir)
    assert spec.label.event_type == "PURCHASE"
    assert (spec.eligibility.not_converted, spec.eligibility.active_within_days) == (None, None)
    assert starter.label_why.endswith("half or more of the store's events, so a repeat")
    rare = StoreFacts("app", months, ("PLAY", "PURCHASE"), main_type="PLAY")
    new_spec("conversion", sets_dir, store=rare)
    assert load_spec("conversion@v1", sets_dir).eligibility.not_converted == "PURCHASE"


@pytest.mark.parametrize(
    ("months", "windows"),
    [(3, (7, 30)), (4, (7, 30, 90)), (12, (7, 30, 90)), (13, (7, 30, 90, 365)), (0, (7, 30))],
)
def test_starter_windows_grow_with_the_months_the_store_holds(months, windows):
    assert starter_windows(tuple(f"2024-{m:02d}" for m in range(1, months + 1))) == windows


def _valued(*rows: tuple[str, int, int]) -> list[dict]:
    return [{"event_type": t, "events": n, "with_value": v} for t, n, v in rows]


@pytest.mark.parametrize(
    ("event_types", "valued"),
    [
        (_valued(("PLAY", 90, 0), ("ORDER", 10, 10)), ("ORDER",)),
        (_valued(("PLAY", 90, 45), ("ORDER", 10, 4)), ("PLAY",)),  # half of them is most
        (_valued(("Order placed", 10, 10)), ()),  # a spec cannot name it
        (_valued(*((t, 1, 1) for t in "ABCDEFGHI")), tuple("ABCDEFGH")),
        ([{"event_type": "PLAY", "events": 5}], ()),  # a report from before with_value
        (_valued(("EMPTY", 0, 0)), ()),
    ],
)
def test_valued_types_are_those_whose_events_mostly_carry_a_value(event_types, valued):
    assert valued_types(event_types) == valued


def test_a_starter_from_a_long_purchase_log_sums_values_over_long_windows(sets_dir):
    """CDNOW's shape: 18 months of one valued event type. Counts over 7 and 30 days are
    mostly zeros there; value, the gaps between orders and a year's window carry the signal."""
    store = StoreFacts("cdnow", _CDNOW_MONTHS, ("ORDER",), valued=("ORDER", "NOT_COUNTED"))
    starter = new_spec("repeat", sets_dir, store=store)
    names = {f.name for f in expand_features(load_spec("repeat@v1", sets_dir))}
    assert (starter.valued, starter.rhythm, starter.windows) == (
        ("ORDER",),
        "ORDER",
        (7, 30, 90, 365),
    )
    assert {
        "count_ORDER_365d",
        "active_days_90d",
        "value_sum_ORDER_30d",
        "value_sum_ORDER_365d",
        "mean_gap_days_ORDER",
        "days_since_last_per_mean_gap_ORDER",
    } <= names
    assert "value_sum_ORDER_7d" not in names
    assert "value sums, event gaps and windows up to 365 days" in _header(starter.path.read_text())


def test_a_starter_from_a_store_with_session_ids_counts_sessions(sets_dir):
    months = ("2024-01", "2024-02", "2024-03", "2024-04")
    starter = new_spec("trial", sets_dir, store=StoreFacts("app", months, ("PLAY",), True))
    spec = load_spec("trial@v1", sets_dir)
    assert starter.sessions
    assert {"sessions_7d", "sessions_30d"} <= {f.name for f in expand_features(spec)}
    assert "event gaps, windows up to 90 days and sessions features come from" in _header(
        starter.path.read_text()
    )
    without = new_spec("plain", sets_dir, store=StoreFacts("app", months, ("PLAY",)))
    assert "kind: sessions" not in without.path.read_text()


def test_a_starter_from_a_store_with_product_areas_counts_distinct_areas(sets_dir):
    months = ("2024-01", "2024-02", "2024-03", "2024-04")
    store = StoreFacts("app", months, ("PLAY",), areas=True)
    starter = new_spec("breadth", sets_dir, store=store)
    names = {f.name for f in expand_features(load_spec("breadth@v1", sets_dir))}
    assert starter.areas and {"distinct_areas_7d", "distinct_areas_30d"} <= names
    without = new_spec("plain", sets_dir, store=StoreFacts("app", months, ("PLAY",)))
    assert "kind: distinct_areas" not in without.path.read_text()


def _types(*rows: tuple[str, int, int]) -> list[dict]:
    return [{"event_type": t, "events": n, "with_area": a} for t, n, a in rows]


@pytest.mark.parametrize(
    ("event_types", "distinct", "logs", "expected"),
    [
        (_types(("PLAY", 90, 90), ("LOGIN", 30, 0)), 5, (), (True, ())),  # where it is used
        (_types(("PLAY", 90, 90)), 1, (), (False, ())),  # one area: no breadth to count
        (_types(("PLAY", 90, 0), ("PLAN", 10, 10)), 3, (), (False, ("PLAN",))),  # a change log
        (_types(("PLAY", 90, 0), ("PLAN", 10, 4)), 3, (), (False, ())),  # areas on some
        (_types(("PLAY", 90, 0), ("Plan change", 10, 10)), 3, (), (False, ())),  # not nameable
        (_types(("PLAY", 90, 0)), 0, (), (False, ())),
        ([], 0, (), (False, ())),
        # A users table's versions beside usage areas: both, each from its own events.
        (_types(("PLAY", 90, 90), ("PLAN", 95, 95)), 6, ("PLAN",), (True, ("PLAN",))),
        (_types(("PLAY", 90, 0), ("PLAN", 95, 95)), 2, ("PLAN", "GONE"), (False, ("PLAN",))),
    ],
)
def test_area_use_tells_usage_areas_from_a_change_log(event_types, distinct, logs, expected):
    assert area_use(event_types, distinct, logs) == expected


def test_a_starter_reads_the_last_area_of_a_change_log(sets_dir):
    months = ("2024-01", "2024-02", "2024-03", "2024-04")
    store = StoreFacts("app", months, ("PLAY", "PLAN"), area_changes=("PLAN",))
    starter = new_spec("plans", sets_dir, store=store)
    names = {f.name for f in expand_features(load_spec("plans@v1", sets_dir))}
    assert starter.area_changes == ("PLAN",) and "last_area_PLAN" in names


def test_the_starter_lists_every_feature_kind_a_spec_may_use():
    comment = STARTER_FILE.read_text().split("\nfeatures:\n")[0]
    listed = {line.split()[1] for line in comment.splitlines() if line.startswith("#   ")}
    assert set(FEATURE_KINDS) <= listed


def test_the_starter_takes_static_attributes_worth_a_feature():
    kinds = {
        "country": "static",
        "plan": "static",
        "email": "static",
        "age": "static",
        "born": "static",
        "one": "static",
        "last_seen": "snapshot",
        "record_id": "static",
    }
    dtypes = {
        "country": "categorical",
        "plan": "categorical",
        "email": "categorical",
        "age": "numeric",
        "born": "timestamp",
        "one": "categorical",
        "last_seen": "numeric",
        "record_id": "numeric",  # a CRM's row number: an id, not a measure
    }
    distinct = {
        **{"country": 40, "plan": 2, "email": 9000, "age": 60, "born": 500, "one": 1},
        "record_id": 9000,
    }
    assert model_attributes(kinds, dtypes, distinct) == ("country", "plan", "age")
    # In a store of 80 users, 80 (or 72) emails are no category; 50 countries still are, and
    # in a store of 2 users, a plan each is still a plan
    small = {**distinct, "email": 72, "country": 50}
    assert model_attributes(kinds, dtypes, small, users=80) == ("country", "plan", "age")
    assert model_attributes(kinds, dtypes, {**small, "email": 71}, users=80) == (
        "country",
        "plan",
        "email",
        "age",
    )
    assert model_attributes({"plan": "static"}, {"plan": "categorical"}, {"plan": 2}, 2) == (
        "plan",
    )


def test_a_starter_with_attributes_builds_them_as_features(sets_dir):
    months = ("2024-01", "2024-02", "2024-03", "2024-04")
    store = StoreFacts("app", months, ("PLAY", "BUY"), attributes=("country", "age"))
    starter = new_spec("trial", sets_dir, store=store)
    spec = load_spec("trial@v1", sets_dir)
    assert starter.attributes == ("country", "age")
    assert {"country", "age"} <= {f.name for f in expand_features(spec)}
    assert "and user attribute features come from your event store" in _header(
        starter.path.read_text()
    )


def test_the_starter_averages_numeric_static_item_attributes_only():
    catalogue = [
        {"name": "price", "kind": "static", "dtype": "numeric"},
        {"name": "stock_now", "kind": "snapshot", "dtype": "numeric"},
        {"name": "category", "kind": "static", "dtype": "categorical"},
        {"name": "Weight (g)", "kind": "static", "dtype": "numeric"},
    ]
    assert mean_item_features(catalogue) == ("price",)


@pytest.mark.parametrize("after_signup", [None, 14])
def test_a_starter_with_item_means_builds_them_over_its_windows(sets_dir, after_signup):
    months = ("2024-01", "2024-02", "2024-03", "2024-04")
    store = StoreFacts("shop", months, ("ORDER",), item_means=("price", "weight"))
    starter = new_spec("trial", sets_dir, store=store, after_signup=after_signup)
    names = {f.name for f in expand_features(load_spec("trial@v1", sets_dir))}
    windows = (7, 14) if after_signup else (7, 30, 90)
    assert {f"mean_item_{a}_{w}d" for a in ("price", "weight") for w in windows} <= names
    assert starter.item_means == ("price", "weight")
    assert "and item attribute means come from your event store" in _header(
        starter.path.read_text()
    )


def test_the_starter_counts_events_per_value_of_item_categories():
    def seen(*values):
        return {"values": len(values), "top": [{"value": v, "events": 9} for v in values]}

    chosen = item_categories(
        {
            "type": seen("Coffee", "Mugs", "Home > Kitchen", "Tea"),
            "genre": seen("rock"),  # one value: no contrast
            "title": seen("Blue Mug", "Tea"),  # not named like a category
            "brand": seen(*(f"b{n}" for n in range(21))),  # too many to be a category
            "Product Type": seen("a", "b"),  # no plain name for a spec
        }
    )
    assert chosen == (
        ("type", (("Coffee", "Coffee"), ("Mugs", "Mugs"), ("Home_Kitchen", "Home > Kitchen"))),
    )


@pytest.mark.parametrize("after_signup", [None, 14])
def test_a_starter_with_item_categories_counts_them_over_its_windows(sets_dir, after_signup):
    categories = (("type", (("Coffee", "Coffee"), ("kitchen", "Home > Kitchen"))),)
    store = StoreFacts("shop", _MONTHS, ("ORDER",), item_counts=categories)
    starter = new_spec("trial", sets_dir, store=store, after_signup=after_signup)
    features = expand_features(load_spec("trial@v1", sets_dir))
    counted = {(f.name, f.item_value) for f in features if f.kind == "item_count"}
    windows = (7, 14) if after_signup else (7, 30, 90)
    assert counted == {
        (f"count_item_type_{name}_{w}d", value)
        for name, value in (("Coffee", "Coffee"), ("kitchen", "Home > Kitchen"))
        for w in windows
    }
    assert starter.item_counts == ("type",)
    assert "and item category counts come from your event store" in _header(
        starter.path.read_text()
    )


_MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04")


@pytest.mark.parametrize(
    ("kind", "active_within_days"),
    [("churn", 30), ("active_days_in_window", 30), ("value_within", None)],
)
@pytest.mark.parametrize("from_store", [True, False])
def test_a_starter_asks_the_question_its_label_kind_names(
    sets_dir, kind, active_within_days, from_store
):
    store = (
        StoreFacts("app", _MONTHS, ("PLAY", "ORDER"), valued=("ORDER",)) if from_store else None
    )
    starter = new_spec("question", sets_dir, store=store, label_kind=kind)
    spec = load_spec("question@v1", sets_dir)
    assert (spec.label.kind, spec.label.horizon_days, starter.label_kind) == (kind, 30, kind)
    assert spec.eligibility.active_within_days == active_within_days
    assert spec.eligibility.not_converted is None
    assert "PURCHASE" not in spec.description
    if kind == "active_days_in_window":
        assert (spec.label.min_days, spec.label.window_days) == (3, 7)
    if kind == "value_within":
        assert spec.label.event_type == ("ORDER" if from_store else None)


@pytest.mark.parametrize("after_signup", [None, 14])
def test_churn_of_a_store_with_cancellations_is_the_cancellation(sets_dir, after_signup):
    """A subscriptions store (SUBSCRIPTION, SUBSCRIPTION_CANCELED): a subscriber has no
    event for months and stays, so churn is the cancellation, asked of those without one."""
    types = ("SUBSCRIPTION", "SUBSCRIPTION_ENDED", "SUBSCRIPTION_CANCELED")
    store = StoreFacts("billing", _MONTHS, types)
    starter = new_spec(
        "churn", sets_dir, store=store, label_kind="churn", after_signup=after_signup
    )
    spec = load_spec("churn@v1", sets_dir)
    assert (spec.label.kind, spec.label.event_type) == ("event_within", "SUBSCRIPTION_CANCELED")
    assert spec.eligibility.not_converted == "SUBSCRIPTION_CANCELED"
    assert (starter.label, starter.label_why) == ("SUBSCRIPTION_CANCELED", CANCELLATION_WHY)
    assert spec.description.endswith("label = a SUBSCRIPTION_CANCELED within 30 days (churn).")


def test_an_apps_deleted_accounts_are_its_churn(sets_dir):
    assert cancellation_event_type(("LOGIN", "USER_CONFIRMED", "USER_DELETED")) == "USER_DELETED"
    assert cancellation_event_type(("LOGIN", "PLAY")) is None
    store = StoreFacts("app", _MONTHS, ("LOGIN", "USER_CONFIRMED", "USER_DELETED"))
    new_spec("leavers", sets_dir, store=store, label_kind="churn")
    spec = load_spec("leavers@v1", sets_dir)
    assert spec.description == (
        "Users without a USER_DELETED yet; label = a USER_DELETED within 30 days (churn)."
    )


@pytest.mark.parametrize(
    "kind", ["event_within", "churn", "active_days_in_window", "value_within"]
)
@pytest.mark.parametrize("from_store", [True, False])
def test_an_after_signup_starter_asks_every_user_once_within_their_first_days(
    sets_dir, kind, from_store
):
    store = (
        StoreFacts("app", _MONTHS, ("PLAY", "ORDER"), valued=("ORDER",), sessions=True)
        if from_store
        else None
    )
    starter = new_spec("onboard", sets_dir, store=store, label_kind=kind, after_signup=14)
    spec = load_spec("onboard@v1", sets_dir)
    assert (spec.cutoffs.calendar, spec.cutoffs.after_signup.offset_days) == (None, 14)
    assert (starter.after_signup, starter.calendar) == (14, None)
    assert spec.eligibility.active_within_days is None  # the first days are the features
    converts = {"event_within": "ORDER" if from_store else "PURCHASE"}.get(kind)
    assert spec.eligibility.not_converted == converts
    assert spec.description.startswith("Every user at signup + 14 days; label = ")
    windows = {w for group in spec.features for w in getattr(group, "windows", ())}
    assert windows <= {7, 14}
    names = [f.name for f in expand_features(spec)]
    assert "tenure_days" not in names  # 14 days for every row
    assert {a.feature for a in spec.actionable} == {"active_days_14d"} <= set(names)


@pytest.mark.parametrize(("days", "windows"), [(1, (1,)), (7, (7,)), (14, (7, 14)), (90, (7, 90))])
def test_after_signup_windows_stay_inside_the_users_first_days(days, windows):
    assert signup_windows(days) == windows


def test_an_after_signup_starter_at_signup_itself_is_refused(sets_dir):
    with pytest.raises(SpecError, match=r"--after-signup 0: the cutoff must come at least a day"):
        new_spec("onboard", sets_dir, after_signup=0)
    assert not (sets_dir / "onboard").exists()


@pytest.mark.parametrize(
    ("valued", "summed"),
    [
        (("PLAY", "BUY_PREMIUM"), "BUY_PREMIUM"),  # the amount, not a play's seconds
        (("ORDER",), "ORDER"),
        (("PLAY", "SKIP"), None),  # seconds of two kinds: the user says which
    ],
)
def test_a_value_starter_sums_the_conversion_or_the_only_valued_type(sets_dir, valued, summed):
    store = StoreFacts("app", _MONTHS, ("PLAY", "SKIP", "LOGIN", "BUY_PREMIUM"), valued=valued)
    starter = new_spec("worth", sets_dir, store=store, label_kind="value_within")
    assert load_spec("worth@v1", sets_dir).label.event_type == summed
    # What they spent, beside the counted types' values: the label's type is not counted.
    assert set(starter.valued) == {t for t in valued if t in ("PLAY", "SKIP", summed)}


def test_a_value_starter_over_a_store_without_values_is_refused(sets_dir):
    store = StoreFacts("app", _MONTHS, ("PLAY",))
    with pytest.raises(SpecError, match=r"events carry no value; map a `value` column"):
        new_spec("worth", sets_dir, store=store, label_kind="value_within")
    assert not (sets_dir / "worth").exists()
