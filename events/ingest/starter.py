"""A starter dataset config written from the export's own files (`usagecast dataset new`).

Reading the files is at the edge (`sample_files`); guessing is pure (`starter_config`): each
file's format, encoding, delimiter and columns, which columns hold the user id, the time,
the event type and the optional fields (by their names, the way exports name them), which
file is the users table, and the time formats the sampled values fit. The config's header
says its mappings are guesses; the command prints each one, and what the samples cannot
tell (day-first or month-first dates, static or snapshot attributes) as checks. The time
zone and the rules are not guessed. The starter is a first draft the ingest then validates.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO

import duckdb
import yaml
from tqdm import tqdm

from contracts.errors import UsagecastError
from contracts.names import SPEC_NAME_RULE, is_spec_name, name_words, plain_name_for
from events.ingest import archives, excel
from events.ingest.config import (
    DEFAULT_MIN_ACCEPTED_SHARE,
    EPOCH_UNITS,
    EXCEL_DAYS,
    LEADING_MINUS,
    WHITESPACE,
    ZONE_ABBREVIATIONS,
    derived_columns,
)
from events.ingest.readers import (
    EXCEL_SEPARATOR_LINE,
    GZIP_SUFFIX,
    UTF8_BOM,
    XLSX,
    SourceFileError,
    file_head,
    footer_cut,
    format_from_name,
    is_gzipped,
    sha256_of,
    sql_string,
)
from events.ingest.validate import (
    EXCEL_UNIX_DAY,
    ISO_PATTERN,
    PAIR_KEYS,
    SCIENTIFIC_ID_PATTERN,
    blank_groups,
    ident,
    is_totals_row,
    key_value_lists,
    number_pattern,
    raw_text,
    struct_field_paths,
    zone_abbreviation,
)
from events.quality.profile import PLACEHOLDER_USER_IDS
from events.store import EXPERIMENT_ASSIGNED

SAMPLE_BYTES = 1 << 20
# What the check of a file left out as empty or unreadable adds: it must not stay.
STOPS_THE_INGEST = "the ingest would stop at it: fix it, or move it out of the export"
# MongoDB Extended JSON's wrappers of one value (mongoexport writes `{"$date": "2025-.."}`,
# `{"$oid": "64b.."}`): the starter reads a key of them through its wrapper.
EXTENDED_JSON = (
    "$oid", "$date", "$numberLong", "$numberInt", "$numberDouble", "$numberDecimal",
)  # fmt: skip
DELIMITERS = ",;\t|"  # a text table's delimiters the starter tells apart
SNIFFED_LINES = 20  # a text table's first lines its delimiter is sniffed from
# A time's ending that names an instant: `Z`, ` UTC`, an offset (`+02:00`, `-0500`).
INSTANT_SUFFIX = re.compile(r"(Z| UTC|[+-][0-9]{2}:?[0-9]{2})$")
# The most non-blank lines a report's title may take above a text table (_table_start), and
# its footer below it (_footer_length); the bytes read at a long file's end for a footer.
MAX_TITLE_LINES = 10
MAX_FOOTER_LINES = 10
TAIL_BYTES = 1 << 16
SAMPLE_ROWS = 200
# JSON records read for their keys, over all the JSON files (each file at least
# SAMPLE_ROWS): a rare event's fields show up, and thousands of hourly files cost no more
# than 200 records each.
KEY_SCAN_ROWS = 5_000
MAX_NAMES = 1_000  # distinct texts kept per JSON key (FileSample.names)
ZIP_SUFFIX = ".zip"
# A date in a file's name (`export_2024-03.zip`).
DATED_NAME = re.compile(r"(^|[^0-9])([0-9]{4}-[0-9]{2}(-[0-9]{2})?|[0-9]{8})($|[^0-9])")
# A folder name that partitions an export: a year, month, day or hour, a date, an epoch,
# a `key=value` (Hive style). Files in such sibling folders are one source.
PARTITION_PART = re.compile(
    r"[0-9]{1,4}|[0-9]{4}-[0-9]{2}(-[0-9]{2})?|[0-9]{8}|[0-9]{10,13}|[A-Za-z_][\w.-]*=[^/]*"
)
# Event columns that describe the user (compared as _key, the last name part or the last
# two): without a users table, each user's value on their first event is a user attribute.
USER_ATTRIBUTE_NAMES = (
    "country", "countrycode", "mpcountrycode", "city", "region", "platform", "os", "osname",
    "operatingsystem", "devicetype", "devicecategory", "devicefamily", "language", "locale",
    "browser", "channel", "acquisitionchannel", "utmsource", "utmmedium",
    "initialreferringdomain", "referrertype",  # Mixpanel's first referrer, Matomo's
)  # fmt: skip
MAX_EVENT_TYPES = 50  # distinct sampled texts of a header-less file's event-type column
PROGRESS_FROM = 50  # files sampled from which `dataset new` shows a bar
MAX_STATUSES = 10  # distinct sampled values of a status column read as event kinds
MAX_FORMAT_VALUES = 500  # values a time format is chosen on (a file group's first ones)
# Column names as exports write them, compared lower-case without separators, best first
# (PostHog's `person_id` before its `distinct_id`: a person merges a visitor's devices and
# login ids, each distinct id is one of them).
USER_ID_NAMES = (
    "userid", "user", "uid", "customerid", "customer", "personid", "distinctid", "accountid",
    "account", "memberid", "clientid", "playerid", "visitorid", "userpseudoid", "anonymousid",
    "customernumber", "customerno", "accountnumber", "membernumber", "memberno",
    "soldtoparty", "soldto",  # SAP's customer on a sales or billing document
    "accountcode",  # Recurly's account on its subscriptions, invoices and transactions
    "unitid",  # Statsig's exposures: the unit randomized, the user's id
    "localid",  # Firebase Authentication's users export: the uid events carry
    "username",  # AWS Cognito's users: the user's `sub` unless the pool sets names; last
    "sub",  # an OpenID Connect token's subject (Auth0's `auth0|...`), as a backend logs it
    # The same in the languages of exports made in a localised spreadsheet or tool (German,
    # French, Spanish, Portuguese, Italian, Dutch), accents dropped (_key).
    "kundennummer", "kundenid", "kunde", "benutzerid", "nutzerid", "idclient",
    "numeroclient", "nclient", "noclient", "idutilisateur", "utilisateur", "idcliente",
    "cliente", "idusuario", "usuario", "idutente", "utente", "identifiantclient",
    "identifiantutilisateur", "codeclient", "klantnummer", "klantid", "klant", "gebruikerid",
    "gebruikersid", "gebruiker", "lidnummer",
    # ... and with "number" abbreviated (German `Kunden-Nr.`, `Mitglieds-Nr.`)
    "kundennr", "benutzernr", "nutzernr", "mitgliedsnummer", "mitgliedsnr", "numcliente",
)  # fmt: skip
# Whose id a column ending in `id` holds when its name is none of the above
# (RevenueCat's `rc_original_app_user_id`, Snowplow's `domain_userid`, a CRM's `Contact ID`,
# a helpdesk's `Requester id`).
ID_OWNERS = (
    "user", "customer", "account", "member", "client", "player", "visitor", "person",
    "subscriber", "buyer", "shopper", "profile", "contact", "requester",
    "subject",  # an experiment platform's randomized subject (`subject_id`)
)  # fmt: skip
# A device's or visitor's id beside the user id (Segment's `anonymousId`, Amplitude's and
# Mixpanel's `device_id`, AppsFlyer's `AppsFlyer ID`): an event without a user id takes the
# user it is seen with.
ANONYMOUS_ID_NAMES = (
    "anonymousid", "deviceid", "anonid", "userpseudoid",
    "appsflyerid", "appinstanceid",  # AppsFlyer's raw data, Firebase's app instance
    "visitorid",  # Matomo's cookie id beside the `userId` a site sets at login
)  # fmt: skip
DEVICE_PREFIX = "$device:"  # Mixpanel's distinct_id of an event before a login
# The last resort for a customer id (Shopify's orders export has only `Email`); read
# lower-cased, as an address names one customer whatever its case.
EMAIL_NAMES = ("email", "emailaddress", "customeremail", "billingemail", "useremail")
# What a ledger's `From <x>` and `To <x>` columns name (PayPal's `From Email Address`): the
# two sides of each row, one of them the account that exported it.
PARTY_NAMES = ("email", "emailaddress", "account", "accountid", "accountnumber", "id", "iban")
# A user id that stands for "no account" on a guest's row (WooCommerce: 0).
GUEST_IDS = ("0", "-1", "guest")
# Texts a database writes for a missing value in a text export: PostgreSQL's COPY and
# MySQL's OUTFILE (`\\N`), SQL Server's and MySQL Workbench's result grids (`NULL`).
DATABASE_MISSING_TEXTS = ("\\N", "NULL")
# Texts other tools write for one: R's write.csv (`NA`), a spreadsheet's (`#N/A`), Python's
# str() of a missing value (`nan`, `None`), JavaScript's (`null`, `undefined`), a report's
# dash for an empty cell (`-`, `–`). Taken only from a column whose other sampled values all
# hold a digit (numbers, times, ids), where they are no word of the data (`NA` is also
# Namibia's country code).
TOOL_MISSING_TEXTS = (
    "NA", "N/A", "#N/A", "NaN", "nan", "None", "null", "undefined", "-", "\u2013",
)  # fmt: skip
TIME_NAMES = (
    "timestamp", "eventtime", "eventtimestamp", "derivedtstamp", "time", "ts", "datetime",
    "occurredat", "createdat", "eventdate", "date", "day", "invoicedate", "orderdate",
    "loggedat", "at",
    "datum", "zeitstempel", "zeitpunkt", "horodatage", "dateheure", "fecha", "fechahora",
    "datahora", "dataora", "tijdstip", "datumtijd",
)  # fmt: skip
# An event's own id, by which a source sends an event again (Mixpanel's and Amplitude's
# `$insert_id`, Segment's `messageId`, Amplitude's `uuid`).
EVENT_ID_NAMES = ("insertid", "messageid", "uuid", "eventuuid", "eventid")
# The order a row is a line of, in exports with a row per line item (Shopify's `Id`), and
# the order's name where its values are all ORDER_NAME (Shopify's `Name`: #1001).
ORDER_ID_NAMES = ("orderid", "ordernumber", "id")
ORDER_NAME_NAMES = ("name", "ordername")
ORDER_NAME = re.compile(r"#[0-9]+")
# First words of a time column's name that date a change of state (Stripe's `Canceled At
# (UTC)`, `Ended At (UTC)`; Shopify's `Cancelled at`; a helpdesk's `Solved at`; a CRM's
# `Converted Date`; an app's `confirmed_at`, `deleted_at`): its own events, of the file's
# constant event type and the word (SUBSCRIPTION_CANCELED), a row with it blank holding
# none. A leaving or an outcome, not a step an order takes within days (`Completed Date`,
# `Fulfilled at`): a status naming such a step is the better event type, and the two would
# name one event type twice.
LIFECYCLE_WORDS = (
    "canceled", "cancelled", "ended", "churned", "paused", "expired", "closed", "deleted",
    "deactivated", "unsubscribed", "refunded", "converted", "solved", "resolved",
    "confirmed", "verified", "activated", "onboarded",
    "unsubscribe",  # RevenueCat's `unsubscribe_detected_at`: auto-renewal turned off
)  # fmt: skip
LIFECYCLE_TAIL_WORDS = ("at", "on", "date", "time", "utc", "detected")
# A transaction's flag that it is a free trial's (RevenueCat's `is_trial_period`): a trial's
# start is no payment, so it is an event type of its own (<constant>_TRIAL).
TRIAL_FLAG_NAMES = ("istrialperiod", "istrial", "trial", "intrial", "trialperiod", "isfreetrial")
# Words of a status column's name that say where goods are, not whether they were paid for
# (Shopify's `Lineitem fulfillment status`): not an event type.
DELIVERY_STATUS_WORDS = ("fulfillment", "fulfilment", "shipping", "shipment", "delivery")
EVENT_NAMES = (
    "eventtype", "event", "eventname", "type", "kind", "action", "activity",
    "eventtablename",  # Heap Connect's all_events
    "activitytype", "activityname", "actiontype", "eventaction",  # CRMs', GA's `Event Action`
    "transactiontype", "billingtype",  # an accounting tool's transaction list, SAP's billing
    "ereignis", "ereignistyp", "aktion", "evenement", "typeevenement", "evento",
    "tipoevento", "accion", "acao", "azione", "gebeurtenis", "gebeurtenistype", "actie",
)  # fmt: skip
# The hour of the day beside a column of dates (Google Analytics' `Date` and `Hour`), 0-23.
HOUR_NAMES = ("hour", "hourofday", "stunde", "heure", "hora", "ora", "uur")
HOUR = re.compile(r"[01]?[0-9]|2[0-3]")
# A time of day without a date (`14:23`, `14:23:11.5`, `2:23 PM`): half of an event time
# whose date is in a column of its own.
TIME_OF_DAY = re.compile(r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?( ?[AaPp][Mm])?")
# A trailing qualifier in a column's name: `Created (UTC)`, Stripe's `user_id (metadata)`.
QUALIFIER = re.compile(r"\s*\([^()]*\)\s*$")
UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
# How a header's empty name is shown: first, what `DataFrame.to_csv` writes above the index;
# last, what a delimiter at the end of every line makes.
UNNAMED = "a column without a name (a pandas index? to_csv(index=False) leaves it out)"
UNNAMED_LAST = "a last column without a name (each line ends with a delimiter)"
# The row index pandas writes into a Parquet file beside the data (`__index_level_0__`).
PANDAS_PARQUET_INDEX = re.compile(r"__index_level_[0-9]+__")
# Objects whose fields may be the optional ones (`properties.revenue`, GA4's
# `ecommerce.purchase_revenue` and `event_params.ga_session_id`), as their keys: the name
# without separators.
NESTED_PREFIXES = ("properties", "eventproperties", "ecommerce", "eventparams", "payload")
# Endings of a time column's name (`login_at`, `purchase_date`, Stripe's `Created (UTC)`)
# when no name above matches; a zone word after them is not part of the ending.
TIME_ENDINGS = ("at", "on", "time", "date", "timestamp", "ts", "tstamp", "created")
ZONE_WORDS = ("utc", "gmt", "local", "tz")
# Words of an attribute's name that make it a code written in digits, never a quantity: a
# phone number (`612 345 678` would read as one with blank digit groups) or a postcode.
CODE_WORDS = frozenset((
    "phone", "tel", "telephone", "mobile", "cell", "fax", "zip", "zipcode", "postal",
    "postcode", "plz", "telefon", "telefono", "telefone", "iban", "siret",
    "siren", "vat", "ssn",
))  # fmt: skip
# Names of a time in a language whose word is another in English (Portuguese and Italian
# `Data`, an English JSON's payload): a time only when every sampled value reads as one.
TIMES_BY_VALUE = ("data",)
# Amplitude's export writes these times in UTC without an offset; its rows carry amplitude_id.
AMPLITUDE_UTC_TIMES = ("eventtime", "clienteventtime", "serveruploadtime", "servereventtime")
AMPLITUDE_KEYS = ("amplitudeid",)
SIGNUP_NAMES = (
    "signuptime", "signupdate", "signupat", "signup", "registeredat", "registrationdate",
    "registration", "registered", "createdat", "created", "createdate", "joinedat", "joined",
    "firstseen", "joindate", "datejoined", "joinedon", "createdon", "creationdate", "signedup",
    "signedupat", "installdate", "installedat", "firstopentime",  # Heap, apps, Firebase
    "usercreatedate",  # AWS Cognito's ListUsers
    "registrierungsdatum", "anmeldedatum", "dateinscription", "fecharegistro", "fechaalta",
    "datacadastro", "dataregistrazione",
    "registriertam", "registriertseit", "erstelltam", "kundeseit", "mitgliedseit",
    "customersince", "membersince", "clientdepuis", "inscritle", "clientedesde",
    "registratiedatum", "aangemeldop", "klantsinds", "lidsinds",
)  # fmt: skip
# When a row of a users table of versions became valid (dbt snapshots' `dbt_valid_from`).
VALID_FROM_NAMES = (
    "dbtvalidfrom", "validfrom", "effectivefrom", "effectivedate", "effectiveat", "validat",
    "versionat", "updatedat", "snapshotat", "snapshotdate",
)  # fmt: skip
# A version's bookkeeping beside it: when it ended (known only at the next change, so never
# an attribute) and dbt's row ids.
VERSION_COLUMN_NAMES = (
    "dbtvalidto", "validto", "effectiveto", "validuntil", "dbtscdid", "dbtupdatedat",
    "iscurrent", "current",
)  # fmt: skip
OPTIONAL_NAMES = {
    "session_id": ("sessionid", "session", "gasessionid"),
    "item_id": (
        "itemid", "productid", "sku", "trackid", "songid", "contentid", "item", "stockcode",
        "productcode", "itemcode", "lineitemsku", "variantsku",  # Shopify's orders, products
        "itemsku", "productsku",  # WooCommerce's order exports
    ),
    "value": (
        "revenue", "value", "amount", "price", "total", "sales", "purchaserevenue",
        "ordertotal", "ordertotalamount", "totalamount", "grandtotal", "ordervalue",
        "totalprice",  # Shopify's API: an order's `total_price` (its lines' sum, taxed)
        "gross",  # a payment platform's gross amount, before its fee (PayPal's, Stripe's)
        "betrag", "umsatz", "gesamtbetrag", "montant", "importe", "valor", "importo", "totale",
        "bedrag", "omzet",
    ),
    "area": (
        "area", "section", "screen", "feature", "module", "productarea", "featurename",
        "page", "pagename", "pagepath", "path", "screenname",  # a page or screen of the app
    ),
    "properties": ("properties", "eventproperties", "props", "params"),
}  # fmt: skip
# Product-analytics tools' experiment exposure events: their names and the property keys (as
# _key compares them) that hold the experiment and the user's arm, which only those events
# carry. Their rows become EXPERIMENT_ASSIGNED events beside the others of their file; a file
# with the keys is mapped so even when its sampled rows hold no exposure (they come late).
EXPOSURE_EVENTS = (
    (("$experiment_started",), "experimentname", "variantname"),  # Mixpanel
    (("$exposure", "[Experiment] Exposure"), "flagkey", "variant"),  # Amplitude Experiment
    (("$feature_flag_called",), "featureflag", "featureflagresponse"),  # PostHog
    (("Experiment Viewed",), "experimentname", "variationname"),  # Segment's A/B testing spec
)
# Sampled rows from which an id column of one value names the exporting account, no user.
CONSTANT_ID_ROWS = 20
# An experiment platform's exposure log (Statsig's, GrowthBook's, Optimizely's decisions): the
# experiment and the user's arm, beside a user id and a time. Each row is an
# EXPERIMENT_ASSIGNED event, the experiment its item and the arm its area, as `usagecast ab
# analyze --experiment NAME` reads a logged experiment.
EXPERIMENT_NAMES = (
    "experiment", "experimentname", "experimentid", "experimentkey", "testname", "testid",
    "abtest",
)  # fmt: skip
ARM_NAMES = (
    "variation", "variationid", "variationname", "variationkey", "variant", "variantname",
    "variantid", "arm", "group", "groupname", "bucket", "treatment",
)  # fmt: skip
# A flag of an exposure log's row that the user was held back from the experience (shown the
# original), whatever arm the row names: Optimizely's decisions `is_holdback`.
HOLDBACK_NAMES = ("isholdback", "holdback")
HOLDBACK_ARM = "holdback"
TRUTH_WORDS = frozenset({"true", "false", "t", "f", "1", "0", ""})
TRUE_WORDS = ("true", "t", "1")
# The first word of a value column named otherwise (RevenueCat's `price_in_usd`, `Amount
# (USD)`), read as the value when its sampled values are numbers.
VALUE_WORDS = ("revenue", "amount", "price")
# Words that mark an amount converted to one currency beside the one in each row's own
# (Stripe's `Converted Amount`, AppsFlyer's `Event Revenue USD`, RevenueCat's `price_in_usd`).
CONVERTED_WORDS = (
    "converted", "in", "usd", "eur", "gbp", "jpy", "inr", "cad", "aud", "chf", "cny", "brl",
)  # fmt: skip
VALUE_ENDINGS = ("value", "revenue")  # `tax_amount` or `unit_price` is no event's value
# ... an `amount` or a `total` is one when the words before it name the whole order or payment
# (`Order Amount`, `Invoice Total`, `Sale Amount (USD)`), not a part of it (`Tax Amount`).
WHOLE_AMOUNT_ENDINGS = ("amount", "total")
WHOLE_AMOUNT_WORDS = (
    "order", "sale", "sales", "payment", "transaction", "purchase", "invoice", "charge",
    "checkout", "booking", "subscription", "line", "gross", "net", "paid", "billed",
)  # fmt: skip
# An order line's amount when no column holds it: its quantity times its unit price (Online
# Retail's Quantity and UnitPrice).
QUANTITY_NAMES = ("quantity", "qty", "units", "quantityordered")
UNIT_PRICE_NAMES = ("unitprice", "priceeach", "priceperunit", "unitcost", "price")
# Words of a column describing an item's picture (Shopify's `Image Src`, `Image Position`,
# `Variant Image`): a picture's, not the item's behaviour, so never an item attribute.
IMAGE_WORDS = ("image", "img", "photo", "picture", "thumbnail")
# Columns grouping a catalogue's rows under their product (Shopify's `Handle`).
PRODUCT_GROUP_NAMES = ("handle", "producthandle", "parentsku", "parentid", "parentproductid")
# Words naming what a change log's row moved a user to (`new_plan`, `tier`): in a file of one
# event type, that column is the event's area, read as of a cutoff by a `last` feature.
CHANGED_ATTRIBUTE_WORDS = ("plan", "tier", "level", "stage", "edition", "package", "role")
USERS_FILE_WORDS = (
    "user", "customer", "account", "member", "client", "people", "person", "contact",
)  # fmt: skip
# Words of a file's name that say its rows are things users do or have, so never a users
# table, even when its sample holds each customer once and a `Created` column: Stripe's
# `subscriptions.csv`, a large shop's `orders_export.csv`, `customer_orders.csv`.
EVENT_FILE_WORDS = (
    "order", "subscription", "payment", "charge", "invoice", "transaction", "ticket",
    "event", "purchase", "session", "login", "click", "refund",
)  # fmt: skip
# Words of a time's name that date the record's keeping, not an event (`updated_at`).
RECORD_KEEPING_WORDS = ("updated", "modified", "synced")
# Words of a column's name that make it a credential (Firebase's `passwordHash` and `salt`, an
# API token): never an attribute, so the store keeps no secret.
CREDENTIAL_WORDS = ("password", "passwd", "salt", "secret", "token", "apikey")
# An attribute whose name says it was read when the file was exported (it leaks the future).
SNAPSHOT_WORDS = (
    "last", "current", "total", "lifetime", "status", "count", "latest", "now", "updated",
    "modified", "churned", "converted", "spent", "ltv", "inventory", "stage", "lifecycle",
    "streak", "points",  # a running streak, loyalty points: as of the export
)  # fmt: skip
# Words of a column's name that read as a user's state, which changes (`Plan`, `is_premium`,
# `subscription_status`): in a users table of one row per user it is today's, so a snapshot
# (the plan a user converted to would leak their conversion into every past cutoff); a table
# of versions (valid_from) keeps each state as of its time.
STATE_WORDS = (
    "plan", "tier", "subscription", "subscribed", "premium", "paid", "paying", "trial",
    "active", "balance",
)  # fmt: skip
# Words of a column's name that read as a trait a user has from signup on (where they are,
# how they came): the static attributes of a users table without dates.
TRAIT_WORDS = (
    "country", "city", "region", "language", "locale", "timezone", "channel", "source",
    "campaign", "medium", "referrer", "gender",
)  # fmt: skip
STRPTIME_CANDIDATES = (
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y %H:%M",
    "%d.%m.%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
    "%Y%m%d %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S",
    # Day first with a 12-hour clock (an Australian or British spreadsheet's `3/01/2025 2:05 PM`).
    "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p",
    # Two-digit years (a spreadsheet's `m/d/yy h:mm` saved to CSV; 69-99 are 1900s), also
    # with a 12-hour clock (`4/4/25 12:06 AM`).
    "%d/%m/%y %H:%M", "%m/%d/%y %H:%M", "%d/%m/%y", "%m/%d/%y", "%d.%m.%y %H:%M", "%d.%m.%y",
    "%m/%d/%y %I:%M:%S %p", "%m/%d/%y %I:%M %p", "%d/%m/%y %I:%M:%S %p", "%d/%m/%y %I:%M %p",
    "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S.%f %z", "%Y/%m/%d %H:%M",
    # ISO's order without its zero padding (`2025-1-3 9:05`: a spreadsheet's `yyyy-m-d h:mm`);
    # padded values read as iso, which comes first.
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    # Month names, in English: Oracle's 05-MAR-2024, a report's `5 Mar 2024`, a dashboard's
    # `Mar 5, 2024, 2:23 PM`.
    "%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%d-%b-%Y", "%d %b %Y %H:%M", "%d %b %Y",
    "%d %B %Y", "%d %B %Y %H:%M", "%b %d, %Y, %I:%M:%S %p", "%b %d, %Y, %I:%M %p",
    "%b %d, %Y %I:%M:%S %p", "%b %d, %Y", "%B %d, %Y",
    # A log's `03 Jan 2025 10:05:33`; a calendar's or a form tool's `January 3, 2025 at
    # 10:05 AM` and `Friday, January 3, 2025`.
    "%d %b %Y %H:%M:%S", "%B %d, %Y at %I:%M %p", "%A, %B %d, %Y",
    # Dotted years first (`2025.01.03 10:05`: Korean, Hungarian and Chinese locales).
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    # Oracle's default DATE and TIMESTAMP text (`03-JAN-25`, `03-JAN-25 10.00.00.000000 AM`),
    # SQL Server's default datetime text (`Jan  3 2025 10:00AM`).
    "%d-%b-%y", "%d-%b-%y %I.%M.%S.%f %p", "%b %d %Y %I:%M%p",
    # A zone abbreviation after the time (validate.ZONE_ABBREVIATIONS): a CRM's or ticket
    # tool's `01/03/2025 10:00 AM PST`, Java's `Fri Jan 03 10:00:00 PST 2025`.
    "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M %Z", "%m/%d/%Y %I:%M %p %Z",
    "%m/%d/%Y %I:%M:%S %p %Z", "%m/%d/%Y %H:%M %Z", "%a %b %d %H:%M:%S %Z %Y",
    # RFC 2822, as mail and HTTP logs write times: `Fri, 03 Jan 2025 10:00:00 +0000` or `GMT`.
    "%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S %Z",
    # A web server's access log (`03/Jan/2025:10:00:00 +0000`), Kibana's CSV reports
    # (`Jan 3, 2025 @ 10:00:00.000`), Jira's exports (`03/Jan/25 10:00 AM`).
    "%d/%b/%Y:%H:%M:%S %z", "%b %d, %Y @ %H:%M:%S.%f", "%b %d, %Y @ %H:%M:%S",
    "%d/%b/%y %I:%M %p",
)  # fmt: skip
EPOCH_DIGITS = {10: "epoch_s", 13: "epoch_ms", 16: "epoch_us", 19: "epoch_ns"}
# Excel serial days the starter takes for times: 1970-01-01 up to 2100-01-01 (a day count or
# an amount of that size in a time's column is rarer than a spreadsheet's lost date format).
EXCEL_DAYS_PROPOSED = (EXCEL_UNIX_DAY, 73_051)
# A file name's numbering or date at its end (`_000`, `-2024-03-05`, or the whole name),
# after a word that says it is an export (Shopify's `orders_export_1.csv`, a BI tool's
# `Orders Report.csv`, a German one's `Bestellungen Bericht.csv`), and the mark of a copy
# after them: a browser's second download `orders (1).csv`, Windows' `orders - Copy.csv`,
# macOS' `orders copy 2.csv`.
TRAILING_NUMBERING = re.compile(
    r"((^|[-_. ]+)(export|exports|dump|extract|report|data|download|bericht|auswertung|"
    r"rapport|informe|relatorio|rapporto))?"
    # a number, or a page, part or batch of one after the name (`orders_page_001`)
    # (Kafka Connect's S3 sink names its files topic+partition+offset: `events+0+0000000000`)
    r"(([-_. ]+(page|pages|part|batch|chunk)[-_. ]*|(^|[-_. +]+))[0-9][-_. +0-9]*)?"
    r"( ?\([0-9]+\)|[-_ ]+copy( ?\(?[0-9]+\)?)?)?$",
    re.IGNORECASE,
)
SCIENTIFIC_ID_RE = re.compile(SCIENTIFIC_ID_PATTERN)
# The ingest's plain decimal numbers, with either fraction separator (validate.number_pattern).
POINT_NUMBER = re.compile(number_pattern("."))
COMMA_NUMBER = re.compile(number_pattern(","))
# Decimal separator -> its digit-group separators, each with the pattern it reads: a blank
# (with its no-break forms, read as one: `1 234,50`) after the other separator, and Swiss
# apostrophes (`1'234.50`).
GROUPED_NUMBERS = {
    decimal: tuple((group, re.compile(number_pattern(decimal, group))) for group in groups)
    for decimal, groups in ((".", (",", " ", "'")), (",", (".", " ")))
}
# Symbols exports write beside amounts (`$1,200.00`, `49,00 €`, `R$ 49,90`), longest first so
# that `US$` is not read as `$`; three capitals (`49.00 USD`) are a currency code.
CURRENCY_SYMBOLS = (
    "US$", "NZ$", "HK$", "kr.", "Fr.", "CHF", "R$", "A$", "C$", "kr", "zł", "Kč",
    "$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫", "₱", "฿",
)  # fmt: skip
CURRENCY_CODE = re.compile("[A-Z]{3}")


@dataclass(frozen=True)
class NumberFormat:
    """How a column's sampled numbers read: the fraction separator, the digit-group
    separator (None when no number needs one), the currency symbols they carry, how their
    negative numbers are written (config.NEGATIVE_STYLES), and the first number that needs
    digit groups and the first negative one written otherwise than with a minus (for the
    checks)."""

    decimal: str
    thousands: str | None
    symbols: tuple[str, ...]
    grouped: str | None
    negatives: str = LEADING_MINUS
    negative: str | None = None

    @property
    def currency_symbol(self) -> str | None:
        """The source's `currency_symbol`: the one symbol the numbers carry, if one."""
        return self.symbols[0] if len(self.symbols) == 1 else None


class StarterError(UsagecastError):
    """The files cannot be sampled (none found, unreadable, an unknown kind)."""


@dataclass(frozen=True)
class FileSample:
    """What the starter knows of one file: how it reads and some values of each column."""

    path: Path
    format: str
    encoding: str
    delimiter: str
    columns: tuple[str, ...]
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()  # an Excel workbook's sheets; the first one is sampled
    # JSON: each top-level text key's distinct texts over every record read for keys (up to
    # MAX_NAMES): the rare event names, a conversion among them, that 200 rows miss.
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    archive: Path | None = None  # the zip archive holding the file (`path` is archive/member)
    archive_files: int = 0  # how many files that archive holds (export files or not)
    records: str | None = None  # JSON API pages: the key of the records' array (`results`)
    header: bool = True  # False: a text table without a header line (columns column_1, ...)
    sheet: str | None = None  # the sheet sampled, of an Excel workbook's `sheets`
    # Lines of a text table (rows of a sheet) before its header: a report's title and date.
    skip_lines: int = 0
    title: tuple[str, ...] = ()  # the texts of those lines, for the check
    # Why the file is no source (empty, unreadable): it is left out with a check.
    left_out: str | None = None
    # Lines at the end of a text table that are no rows: a report's totals and notice.
    footer_lines: int = 0
    footer: tuple[str, ...] = ()  # the texts of those lines, for the check
    # JSON keys read through a MongoDB Extended JSON wrapper: key -> path (`createdAt.$date`).
    wrapped: Mapping[str, str] = field(default_factory=dict)
    # Texts of a text table or sheet for a missing value (_missing_texts); not in `values`.
    missing_texts: tuple[str, ...] = ()
    # Sampled lines of a text table that repeat its header; not in `values`.
    header_repeats: int = 0
    # Sampled lines of a text table or sheet of a report's totals; not in `values`.
    totals_rows: int = 0
    # Sampled lines of a text table with fewer fields than its header.
    short_rows: int = 0
    # JSON: the keys of the records that hold lists of objects (an order's `line_items`).
    record_arrays: tuple[str, ...] = ()
    # JSON: each of those lists read as rows (`records` its path, `parent` the key of the
    # record holding it), sampled with the record's fields under `parent.` (`visit.userId`):
    # the events when its elements have a time of their own (a visit's actions, the sessions
    # in a user document).
    elements: tuple[FileSample, ...] = ()
    parent: str | None = None
    # An element sample's user id on its record, when the records are the users (`user._id`).
    parent_id: str | None = None


@dataclass(frozen=True)
class ExportFile:
    """A file of the export: on disk, or a member of a zip archive (then `path` is where it
    would be if the archive were a folder, archive/member, as the starter groups files)."""

    path: Path
    archive: Path | None = None
    member: str | None = None
    archive_files: int = 0  # how many files the archive holds (export files or not)

    @property
    def shown(self) -> str:
        """As messages name it: its path, `export.zip:member` for a member."""
        if self.archive is None or self.member is None:
            return str(self.path)
        return archives.member_name(self.archive, self.member)


@dataclass(frozen=True)
class Starter:
    """The starter's YAML text, a line per source it mapped, and what to check."""

    text: str
    mapped: tuple[str, ...]
    checks: tuple[str, ...]


def _key(name: str) -> str:
    """A column name compared with the NAMES lists: lower-case, accents dropped (`Événement`
    -> `evenement`), no separators, without a trailing qualifier in parentheses (Stripe's
    `user_id (metadata)`, `Created (UTC)`)."""
    plain = unicodedata.normalize("NFKD", QUALIFIER.sub("", name).lower())
    return re.sub(r"[^a-z0-9]", "", plain.encode("ascii", "ignore").decode())


def id_shape(value: str) -> str:
    """What kind of id a value is, to tell whether two columns' ids can match: a number
    (`1003`, `1003.0`), an email address, a UUID, a prefixed id (`cus_...`) or other text."""
    text = value.strip()
    if re.fullmatch(r"[0-9]+(\.0*)?", text):
        return "numbers"
    if "@" in text:
        return "email addresses"
    if UUID.fullmatch(text):
        return "UUIDs"
    if prefix := re.match(r"[A-Za-z]+[_:-]", text):
        return f"ids like {prefix.group()}..."
    return "other text"


def _is_id(value: str) -> bool:
    """Whether a value reads as an id: a whole number, an email address, a UUID, or a
    prefixed id with a digit (`cus_1a2b`; `page_view` is a name)."""
    shape = id_shape(value)
    return shape in ("numbers", "email addresses", "UUIDs") or (
        shape.startswith("ids like") and any(ch.isdigit() for ch in value)
    )


def _ids_shape(values: Sequence[str]) -> str | None:
    """The most common id_shape of sampled ids (None without any)."""
    shapes = [id_shape(v) for v in values if v.strip()]
    return max(set(shapes), key=shapes.count) if shapes else None


def _sampled_rows(sample: FileSample) -> int:
    """How many rows were sampled: the most values any column holds (blanks are left out)."""
    return max(map(len, sample.values.values()), default=0)


def _matches(columns: Iterable[str], names: Sequence[str], taken: set[str]) -> list[str]:
    """The columns whose key is one of `names`, in the order of `names`."""
    by_key = {_key(c): c for c in columns if c not in taken}
    return [by_key[n] for n in names if n in by_key]


def _find(columns: Iterable[str], names: Sequence[str], taken: set[str]) -> str | None:
    """The first column (by the order of `names`) whose key is one of `names`."""
    return next(iter(_matches(columns, names, taken)), None)


def _field_matches(sample: FileSample, names: Sequence[str], taken: set[str]) -> list[str]:
    """Top-level columns by `names`, then the same names inside the objects named in
    NESTED_PREFIXES: Mixpanel's export keeps even the user id and the time in `properties`."""
    nested = [c for c in sample.columns if "." in c]
    paths = [f"{prefix}{name}" for prefix in NESTED_PREFIXES for name in names]
    return _matches(sample.columns, names, taken) + _matches(nested, paths, taken)


def _find_field(sample: FileSample, names: Sequence[str], taken: set[str]) -> str | None:
    return next(iter(_field_matches(sample, names, taken)), None)


def _id_matches(sample: FileSample, names: Sequence[str], taken: set[str]) -> list[str]:
    """_field_matches, then the same names on the record holding an element sample's rows
    (`visit.userId`): an element (a visit's action) rarely carries its user's id itself."""
    found = _field_matches(sample, names, taken)
    if sample.parent is None:
        return found
    held = [f"{_key(sample.parent)}{name}" for name in names]
    return found + [c for c in _matches(sample.columns, held, taken) if c not in found]


def _user_id_fields(sample: FileSample, users_shape: str | None = None) -> list[str]:
    """The columns named like an event's user id, the chosen one first: by name order the
    first that holds a value in at least half the sampled rows, else the most filled
    (GA4's `user_id` is blank until a site sets it, its `user_pseudo_id` never is; Segment's
    `userId` is blank only before a login, so it stays ahead of `anonymousId`). Given the
    users table's id shape, a column of that shape goes first (Stripe's `Customer ID`,
    `cus_...`, names no product user; its `user_id (metadata)` does). A column of one value
    on every sampled row (_constant_ids) goes last when another varies."""
    named = _id_matches(sample, USER_ID_NAMES, set())
    if sample.parent_id is not None:
        named = [sample.parent_id, *(c for c in named if c != sample.parent_id)]
    found = [*named, *(c for c in _owned_ids(sample.columns) if c not in named)] or (
        _field_matches(sample, EMAIL_NAMES, set())
    )
    constant = _constant_ids(sample, found)
    if len(constant) < len(found):
        found = [*(c for c in found if c not in constant), *constant]
    filled = {column: len(sample.values.get(column, ())) for column in found}
    rows = _sampled_rows(sample)
    half = [column for column in found if 2 * filled[column] >= rows and column not in constant]
    if users_shape is not None:
        half.sort(key=lambda c: _ids_shape(sample.values.get(c, ())) != users_shape)
    chosen = half[0] if half else max(found, key=filled.__getitem__, default=None)
    return [chosen, *(c for c in found if c != chosen)] if chosen else []


@dataclass(frozen=True)
class Counterparty:
    """A ledger without a user id: each row's `sender` and `recipient` columns, one of them
    `owner` (the account that exported it), so the user is the other side."""

    sender: str
    recipient: str
    owner: str

    def user_id(self) -> dict:
        """The derived user id: the side that is not the owner, lower-cased and trimmed."""
        sender, recipient = (f"lower(trim({ident(c)}))" for c in (self.sender, self.recipient))
        owner = self.owner.replace("'", "''")
        return {"expr": f"CASE WHEN {sender} = '{owner}' THEN {recipient} ELSE {sender} END"}


def _counterparty(sample: FileSample) -> Counterparty | None:
    """`From X` and `To X` columns (PARTY_NAMES: PayPal's `From Email Address` and `To Email
    Address`) filled on every sampled row, one value on one side or the other of each of
    them, and more than one other: a payment account's activity export, whose customers are
    the other side of each row."""
    rows = _sampled_rows(sample)
    for sender in sample.columns:
        first, *rest = name_words(sender) or [""]
        if first != "from" or _key("".join(rest)) not in PARTY_NAMES:
            continue
        recipient = next((c for c in sample.columns if name_words(c) == ["to", *rest]), None)
        pairs = list(
            zip(
                (v.strip().lower() for v in sample.values.get(sender, ())),
                (v.strip().lower() for v in sample.values.get(recipient or "", ())),
                strict=False,
            )
        )
        if recipient is None or rows < 2 or len(pairs) != rows:
            continue
        for owner in pairs[0]:
            others = {b if a == owner else a for a, b in pairs if owner in (a, b)}
            if all(owner in pair for pair in pairs) and len(others - {owner}) > 1:
                return Counterparty(sender, recipient, owner)
    return None


def _constant_ids(sample: FileSample, columns: Sequence[str]) -> list[str]:
    """The id columns holding one value on every one of at least CONSTANT_ID_ROWS sampled
    rows: the account at a platform that exported them (Optimizely's `account_id`), never a
    product's users."""
    rows = _sampled_rows(sample)
    return [
        column
        for column in columns
        if rows >= CONSTANT_ID_ROWS
        and len(sample.values.get(column, ())) == rows
        and len(set(sample.values[column])) == 1
    ]


def _order_total_on_each_line(sample: FileSample, value: str, taken: set[str]) -> str | None:
    """A column naming the order each row is a line of (ORDER_ID_NAMES), when `value` repeats
    the order's total on every line (WooCommerce's `Order Total Amount`): both filled on
    every sampled row, the id repeated, one value per id."""
    rows = _sampled_rows(sample)
    totals = sample.values.get(value, ())
    for column in _field_matches(sample, ORDER_ID_NAMES, taken):
        ids = sample.values.get(column, ())
        if len(ids) != rows or len(totals) != rows or len(set(ids)) == rows:
            continue
        if len(set(zip(ids, totals, strict=True))) == len(set(ids)):
            return column
    return None


def _status_prefix(values: Sequence[str]) -> str:
    """The prefix every sampled status shares up to a `-` (WooCommerce's `wc-completed`,
    `wc-refunded`), when there are two statuses or more; else ""."""
    heads = {v.partition("-")[0] + "-" if "-" in v else "" for v in values}
    prefix = heads.pop() if len(heads) == 1 else ""
    letters = prefix[:-1].isalpha()
    return prefix if letters and len(set(values)) > 1 else ""


def _guest_id(sample: FileSample, user_id: str) -> tuple[str, str, int] | None:
    """(email column, placeholder, how many emails share it) when the user id holds a
    placeholder (GUEST_IDS) for rows of different email addresses, both filled on every
    sampled row: WooCommerce's `Customer User ID` is 0 on every guest's order."""
    rows = _sampled_rows(sample)
    ids = sample.values.get(user_id, ())
    for email in _field_matches(sample, EMAIL_NAMES, {user_id}):
        addresses = sample.values.get(email, ())
        if len(ids) != rows or len(addresses) != rows:
            continue
        for placeholder in GUEST_IDS:
            pairs = zip(ids, addresses, strict=True)
            shared = {a.strip().lower() for i, a in pairs if i == placeholder}
            if len(shared) > 1:
                return email, placeholder, len(shared)
    return None


def _owned_ids(columns: Iterable[str]) -> list[str]:
    """Top-level columns whose name ends in a user's id by another name: `app_user_id`,
    `domain_userid`, `subscriberId` (ID_OWNERS before `id`)."""
    found = []
    for column in (c for c in columns if "." not in c):
        *before, last = name_words(column) or [""]
        owner = last[:-2] or (before[-1] if before else "")  # `userid`, or `user` + `id`
        if last.endswith("id") and owner in ID_OWNERS:
            found.append(column)
    return found


def _value_by_word(sample: FileSample, taken: set[str]) -> str | None:
    """A top-level column whose first word is a value's (VALUE_WORDS: `price_in_usd`), whose
    last before a currency is `value` or `revenue` (CDNOW's `dollar_value`, `net_revenue`,
    GA4's `event_value_in_usd`) or an amount of the whole order (_whole_amount: `Order
    Amount`), and whose sampled values are all numbers."""
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        words = name_words(column)
        values = sample.values.get(column, ())
        core = [word for word in words if word not in CONVERTED_WORDS]
        named = core and (
            words[0] in VALUE_WORDS or core[-1] in VALUE_ENDINGS or _whole_amount(words)
        )
        if named and values and all(map(_is_amount, values)):
            return column
    return None


def _whole_amount(words: Sequence[str]) -> bool:
    """A name's words (a currency's left out) are an amount or a total of the whole order or
    payment (WHOLE_AMOUNT_WORDS then WHOLE_AMOUNT_ENDINGS)."""
    core = [word for word in words if word not in CONVERTED_WORDS]
    return (
        len(core) > 1
        and core[-1] in WHOLE_AMOUNT_ENDINGS
        and all(word in WHOLE_AMOUNT_WORDS for word in core[:-1])
    )


def _line_amount(sample: FileSample, taken: set[str]) -> tuple[str, str] | None:
    """An order line's quantity and unit price columns (QUANTITY_NAMES, UNIT_PRICE_NAMES),
    when every sampled value of both reads as a number in one format (_number_format: a
    decimal comma and digit groups are the source's, as the ingest reads the product's
    operands with them): their product is the line's value."""
    quantity = _find_field(sample, QUANTITY_NAMES, taken)
    price = _find_field(sample, UNIT_PRICE_NAMES, taken | {quantity or ""})
    if quantity is None or price is None or "." in quantity + price:
        return None
    found = _number_format(sample, (quantity, price))
    number = re.compile(
        number_pattern(found.decimal, found.thousands, found.currency_symbol, found.negatives)
    )
    values = [*sample.values.get(quantity, ()), *sample.values.get(price, ())]
    plain = values and all(number.fullmatch(v) for v in values)
    return (quantity, price) if plain else None


def _value_field(
    sample: FileSample, taken: set[str], files: str, checks: list[str]
) -> tuple[str | dict | None, tuple[str, ...]]:
    """The event's value, and the columns it reads: a line's total by name (OPTIONAL_NAMES),
    else its quantity times its unit price (_line_amount), else a price by name or a column
    named like a value (_value_by_word); a price beside a quantity gets a check."""
    names = OPTIONAL_NAMES["value"]
    total = _find_field(sample, [n for n in names if n not in UNIT_PRICE_NAMES], taken)
    if total is not None:
        total = _in_one_currency(sample, total, taken, files, checks)
        return total, (total,)
    amount = _line_amount(sample, taken)
    if amount is not None:
        checks.append(
            f"{files}: value = {amount[0]} × {amount[1]}, each line's amount (a negative "
            "quantity, a return, gives a negative value: see rules.value_range)"
        )
        return {"expr": f"{ident(amount[0])} * {ident(amount[1])}"}, amount
    price = _find_field(sample, names, taken) or _value_by_word(sample, taken)
    if price is None:
        return None, ()
    price = _in_one_currency(sample, price, taken, files, checks)
    quantity = _find_field(sample, QUANTITY_NAMES, taken | {price})
    if quantity is not None and _key(price) in UNIT_PRICE_NAMES:
        checks.append(
            f"{files}: value {price} may be a unit price beside {quantity}: the line's amount "
            f"is then their product, a derived value (`value: {{expr: '{ident(quantity)} * "
            f"{ident(price)}'}}`) once both hold plain numbers"
        )
    return price, (price,)


def _in_one_currency(
    sample: FileSample, value: str, taken: set[str], files: str, checks: list[str]
) -> str:
    """The value column, or the same amount converted to one currency when the file has it
    beside it (CONVERTED_WORDS), with a check."""
    words = name_words(value)
    for other in (c for c in sample.columns if c not in taken and c != value and "." not in c):
        marked = name_words(other)
        texts = sample.values.get(other, ())
        core = [w for w in marked if w not in CONVERTED_WORDS]
        if core == words and len(marked) > len(words) and texts and all(map(_is_amount, texts)):
            checks.append(
                f"{files}: value {other}, the amounts converted to one currency (not {value}, "
                "each in its row's own)"
            )
            return other
    return value


def _converted(column: str) -> bool:
    """Whether a value column's name marks amounts converted to one currency (`price_in_usd`,
    `Converted Amount`)."""
    return bool(set(name_words(column)) & (set(CONVERTED_WORDS) - {"in"}))


def _lifecycle_columns(sample: FileSample, taken: set[str]) -> list[tuple[str, str]]:
    """(column, its LIFECYCLE_WORDS word) of the top-level time columns that date a change of
    state: named `<word> at`, `<word>_on`, `<word> date`, with sampled values that all read
    as times, blank on some rows or none."""
    found = []
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        change = _dated_change(column)
        values = sample.values.get(column, ())
        if change is not None and change[0] == "lifecycle" and _all_times(values):
            found.append((column, change[1].lower()))
    return found


def _dated_change(column: str) -> tuple[str, str] | None:
    """What a time column's name says it dates: ("lifecycle", CANCELED) for `Canceled At`
    (LIFECYCLE_WORDS), ("became", BECAME_CUSTOMER) for HubSpot's `Became a Customer Date`;
    None for any other name."""
    words = [w for w in name_words(QUALIFIER.sub("", column)) if w not in ("a", "an")]
    core = [w for w in words if w not in LIFECYCLE_TAIL_WORDS]
    if len(core) == 1 and words[0] in LIFECYCLE_WORDS:
        return "lifecycle", core[0].upper()
    if len(core) > 1 and core[0] == "became" and words[-1] in LIFECYCLE_TAIL_WORDS:
        return "became", "_".join(core).upper()
    return None


def _all_times(values: Sequence[str]) -> bool:
    """Every value reads as a time, ISO or in a format the starter would choose for them."""
    formats = [f for f in timestamp_formats(values)[0] if "%" in f]
    return all(re.fullmatch(ISO_PATTERN, v) or any(_parses(v, f) for f in formats) for v in values)


def _same_state(word: str, status: str) -> bool:
    """A status value (`canceled`, `Cancelled`) that a lifecycle column's word dates."""
    spelled = {word, word.replace("ll", "l"), word.replace("celed", "celled")}
    return status.strip().lower() in spelled


def _order_lines(sample: FileSample, field: str, taken: set[str]) -> str | None:
    """A column naming the order each row is a line of (ORDER_ID_NAMES, else an order's name
    such as Shopify's `Name`, #1001), when the order's `field` sits on one of its lines only:
    filled on every sampled row, repeated, and with as many distinct ids as `field` has
    values (Shopify's orders export: an order's further line items repeat its `Name`, their
    `Total` and `Financial Status` blank)."""
    rows = _sampled_rows(sample)
    names = [
        c
        for c in _field_matches(sample, ORDER_NAME_NAMES, taken)
        if all(ORDER_NAME.fullmatch(v) for v in sample.values.get(c, ()))
    ]
    for column in [*_field_matches(sample, ORDER_ID_NAMES, taken), *names]:
        ids = sample.values.get(column, ())
        repeated = len(ids) == rows and len(set(ids)) < rows
        if repeated and len(set(ids)) == len(sample.values.get(field, ())):
            return column
    return None


def _changed_attribute(sample: FileSample, taken: set[str]) -> str | None:
    """A top-level text column named like what a change moves a user to (`new_plan`,
    CHANGED_ATTRIBUTE_WORDS), for a file whose rows are all one kind of event."""
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        values = sample.values.get(column, ())
        named = set(name_words(column)) & set(CHANGED_ATTRIBUTE_WORDS)
        if named and values and not any(map(_is_number, values)):
            return column
    return None


def _last_area_hint(event_type: str) -> str:
    """The spec entry that reads an area of `event_type`'s events as of each cutoff."""
    return f"{{kind: last, field: area, event_types: [{event_type}]}} reads it as of each cutoff"


def _event_type_fallback(sample: FileSample, event: str, taken: set[str]) -> str | None:
    """Another event-type column that holds a value in every sampled row, when `event` is
    blank in some (Segment's `event` of track calls beside the `type` of every call)."""
    rows = _sampled_rows(sample)
    if len(sample.values.get(event, ())) >= rows:
        return None
    filled = (c for c in _field_matches(sample, EVENT_NAMES, taken) if "." not in c)
    return next((c for c in filled if len(sample.values.get(c, ())) >= rows), None)


def _named_events(sample: FileSample, user_id: str, taken: set[str]) -> str | None:
    """A top-level `name` column of an events file, filled on every sampled row, whose texts
    repeat, few (at most MAX_EVENT_TYPES, each on two rows on average), and differ within
    some user's rows: the events' names (Customer.io's, a backend's log), not the user's
    name on each of their events, nor an order's (Shopify's #1001)."""
    column = _find(sample.columns, ("name",), taken)
    values = sample.values.get(column or "", ())
    users = sample.values.get(user_id, ())
    if not values or len(values) != len(users) or len(values) != _sampled_rows(sample):
        return None
    if any(_is_number(v) or ORDER_NAME.fullmatch(v) for v in values):
        return None
    per_user: dict[str, set[str]] = {}
    for user, value in zip(users, values, strict=True):
        per_user.setdefault(user, set()).add(value)
    distinct = len(set(values))
    varies = any(len(names) > 1 for names in per_user.values())
    return (
        column if varies and distinct <= MAX_EVENT_TYPES and 2 * distinct <= len(values) else None
    )


def _trial_flag(sample: FileSample, taken: set[str]) -> str | None:
    """A top-level column named like a trial flag (TRIAL_FLAG_NAMES) whose sampled values are
    all TRUTH_WORDS, true on some row and false on another."""
    column = _find(sample.columns, TRIAL_FLAG_NAMES, taken)
    values = {v.strip().lower() for v in sample.values.get(column or "", ())}
    trues = values & set(TRUE_WORDS)
    return column if values <= TRUTH_WORDS and trues and values - trues else None


def _status_column(sample: FileSample, taken: set[str]) -> tuple[str, str | None] | None:
    """A top-level `...status` column with at most MAX_STATUSES distinct values, not a
    delivery's (DELIVERY_STATUS_WORDS), and the order column to fill it down by (None when it
    needs none): set on every sampled row (Stripe's charges: Paid, Failed, Refunded), or on
    one line per order, the rest blank (Shopify's `Financial Status`: _order_lines)."""
    rows = _sampled_rows(sample)
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        values = sample.values.get(column, ())
        words = name_words(QUALIFIER.sub("", column))
        named = bool(words) and words[-1] == "status"
        if not named or set(words) & set(DELIVERY_STATUS_WORDS):
            continue
        if not 0 < len(set(values)) <= MAX_STATUSES:
            continue
        if len(values) == rows:
            return column, None
        order = _order_lines(sample, column, taken | {column})
        if order is not None:
            return column, order
    return None


def _device_ids_last(
    sample: FileSample, ids: list[str], files: str, checks: list[str]
) -> list[str]:
    """The user id columns, the chosen one first, unless its values name anonymous devices
    (Mixpanel's simplified ID merge writes `$device:<id>` as an anonymous event's
    `distinct_id`): then the `$user_id` beside it comes first, so each device is not a user of
    its own (its `$device_id` becomes the anonymous id). [None] without any."""
    if not ids:
        return [None]
    chosen, *others = ids
    devices = [v for v in sample.values.get(chosen, ()) if v.startswith(DEVICE_PREFIX)]
    identified = next((c for c in others if _key(c.rpartition(".")[2]) == "userid"), None)
    if not devices or identified is None:
        return ids
    checks.append(
        f"{files}: user id {identified}, not {chosen}, whose values such as {devices[0]} name "
        "anonymous devices (Mixpanel's simplified ID merge)"
    )
    return [identified, chosen, *(c for c in others if c != identified)]


def _sampled_event_types(sample: FileSample, columns: Mapping) -> tuple[str, ...]:
    """The event types of the sampled rows, read from the mapped column or from those its
    expression reads (`coalesce("event", "type")`)."""
    mapped = columns.get("event_type")
    read = derived_columns(mapped["expr"]) if isinstance(mapped, Mapping) else (mapped,)
    return tuple(
        name
        for column in read
        if column is not None
        for name in (sample.names.get(column) or sample.values.get(column, ()))
    )


def _scientific_ids(sample: FileSample, column: str, files: str, checks: list[str]) -> None:
    """A check when sampled ids are in scientific notation (the ingest quarantines them:
    scientific_notation_id)."""
    mangled = [v for v in sample.values.get(column, ()) if SCIENTIFIC_ID_RE.fullmatch(v)]
    if mangled:
        checks.append(
            f"{files}: {column}: {len(mangled)} sampled ids such as {mangled[0]} are numbers in "
            "scientific notation, as Excel or pandas save long ids (their digits are lost); "
            "export the column as text, or the ingest quarantines those rows"
        )


def _id_field(column: str, files: str, checks: list[str]) -> str | dict:
    """The user id's mapping: the column, or for an email address its lower-cased text (a
    derived column), said in the checks."""
    if _key(column) not in EMAIL_NAMES:
        return column
    quoted = '"' + column.replace('"', '""') + '"'
    checks.append(
        f"{files}: user id from the email column {column}, lower-cased: Ann@Example.com and "
        "ann@example.com are one customer"
    )
    return {"expr": f"lower({quoted})"}


@contextlib.contextmanager
def _opened(file: ExportFile) -> Iterator[IO[bytes]]:
    """The file's bytes as a stream: from disk, or from its archive."""
    if file.archive is None:
        with file.path.open("rb") as handle:
            yield handle
    else:
        assert file.member is not None
        with archives.open_member(file.archive, file.member) as handle:
            yield handle


def _head(file: ExportFile) -> bytes:
    """The file's first bytes, decompressed when gzip (a zip inside a zip is refused as the
    ingest refuses it)."""
    try:
        gzipped = is_gzipped(file_head(file.archive or file.path, file.member), file.shown)
        with _opened(file) as raw:
            if not gzipped:
                return raw.read(SAMPLE_BYTES)
            with gzip.GzipFile(fileobj=raw) as unzipped:
                return unzipped.read(SAMPLE_BYTES)
    except SourceFileError as error:
        raise StarterError(str(error)) from None
    except archives.READ_ERRORS as error:
        raise StarterError(f"{file.shown}: not readable ({error})") from None


def _encoding(head: bytes) -> str:
    """utf-16 after its byte-order mark (Excel's "Unicode Text"), utf-8 when the bytes decode
    so (a cut last character allowed), else cp1252, unless the head holds a byte cp1252
    leaves undefined: latin-1.

    cp1252 is what Windows tools and Excel write in the west, and it reads every printable
    latin-1 character the same (as browsers read text labelled latin-1); it differs only at
    0x80-0x9f, where latin-1 has control characters and cp1252 the euro sign, dashes and
    curly quotes. A head without those bytes does not show which of the two a file is, and
    such a byte further down (a product's "9,99 €" past the sample) stops an ingest that reads
    the file as latin-1."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(UTF8_BOM))
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1" if re.search(rb"[\x81\x8d\x8f\x90\x9d]", head) else "cp1252"


def _text_rows(head: bytes, encoding: str) -> list[str]:
    text = head.removeprefix(UTF8_BOM).decode(encoding, errors="replace")
    lines = text.splitlines()
    return lines[:-1] if len(head) == SAMPLE_BYTES and len(lines) > 1 else lines


def _sniffed_delimiter(lines: Sequence[str]) -> str:
    """The delimiter of a text table's first lines: one of DELIMITERS (read above a short
    file's footer, whose totals and notices hold other delimiters, when one splits off a
    footer), else WHITESPACE when every line splits on runs of blanks into the same number
    (2 or more) of fields (CDNOW's ` 00001 19970101  1   11.77`), else `,`."""
    short = len(lines) < SNIFFED_LINES + MAX_FOOTER_LINES  # else no footer line is sniffed
    footers = (_footer_length(lines, delimiter) for delimiter in DELIMITERS if short)
    for sample in (*(lines[: len(lines) - footer] for footer in footers if footer), lines):
        try:
            text = "\n".join(sample[:SNIFFED_LINES])
            return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
        except csv.Error:
            continue
    widths = {len(line.split()) for line in lines[:SNIFFED_LINES]}
    return WHITESPACE if len(widths) == 1 and min(widths) >= 2 else ","


def _table_start(lines: Sequence[str], whole: bool = True) -> int:
    """The index in `lines` (blank ones included) of a text table's header below a report's
    title: the first line from which every sampled record (a quoted field may span lines) above
    a report's footer (_footer_length) has the same number (2 or more) of fields by one of
    DELIMITERS, after at most MAX_TITLE_LINES records that each have fewer. 0 when the sample
    reads as a table from its first line by some delimiter, or no such header follows title
    lines (ragged lines are read as they are). Of a file's first bytes (`whole` False) the
    last record may be cut, so it is not counted."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    texts = [lines[i] for i in filled]
    starts = []
    for delimiter in DELIMITERS:
        records = _records(texts, delimiter)
        footer_starts = len(texts) - _footer_of(records, len(texts))
        records = [record for record in records if record[0] < footer_starts]
        records = records[: None if whole else -1]
        widths = [width for _, width in records]
        width = widths[-1] if widths else 0
        start = len(widths)
        while start > 0 and widths[start - 1] == width:
            start -= 1
        if width < 2 or len(widths) - start < 2:
            continue
        if start == 0:
            return 0
        if start <= MAX_TITLE_LINES and max(widths[:start]) < width:
            starts.append(filled[records[start][0]])
    return min(starts, default=0)


def _last_lines(tail: bytes | None, encoding: str) -> list[str]:
    """The non-blank whole lines of a file's last bytes (the first, maybe cut, left out)."""
    if tail is None:
        return []
    lines = tail.decode(encoding, errors="replace").splitlines()[1:]
    return [line for line in lines if line.strip()]


def _records(lines: Sequence[str], delimiter: str) -> list[tuple[int, int]]:
    """Each CSV record of `lines` as (the index of its first line, its number of fields): a
    quoted field may span lines."""
    reader = csv.reader(lines, delimiter=delimiter)
    records, start = [], 0
    for fields in reader:
        records.append((start, len(fields)))
        start = reader.line_num
    return records


def _footer_length(lines: Sequence[str], delimiter: str) -> int:
    """How many of a text table's last `lines` (non-blank) are a report's footer (Salesforce's
    `""`, `"Total",...`, its notice and copyright): the lines after the last record that has
    as many fields as the record before it (a row after a row, or the header), when there
    are at most MAX_FOOTER_LINES of them and the first is a single field, as no row of a
    table of two or more columns is; else 0. Records, not lines: a row's quoted field may
    hold line breaks (a comment, an address)."""
    return _footer_of(_records(lines, delimiter), len(lines))


def _footer_of(records: Sequence[tuple[int, int]], line_count: int) -> int:
    """_footer_length of `line_count` lines parsed as `records` (_records)."""
    widths = [width for _, width in records]
    last_row = next(
        (i for i in range(len(widths) - 1, 0, -1) if widths[i] == widths[i - 1] >= 2), None
    )
    if last_row is None or last_row == len(records) - 1:
        return 0
    first, width = records[last_row + 1]
    footer = line_count - first
    return footer if footer <= MAX_FOOTER_LINES and width == 1 else 0


def _footer_on_disk(path: Path, footer: int, width: int, delimiter: str, encoding: str) -> int:
    """`footer` when the ingest reads that many last lines of the file on disk as a footer
    (readers.footer_cut: they start where a row ends, their first record no row), else 0:
    a file's last bytes may start inside a quoted field, so their records are a guess.
    Checked only in an ASCII-compatible encoding, as the ingest checks its UTF-8 copy."""
    if not footer or codecs.lookup(encoding).name.startswith("utf-16"):
        return footer
    try:
        footer_cut(path, footer, width, delimiter, encoding, path)
    except SourceFileError:
        return 0
    return footer


def _csv_sample(path: Path, head: bytes, tail: bytes | None = None) -> FileSample:
    """A text table's sample from its first bytes (`head`, the whole file when shorter than
    SAMPLE_BYTES) and, for a longer file, its last bytes (`tail`) for a footer."""
    encoding = _encoding(head)
    raw = _text_rows(head, encoding)
    declared = EXCEL_SEPARATOR_LINE.match(head.removeprefix(UTF8_BOM))
    if declared:
        raw = raw[1:]
    whole = len(head) < SAMPLE_BYTES
    skip = _table_start(raw, whole)
    title = tuple(line.strip() for line in raw[:skip] if line.strip())
    lines = [line for line in raw[skip:] if line.strip()]
    if not lines:
        raise StarterError(f"{path}: no header line to read columns from")
    delimiter = declared.group(1).decode(encoding) if declared else _sniffed_delimiter(lines)
    ending = lines if whole else _last_lines(tail, encoding)
    footer = 0 if delimiter == WHITESPACE else _footer_length(ending, delimiter)
    footnote = tuple(line.strip() for line in ending[len(ending) - footer :]) if footer else ()
    if whole and footer:
        lines = lines[:-footer]
    if delimiter == WHITESPACE:
        rows = [line.split() for line in lines[: SAMPLE_ROWS + 1]]
    else:
        rows = list(csv.reader(lines[: SAMPLE_ROWS + 1], delimiter=delimiter))
    first = [name.strip() for name in rows[0]]
    if not whole:
        footer = _footer_on_disk(path, footer, len(first), delimiter, encoding)
        footnote = footnote if footer else ()
    # A warehouse unload (Snowflake's and Redshift's default, psql's \copy) has no header:
    # its first line holds data, a number or a time, which no column name is.
    headed = not any(_is_number(f) or (f and _reads_as_times([f])) for f in first)
    header = tuple(first) if headed else tuple(f"column_{i + 1}" for i in range(len(first)))
    body = rows[int(headed) :]
    if headed:  # lines that repeat the header: exports joined one after another
        body = [r for r in body if [f.strip() for f in r] != first]
    body, totals = _without_totals_rows(body)
    # Whitespace-separated tables are converted with every line's width checked (readers.py).
    short = 0 if delimiter == WHITESPACE else sum(len(row) < len(header) for row in body)
    values = {
        name: tuple(r[i].strip() for r in body if i < len(r) and r[i].strip())
        for i, name in enumerate(header)
    }
    values, missing = _without_missing_texts(values)
    return FileSample(
        path,
        "csv",
        encoding,
        delimiter,
        header,
        values,
        header=headed,
        skip_lines=skip,
        title=title,
        footer_lines=footer,
        footer=footnote,
        missing_texts=missing,
        header_repeats=len(rows) - int(headed) - len(body) - totals,
        totals_rows=totals,
        short_rows=short,
    )


def _without_totals_rows(
    rows: Sequence[Sequence[str | None]],
) -> tuple[list[Sequence[str | None]], int]:
    """Sampled rows without a report's totals lines (validate.is_totals_row: the ingest
    counts them as totals_row), and how many there were."""
    kept = [row for row in rows if not is_totals_row([field or "" for field in row])]
    return kept, len(rows) - len(kept)


def _without_missing_texts(
    values: Mapping[str, tuple[str, ...]],
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """A text table's (or sheet's) sampled values without the texts that stand for a missing value
    (_missing_texts), and those texts."""
    missing = _missing_texts(values)
    kept = {name: tuple(v for v in texts if v not in missing) for name, texts in values.items()}
    return kept, missing


def _missing_texts(values: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The texts the sampled fields write for a missing value: a database's
    (DATABASE_MISSING_TEXTS) in any column, another tool's (TOOL_MISSING_TEXTS) in a column
    whose other values (none of these texts) all hold a digit."""
    found: set[str] = set()
    marks = (*DATABASE_MISSING_TEXTS, *TOOL_MISSING_TEXTS)
    for texts in values.values():
        found.update(t for t in DATABASE_MISSING_TEXTS if t in texts)
        others = [v for v in texts if v not in marks]
        if others and all(any(c.isdigit() for c in v) for v in others):
            found.update(t for t in TOOL_MISSING_TEXTS if t in texts)
    return tuple(t for t in (*DATABASE_MISSING_TEXTS, *TOOL_MISSING_TEXTS) if t in found)


def _flatten(record: Mapping, prefix: str = "") -> dict[str, object]:
    """Top-level keys, and one level of keys inside objects as dotted paths, as well as the
    keys of {key, value} arrays (GA4's `event_params`: `event_params.ga_session_id`, its
    value the first non-null of GA4's typed alternatives), as the ingest reads them."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        flat[prefix + key] = value
        if isinstance(value, Mapping) and not prefix:
            flat.update(_flatten(value, f"{key}."))
        elif not prefix and (pair := _pair_keys(value)) is not None:
            name, held = pair
            flat.update({f"{key}.{e[name]}": _first_alternative(e[held]) for e in value})
    return flat


def _pair_keys(value: object) -> tuple[str, str] | None:
    """The keys (PAIR_KEYS) of a list of name/value objects, GA4's {key, value} or AWS's
    {Name, Value} (Cognito's user `Attributes`): fields by name, never rows; else None."""
    if not isinstance(value, list) or not value:
        return None
    return next(
        (
            (name, held)
            for name, held in PAIR_KEYS
            if all(isinstance(e, Mapping) and {name, held} <= set(e) for e in value)
        ),
        None,
    )


def _first_alternative(value: object) -> object:
    """GA4's typed value object as its first non-null field; any other value as it is."""
    if isinstance(value, Mapping):
        return next((v for v in value.values() if v is not None), None)
    return value


def _json_sample(path: Path, head: bytes, scan_rows: int) -> FileSample:
    """The file's keys from its first `scan_rows` records; values per _json_columns. The
    records of API pages (`{"results": [...], "next": ...}`) are their arrays' elements."""
    encoding = _encoding(head)
    text = "\n".join(_text_rows(head, encoding)).strip()
    if text.startswith("["):
        records = _array_records(text, scan_rows)
    else:
        records = []
        for line in text.splitlines()[:scan_rows]:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    key, objects = _page_records(text, [r for r in records if isinstance(r, Mapping)], scan_rows)
    sample = _records_sample(path, encoding, key, objects)
    elements = (_element_sample(sample, objects, array) for array in sample.record_arrays)
    return replace(sample, elements=tuple(elements))


def _records_sample(
    path: Path, encoding: str, key: str | None, objects: Sequence[Mapping]
) -> FileSample:
    """A JSON file's sample from its records: keys and values per _json_columns, keys
    wrapped by MongoDB's Extended JSON read through the wrapper."""
    columns = _json_columns(objects)
    wrapped = _extended_json(objects)
    for name, (_, values) in wrapped.items():
        columns = {k: v for k, v in columns.items() if not k.startswith(f"{name}.$")}
        columns[name] = values
    return FileSample(
        path,
        "jsonl",
        encoding,
        ",",
        tuple(columns),
        columns,
        names=_json_names(objects),
        records=key,
        wrapped={name: at for name, (at, _) in wrapped.items()},
        record_arrays=_record_arrays(objects),
    )


def _element_sample(records: FileSample, objects: Sequence[Mapping], array: str) -> FileSample:
    """The sample of the elements of each record's list at `array` as rows, each with the
    record's other fields under one key (_parent_key), as `records:` and `parent:` read them;
    no `parent` when the records hold nothing else (a page `{"data": {"events": [...]}}`)."""
    limit = max(len(objects), SAMPLE_ROWS)  # a document of a thousand sessions samples no more
    held: list[tuple[Mapping, dict]] = []
    for record in objects:
        elements = _at_path(record, array)
        if isinstance(elements, list) and len(held) < limit:
            holder = _without_path(record, array)
            held += [(e, holder) for e in elements if isinstance(e, Mapping)][: limit - len(held)]
    parent = _parent_key(records, array, [element for element, _ in held])
    if not any(_holds_values(holder) for _, holder in held):
        parent = None
    rows = [
        {**element, **({} if parent is None else {f"{parent}.{k}": v for k, v in holder.items()})}
        for element, holder in held
    ]
    where = array if records.records is None else f"{records.records}[].{array}"
    sample = _records_sample(records.path, records.encoding, where, rows)
    return replace(sample, parent=parent, record_arrays=())


def _holds_values(record: Mapping) -> bool:
    """Whether a record holds a value, at its top level or one object down (a page less its
    records' array may hold only the empty object around it)."""
    return any(
        v is not None and v != "" and not isinstance(v, Mapping | list)
        for v in _flatten(record).values()
    )


def _parent_key(records: FileSample, array: str, elements: Sequence[Mapping]) -> str:
    """The key the elements' record is read under: the records' array named in the singular
    (`data.events` -> event), else the file's (`visits_001.json` -> visit), else `record`;
    never a key of an element nor the list's own name (Segment's `batch_0001.json`, whose
    records hold a `batch`)."""
    if records.records is not None:
        named = records.records.split(".")[-1].removesuffix("s")
    else:
        named = _event_type_constant(records.path).lower()
    taken = {array.rpartition(".")[2], *(key for element in elements for key in element)}
    return next(k for k in (named, "record", "parent_record") if k and k not in taken)


def _at_path(record: Mapping, path: str) -> object:
    """The value at a dotted path of a record (`activity.sessions`), None where it stops."""
    value: object = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _without_path(record: Mapping, path: str) -> dict:
    """The record less the value at a dotted path, copying only the objects on the way."""
    head, _, rest = path.partition(".")
    kept = {k: v for k, v in record.items() if k != head}
    if rest and isinstance(record.get(head), Mapping):
        kept[head] = _without_path(record[head], rest)
    return kept


def _record_arrays_check(files: str, sample: FileSample) -> str:
    """The check that names the lists of objects inside the records, and how to read one of
    them as rows, each with the fields of the record holding it."""
    first = sample.elements[0]
    return (
        f"{files}: each record holds a list of objects at "
        f"{', '.join(map(repr, sample.record_arrays))} and is read as one row; to read each "
        f"element as a row instead, set {_elements_keys(first)}"
    )


def _elements_keys(elements: FileSample) -> str:
    """The keys that read an element sample's rows, as the checks name them."""
    if elements.parent is None:
        return f"`records: {elements.records}`"
    parent = elements.parent
    held = next((c for c in elements.columns if c.startswith(f"{parent}.")), f"{parent}.id")
    return (
        f"`records: {elements.records}` and `parent: {parent}` (the record's own fields are "
        f"then read under `{parent}.`, e.g. `{held}`)"
    )


def _read_elements(source: dict, elements: FileSample) -> None:
    """Point a source at an element sample's rows: its `records:`, and `parent:` if any."""
    source["records"] = elements.records
    if elements.parent is not None:
        source["parent"] = elements.parent


def _timed_elements(sample: FileSample) -> FileSample | None:
    """The first list inside the records whose elements have a time of their own (not only
    their record's), and not one of record-keeping (an order's line item's `updated_at`):
    the finer events, read a row each."""
    for elements in sample.elements:
        time, _ = _event_time(elements, set())
        if time is None or (elements.parent and time.startswith(f"{elements.parent}.")):
            continue
        if not set(name_words(time)) & set(RECORD_KEEPING_WORDS):
            return elements
    return None


def _elements_check(files: str, elements: FileSample, users: bool) -> str:
    """The check that says the events are the elements of a list inside each record."""
    array = elements.records.rpartition("[].")[2]
    records = "each user's record (the users table)" if users else "each record"
    return (
        f"{files}: the events are the elements of the {array!r} list in {records}, each "
        f"with a time of its own: read a row each with {_elements_keys(elements)}"
    )


# The keys of a record that Kafka Connect's JSON converter wrote with its schema: the row is
# the payload (its fields are found as `payload.user_id`, NESTED_PREFIXES).
KAFKA_ENVELOPE = ("schema", "payload")


def _record_arrays(records: Sequence[Mapping]) -> tuple[str, ...]:
    """The keys (top-level, or one level inside an object: `activity.sessions`) whose value
    is a non-empty list of objects in some record: the rows inside each record (an order's
    `line_items`) that `records:` and `parent:` read."""
    found: dict[str, None] = {}
    for record in records:
        if set(record) == set(KAFKA_ENVELOPE):  # its schema's `fields` describe, hold no row
            record = {"payload": record["payload"]}
        for key, value in _flatten(record).items():
            objects = (
                isinstance(value, list) and value and all(isinstance(e, Mapping) for e in value)
            )
            if objects and _pair_keys(value) is None:  # GA4's event_params are fields
                found[key] = None
    return tuple(found)


def _read_key(source: Mapping) -> tuple:
    """Which rows a source reads (`files:`, `members:`, and the `records:` of JSON files): the
    sources over one file's rows share it."""
    return source["files"], source.get("members"), source.get("records")


def _read_through_wrappers(source: dict, wrapped: Mapping[str, str]) -> None:
    """Point a source's column names that are MongoDB Extended JSON keys (`createdAt`) at the
    path the ingest reads (`createdAt.$date`): in `columns`, attributes and `dedupe`."""
    columns = source.get("columns", {})
    for role, column in columns.items():
        if isinstance(column, str):
            columns[role] = wrapped.get(column, column)
    for group in ("attributes", "user_attributes"):
        for attribute in source.get(group, {}).values():
            attribute["column"] = wrapped.get(attribute["column"], attribute["column"])
    if isinstance(source.get("dedupe"), list):
        source["dedupe"] = [wrapped.get(column, column) for column in source["dedupe"]]


def _wrapper_path(value: object) -> tuple[str, object] | None:
    """A MongoDB Extended JSON value's path inside it and what it wraps: `{"$oid": "64b.."}`
    -> (`$oid`, "64b.."), `{"$date": {"$numberLong": "1704.."}}` -> (`$date.$numberLong`,
    "1704.."); None for any other value."""
    keys: list[str] = []
    while isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in EXTENDED_JSON:
        key = next(iter(value))
        keys.append(key)
        value = value[key]
    return (".".join(keys), value) if keys and not isinstance(value, Mapping | list) else None


def _extended_json(records: Sequence[Mapping]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The top-level keys whose every value is one kind of MongoDB Extended JSON wrapper
    (mongoexport's `{"$date": ...}`, `{"$oid": ...}`, `{"$numberDecimal": ...}`): the path
    the ingest reads (`createdAt.$date`) and the sampled values it holds, so that the key is
    found by its name and read through the wrapper."""
    paths: dict[str, set[str]] = {}
    values: dict[str, list[str]] = {}
    plain: set[str] = set()
    for record in records[:SAMPLE_ROWS]:
        for key, value in record.items():
            found = None if value is None else _wrapper_path(value)
            if found is None:
                if value is not None:
                    plain.add(key)
                continue
            paths.setdefault(key, set()).add(found[0])
            if found[1] is not None and str(found[1]).strip():
                values.setdefault(key, []).append(str(found[1]).strip())
    return {
        key: (f"{key}.{suffix.pop()}", tuple(values.get(key, ())))
        for key, suffix in paths.items()
        if len(suffix) == 1 and key not in plain
    }


def _records_key(page: Mapping) -> str | None:
    """The key of an API page's array of records: a page has no time of its own and one
    key holding a list of objects of which one has a time (`data` of Stripe's lists,
    `results` of PostHog's and HubSpot's, `events` of Intercom's)."""
    if any(_is_time_name(key) for key in page):
        return None  # a record, perhaps with a list inside (an order's line items)
    lists = [
        key
        for key, value in page.items()
        if isinstance(value, list) and value and all(isinstance(e, Mapping) for e in value)
    ]
    if len(lists) != 1 or not any(map(_is_time_name, _flatten(page[lists[0]][0]))):
        return None
    return lists[0]


def _is_time_name(name: str) -> bool:
    """Whether a (dotted) key's last part names a time: TIME_NAMES, or a TIME_ENDINGS word
    last (`created`, `sent_at`)."""
    words = name_words(name.rpartition(".")[2])
    return _key(name.rpartition(".")[2]) in TIME_NAMES or bool(words and words[-1] in TIME_ENDINGS)


def _page_records(
    text: str, objects: list[Mapping], limit: int
) -> tuple[str | None, list[Mapping]]:
    """(the records' key, the first `limit` records) when the file holds API pages, one a
    line or one pretty-printed (then read element by element from the key's array, so a
    page cut by the sample still gives its first records); else (None, objects)."""
    if objects:
        key = _records_key(objects[0])
        if key is None or any(_records_key(o) != key for o in objects):
            return None, objects
        elements = [e for o in objects for e in o[key] if isinstance(e, Mapping)]
        return key, elements[:limit]
    if not text.startswith("{"):
        return None, objects
    for found in re.finditer(r'"((?:[^"\\]|\\.)*)"\s*:\s*\[', text):
        elements = _array_records(text[found.end() - 1 :], limit)
        page = {found.group(1): elements}
        if elements and _records_key(page) == found.group(1):
            return found.group(1), [e for e in elements if isinstance(e, Mapping)]
    return None, objects


def _json_names(records: Sequence[Mapping]) -> dict[str, tuple[str, ...]]:
    """Each top-level text key's distinct non-blank texts, in order of appearance."""
    names: dict[str, dict[str, None]] = {}
    for record in records:
        for key, value in record.items():
            seen = names.setdefault(key, {})
            if isinstance(value, str) and value.strip() and len(seen) < MAX_NAMES:
                seen[value.strip()] = None
    return {key: tuple(seen) for key, seen in names.items() if seen}


def _json_columns(records: Sequence[Mapping]) -> dict[str, tuple[str, ...]]:
    """Each key's (and each nested key's) non-blank texts in the first SAMPLE_ROWS records;
    a key first met later (a purchase's `properties.revenue` among thousands of plays) gets
    those of the first SAMPLE_ROWS records that hold it."""
    texts: dict[str, list[str]] = {}
    sampled: set[str] = set()
    for n, record in enumerate(records):
        if n == SAMPLE_ROWS:
            sampled = set(texts)
        for key, value in _flatten(record).items():
            column = texts.setdefault(key, [])
            if key in sampled or len(column) >= SAMPLE_ROWS:
                continue
            text = "" if value is None or isinstance(value, dict | list) else str(value).strip()
            if text:
                column.append(text)
    return {key: tuple(column) for key, column in texts.items()}


def _array_records(text: str, limit: int) -> list:
    """The first `limit` records of a JSON array, read element by element (the sample may be
    cut)."""
    decoder, records, at = json.JSONDecoder(), [], 1
    while len(records) < limit:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        try:
            record, at = decoder.raw_decode(text, at)
        except ValueError:
            break
        records.append(record)
    return records


def _parquet_sample(path: Path, shown: Path) -> FileSample:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        scan = f"read_parquet({sql_string(str(path))})"
        relation = con.sql(f"SELECT * FROM {scan}")
        typed = list(zip(relation.columns, relation.types, strict=True))
        lists = list(key_value_lists(typed))
        listed = [
            f"{name}.{key}"
            for name in lists
            for (key,) in con.sql(
                f"SELECT DISTINCT k FROM (SELECT unnest(list_transform({ident(name)}, "
                f"lambda p: p.key)) AS k FROM (SELECT * FROM {scan} LIMIT {SAMPLE_ROWS})) "
                "WHERE k IS NOT NULL ORDER BY k"
            ).fetchall()
        ]
        columns = (*relation.columns, *struct_field_paths(typed), *listed)
        # As text in SQL, as the ingest reads them: typed values (zoned timestamps, decimals)
        # never become Python objects, whose conversion needs optional modules (pytz).
        types = {name: str(column_type) for name, column_type in typed}
        texts = ", ".join(
            raw_text("parquet", c, types.get(c), as_json=False, key_value_lists=lists)
            for c in columns
        )
        rows = con.sql(f"SELECT {texts} FROM {scan} LIMIT {SAMPLE_ROWS}").fetchall()
    except duckdb.Error as error:
        raise StarterError(f"{shown}: not readable as parquet ({error})") from None
    finally:
        con.close()
    values = {
        name: tuple(str(row[i]) for row in rows if row[i] is not None)
        for i, name in enumerate(columns)
    }
    return FileSample(shown, "parquet", "utf-8", ",", columns, values)


def _xlsx_samples(path: Path, shown: Path) -> list[FileSample]:
    """Each sheet's header and first rows, as the ingest reads them (excel.py): a workbook
    of a `Users` and an `Orders` sheet is two sources. A sheet of several that is no table
    (a `Notes` sheet) is sampled without columns, so the checks name it as left out."""
    try:
        sheets, _ = excel.read_sheet(path, None, shown, 0, any_count=True)
    except excel.WorkbookError as error:
        raise StarterError(str(error)) from None
    samples = []
    for sheet in sheets:
        skip, title = 0, ()
        try:
            _, rows = excel.read_sheet(path, sheet, shown, SAMPLE_ROWS + 1)
            skip = excel.title_rows(rows)
            title = tuple(
                str(value) for row in rows[:skip] for value, _ in row if value is not None
            )
            columns = excel.sheet_columns(rows, shown, ".", skip)
        except excel.WorkbookError as error:
            if len(sheets) == 1:
                raise StarterError(str(error)) from None
            columns = {}
        kept, totals = _without_totals_rows(list(zip(*columns.values(), strict=True)))
        columns = {name: tuple(row[i] for row in kept) for i, name in enumerate(columns)}
        values, missing = _without_missing_texts(
            {name: tuple(v for v in texts if v) for name, texts in columns.items()}
        )
        samples.append(
            FileSample(
                shown,
                "xlsx",
                "utf-8",
                ",",
                tuple(columns),
                values,
                sheets,
                sheet=sheet,
                skip_lines=skip,
                title=title,
                missing_texts=missing,
                totals_rows=totals,
            )
        )
    return samples


def data_files(paths: Sequence[Path]) -> list[ExportFile]:
    """The files named, and the export files (csv, jsonl, json, parquet, xlsx, gzip'd) in folders
    (dot folders left out); a zip archive, named or in a folder, stands for its members."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and (format_from_name(p) or p.suffix.lower() == ZIP_SUFFIX)
                and not archives.is_hidden(p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise StarterError(f"{path}: no such file or folder")
    files = [one for path in found for one in _export_files(path.resolve())]
    if not files:
        raise StarterError(
            "no csv, jsonl, json, parquet or xlsx file (nor a .gz or .zip of them) in "
            + ", ".join(map(str, paths))
        )
    return files


def _export_files(path: Path) -> list[ExportFile]:
    """A file, or the export files of a zip archive (not an .xlsx workbook, also a zip)."""
    if format_from_name(path) == XLSX or not archives.is_zip(path):
        return [ExportFile(path)]
    try:
        members = archives.archive_members(path, None)
    except SourceFileError as error:
        raise StarterError(str(error)) from None
    return [
        ExportFile(path / m, path, m, len(members)) for m in members if format_from_name(Path(m))
    ]


def write_starter(
    paths: Sequence[Path], out: Path | None, name: str | None, progress: bool = False
) -> tuple[Path, Starter]:
    """Sample the export files under `paths` and write the starter config to `out` (default:
    dataset.yaml in the one folder given, else beside the files); never over a file. With
    `progress`, a bar counts the files sampled when there are PROGRESS_FROM or more."""
    files = data_files(paths)
    if out is None:
        folders = [p for p in paths if p.is_dir()]
        parent = (
            folders[0]
            if len(folders) == 1
            else Path(os.path.commonpath([(f.archive or f.path).parent for f in files]))
        )
        out = parent / "dataset.yaml"
    out = out.resolve()
    if out.exists():
        raise StarterError(f"{out} exists; move it away or name another file with --out")
    outside = [f.path for f in files if not f.path.is_relative_to(out.parent)]
    if outside:
        raise StarterError(
            f"{outside[0]} is outside {out.parent}, the config's folder, where the ingest reads "
            "from; write the config higher up with --out"
        )
    samples = sample_files(files, progress and len(files) >= PROGRESS_FROM)
    starter = starter_config(samples, out.parent, name or out.parent.name, str(out))
    copies = [
        f"{copy.path.relative_to(out.parent)}: the same bytes as "
        f"{original.path.relative_to(out.parent)} (a second download?): its rows repeat that "
        "file's, and the ingest quarantines them as duplicate_event; delete it"
        for original, copy in _copies(files)
    ]
    starter = replace(starter, checks=(*starter.checks, *copies))
    out.write_text(starter.text, encoding="utf-8")
    return out, starter


def _copies(files: Sequence[ExportFile]) -> list[tuple[ExportFile, ExportFile]]:
    """(original, copy) for each file on disk with the same bytes as another (I/O): the
    original is the one of the shortest name (`orders.csv` before `orders (1).csv`). Only
    files of one size are hashed."""
    by_size: dict[int, list[ExportFile]] = {}
    for file in files:
        if file.archive is None and (size := file.path.stat().st_size) > 0:
            by_size.setdefault(size, []).append(file)
    pairs = []
    for same_size in (group for group in by_size.values() if len(group) > 1):
        by_digest: dict[str, list[ExportFile]] = {}
        for file in same_size:
            by_digest.setdefault(sha256_of(file.path), []).append(file)
        for same in by_digest.values():
            original, *others = sorted(same, key=lambda f: (len(f.path.name), f.path.name))
            pairs += [(original, copy) for copy in others]
    return pairs


def sample_files(files: Sequence[ExportFile], progress: bool = False) -> list[FileSample]:
    """Sample every export file (I/O): header, encoding, delimiter, a few values a column."""
    samples = []
    formats = {file: format_from_name(file.path) for file in files}
    json_files = sum(f not in ("csv", "parquet", "xlsx", None) for f in formats.values())
    scan_rows = max(SAMPLE_ROWS, KEY_SCAN_ROWS // max(json_files, 1))
    for file in tqdm(files, desc="sampling", unit="file", disable=not progress):
        file_format = formats[file]
        if file_format is None:
            raise StarterError(
                f"{file.shown}: cannot tell the format (csv, jsonl, json, parquet, xlsx)"
            )
        try:
            read = _file_samples(file, file_format, scan_rows)
        except StarterError as error:
            why = str(error).removeprefix(f"{file.shown}: ").removeprefix(f"{file.path}: ")
            read = [_left_out(file, file_format, f"{why}; {STOPS_THE_INGEST}")]
        for sample in read:
            if file_format != "jsonl":
                sample = _with_json_text_fields(sample)
            samples.append(replace(sample, archive=file.archive, archive_files=file.archive_files))
    return samples


def _file_samples(file: ExportFile, file_format: str, scan_rows: int) -> list[FileSample]:
    """One file's samples (a workbook's: one a sheet); an empty file's says so."""
    head = None if file_format in ("parquet", XLSX) else _head(file)
    empty = not file_head(file.archive or file.path, file.member) if head is None else not head
    if empty:
        return [
            _left_out(
                file, file_format, f"empty (no bytes, not even a header line); {STOPS_THE_INGEST}"
            )
        ]
    if head is None:
        with _on_disk(file) as local:
            if file_format == "parquet":
                return [_parquet_sample(local, file.path)]
            return _xlsx_samples(local, file.path)
    if file_format == "csv":
        return [_csv_sample(file.path, head, _tail(file))]
    return [_json_sample(file.path, head, scan_rows)]


def _tail(file: ExportFile) -> bytes | None:
    """The last TAIL_BYTES of a plain file on disk longer than SAMPLE_BYTES (a footer's
    place); None for a short, compressed or archived one (the head holds a short file)."""
    if file.archive is not None or file.path.stat().st_size <= SAMPLE_BYTES:
        return None
    if is_gzipped(file_head(file.path), file.shown):
        return None
    with file.path.open("rb") as handle:
        handle.seek(-TAIL_BYTES, os.SEEK_END)
        return handle.read()


def _left_out(file: ExportFile, file_format: str, why: str) -> FileSample:
    """The sample of a file that can be no source, and why."""
    return FileSample(file.path, file_format, "utf-8", ",", (), left_out=why)


def _with_json_text_fields(sample: FileSample) -> FileSample:
    """The sample with the keys of its text columns that hold JSON objects (a warehouse
    export's `properties`) as dotted columns, which the ingest reads by path."""
    values = dict(sample.values)
    added: list[str] = []
    for column in sample.columns:
        records = _json_objects(sample.values.get(column, ()))
        if records is None:
            continue
        for key, texts in _json_columns(records).items():
            name = f"{column}.{key}"
            if name not in values:
                added.append(name)
                values[name] = texts
    if not added:
        return sample
    return replace(sample, columns=(*sample.columns, *added), values=values)


def _json_objects(texts: Sequence[str]) -> list[Mapping] | None:
    """The texts that are JSON objects, when at least half are (the ingest quarantines the
    others, named), else None."""
    records = []
    for text in texts:
        if text.startswith("{"):
            try:
                records.append(json.loads(text))
            except ValueError:
                continue
    objects = [r for r in records if isinstance(r, Mapping)]
    return objects if objects and 2 * len(objects) >= len(texts) else None


@contextlib.contextmanager
def _on_disk(file: ExportFile) -> Iterator[Path]:
    """The file's path; an archive member's extracted copy (Parquet and workbooks are read
    by seeking) in a temporary folder, removed after."""
    if file.archive is None:
        yield file.path
        return
    assert file.member is not None
    with tempfile.TemporaryDirectory(prefix="usagecast-starter-") as folder:
        target = Path(folder) / Path(file.member).name
        try:
            archives.extract_member(file.archive, file.member, target)
        except SourceFileError as error:
            raise StarterError(str(error)) from None
        yield target


def _is_number(value: str) -> bool:
    """A plain decimal number under either fraction separator, digit groups allowed."""
    value = blank_groups(value)
    grouped = (pattern for groups in GROUPED_NUMBERS.values() for _, pattern in groups)
    return any(pattern.fullmatch(value) for pattern in (POINT_NUMBER, COMMA_NUMBER, *grouped))


def _is_amount(value: str) -> bool:
    """A plain decimal number (_is_number), or one beside a currency symbol or code, or
    either of them negative in parentheses or with a trailing minus (_minus_first)."""
    return _is_unsigned_amount(value) or _minus_first(value) is not None


def _is_unsigned_amount(value: str) -> bool:
    """A plain decimal number (_is_number), or one beside a currency symbol or code."""
    return _is_number(value) or _amount_symbol(value) is not None


def _minus_first(value: str) -> tuple[str, str] | None:
    """How a negative amount written otherwise than with a leading minus is written
    (config.NEGATIVE_STYLES), and the amount with a leading minus: accounting's `(49.00)` and
    `($1,200.00)`, SAP's `49.00-` -> `-49.00`, `-$1,200.00`, `-49.00`; None for other text."""
    wrapped = {
        "parentheses": value[1:-1] if value[:1] == "(" and value[-1:] == ")" else "",
        "trailing_minus": value[:-1] if value[-1:] == "-" else "",
    }
    for style, amount in wrapped.items():
        if amount[:1] not in ("", "+", "-") and _is_unsigned_amount(amount):
            return style, f"-{amount}"
    return None


def _amount_symbol(value: str) -> str | None:
    """The currency symbol (CURRENCY_SYMBOLS) or code a number carries before or after it
    (`-$1,200.00`, `49,00 €`, `49.00 USD`), as the ingest reads it (number_pattern); None for
    a plain number or any other text."""
    codes = [c for c in CURRENCY_CODE.findall(value) if c not in CURRENCY_SYMBOLS]
    for symbol in (*CURRENCY_SYMBOLS, *codes):
        if symbol in value and _is_number(_without_symbol(value, symbol)):
            return symbol
    return None


def _without_symbol(value: str, symbol: str) -> str:
    """The number a currency amount writes, when it reads with `symbol` (number_pattern):
    `-$ 1,200.00` -> `-1,200.00`; else text that is no number."""
    value = blank_groups(value)
    readable = any(
        re.fullmatch(number_pattern(decimal, thousands, symbol), value)
        for decimal in (".", ",")
        for thousands in (None, *(group for group, _ in GROUPED_NUMBERS[decimal]))
    )
    if not readable:
        return ""
    number = value.replace(symbol, "", 1).strip()
    return number[0] + number[2:] if number[:1] in ("+", "-") and number[1:2] == " " else number


def _number_format(sample: FileSample, columns: Sequence[str]) -> NumberFormat:
    """How the sampled numbers of `columns` read (NumberFormat): a comma is the fraction
    separator when some number has one, and in a comma-delimited file only when some number
    reads with it alone (`"12,50"`, quoted, as a Spanish or French spreadsheet saves CSV;
    `1,234` could be a thousand); the currency symbols are those the numbers carry
    (_amount_symbol); negatives are written as the first one written otherwise than with a
    minus is (_minus_first)."""
    numbers = [v for column in columns for v in sample.values.get(column, ())]
    written = [(v, _minus_first(v)) for v in numbers]
    negative = next(((v, found[0]) for v, found in written if found is not None), None)
    numbers = [v if found is None else found[1] for v, found in written]
    carried = [(v, _amount_symbol(v)) for v in numbers]
    symbols = tuple(sorted({symbol for _, symbol in carried if symbol is not None}))
    numbers = [v if symbol is None else _without_symbol(v, symbol) for v, symbol in carried]
    comma = any(
        "," in v
        and _reads_with_decimal_comma(v)
        and (sample.delimiter != "," or not _reads_with_decimal_point(v))
        for v in numbers
    )
    decimal = "," if comma else "."
    thousands, grouped = _grouped_number(numbers, decimal) or (None, None)
    if negative is None:
        return NumberFormat(decimal, thousands, symbols, grouped)
    return NumberFormat(decimal, thousands, symbols, grouped, negative[1], negative[0])


def _put_attributes(
    sample: FileSample, attributes: dict[str, dict], source: dict, checks: list[str]
) -> None:
    """A users or items source's `attributes` (when any), and the number format their numeric
    columns read with."""
    numeric = [a["column"] for a in attributes.values() if a["dtype"] == "numeric"]
    _set_number_format(sample, numeric, source, checks)
    if attributes:
        source["attributes"] = attributes


def _set_number_format(
    sample: FileSample, columns: Sequence[str], source: dict, checks: list[str]
) -> None:
    """The source's `decimal`, `thousands`, `currency_symbol` and `negatives` for the numbers
    of `columns` (_number_format)."""
    found = _number_format(sample, columns)
    if found.decimal != ".":
        source["decimal"] = found.decimal
    if found.thousands is not None:
        source["thousands"] = found.thousands
        checks.append(
            f"{source['files']}: {', '.join(columns)}: numbers with digit groups such as "
            f"{found.grouped}: read with thousands {found.thousands!r}"
        )
    if found.negatives != LEADING_MINUS:
        source["negatives"] = found.negatives
        checks.append(
            f"{source['files']}: {', '.join(columns)}: negative numbers written as "
            f"{found.negative}: read with negatives {found.negatives!r} (a minus sign still "
            "reads)"
        )
    if found.currency_symbol is not None:
        source["currency_symbol"] = found.currency_symbol
        checks.append(
            f"{source['files']}: {', '.join(columns)}: amounts written with "
            f"{found.currency_symbol!r}: read as numbers with currency_symbol "
            f"{found.currency_symbol!r} (an amount with another symbol is quarantined as "
            "unparseable_value)"
        )
    elif found.symbols:
        checks.append(
            f"{source['files']}: {', '.join(columns)}: amounts in {', '.join(found.symbols)} "
            "(sampled): a source reads one currency_symbol; set it to keep that currency's rows "
            "(the others are quarantined as unparseable_value), or convert them to one first"
        )


def _fits(value: str, fmt: str) -> bool:
    """Whether a value reads with one of usagecast's formats or a strptime pattern."""
    if fmt == "iso":
        return re.fullmatch(ISO_PATTERN, value) is not None
    if fmt in EPOCH_DIGITS.values():
        digits = value.split(".")[0].lstrip("-")
        return _is_number(value) and EPOCH_DIGITS.get(len(digits)) == fmt
    if fmt == EXCEL_DAYS:
        first, last = EXCEL_DAYS_PROPOSED
        return POINT_NUMBER.fullmatch(value) is not None and first <= float(value) < last
    return _parses(value, fmt)


def timestamp_formats(values: Sequence[str]) -> tuple[list[str], str | None]:
    """The formats (usagecast's names or strptime patterns, tried in order) that together
    read every sampled value, and a check for the user when the samples cannot decide."""
    if not values:
        return ["iso"], "no value sampled: the format is a guess"
    values = values[:MAX_FORMAT_VALUES]
    candidates = ["iso", *EPOCH_DIGITS.values(), EXCEL_DAYS, *STRPTIME_CANDIDATES]
    formats: list[str] = []
    left = list(values)
    while left and len(formats) < 3:
        read = {fmt: [v for v in left if _fits(v, fmt)] for fmt in candidates}
        best = max(candidates, key=lambda fmt: len(read[fmt]))
        if not read[best]:
            break
        formats.append(best)
        done = set(read[best])
        left = [v for v in left if v not in done]
    if not formats:
        return ["iso"], f"no known format fits values like {values[0]!r}: write one"
    epochs = iter(sorted((f for f in formats if f in EPOCH_UNITS), key=EPOCH_UNITS.index))
    formats = [next(epochs) if f in EPOCH_UNITS else f for f in formats]  # smaller unit first
    check = f"values like {left[0]!r} fit none of {formats}: add a format" if left else None
    # Slashed dates are written both ways (US and European); dotted ones day-first only.
    chosen = next((f for f in formats if f.startswith(("%d/%m", "%m/%d"))), None)
    other = chosen and _swapped_day_and_month(chosen)
    if chosen and other and all(_parses(v, other) for v in values if _parses(v, chosen)):
        check = (
            f"values like {values[0]!r} read day-first or month-first: check {chosen!r} "
            f"against {other!r}"
        )
    return formats, check


def _reads_as_times(values: Sequence[str]) -> bool:
    """Every sampled value reads with the formats timestamp_formats proposes: a column of
    times, whether or not the sample tells day-first from month-first."""
    formats, _ = timestamp_formats(values)
    sampled = values[:MAX_FORMAT_VALUES]
    return bool(sampled) and all(any(_fits(v, f) for f in formats) for v in sampled)


def _swapped_day_and_month(fmt: str) -> str:
    """A slashed date's pattern read the other way round: `%d/%m/%Y` <-> `%m/%d/%Y`."""
    if fmt.startswith("%d/%m"):
        return "%m/%d" + fmt.removeprefix("%d/%m")
    return "%d/%m" + fmt.removeprefix("%m/%d")


def _reads_with_decimal_comma(value: str) -> bool:
    """A number with a decimal comma, plain or in digit groups (`9,50`, `1.234,50`,
    `1 234,50`): a file whose every amount is grouped still tells its fraction separator."""
    blank = blank_groups(value)
    return bool(COMMA_NUMBER.fullmatch(blank)) or any(
        pattern.fullmatch(blank) for _, pattern in GROUPED_NUMBERS[","]
    )


def _reads_with_decimal_point(value: str) -> bool:
    """A number with a decimal point, plain or in digit groups (`1,234`, `1,234.50`)."""
    blank = blank_groups(value)
    return bool(POINT_NUMBER.fullmatch(blank)) or any(
        pattern.fullmatch(blank) for _, pattern in GROUPED_NUMBERS["."]
    )


def _grouped_number(numbers: Sequence[str], decimal: str) -> tuple[str, str] | None:
    """The digit-group separator the sampled numbers need, and the first number that needs
    it: one that reads with it and not as a plain number with neither separator (`1,234.50`,
    `1,234,567`, `1 234,50`; `1,234` alone could be a decimal comma and decides nothing)."""
    for group, pattern in GROUPED_NUMBERS[decimal]:
        for value in numbers:
            blank = blank_groups(value)
            if (
                pattern.fullmatch(blank)
                and not POINT_NUMBER.fullmatch(blank)
                and not COMMA_NUMBER.fullmatch(blank)
            ):
                return group, value
    return None


def _parses(value: str, fmt: str) -> bool:
    """Whether `value` reads with strptime pattern `fmt`; %Z as the ingest reads it, a zone
    abbreviation as its offset (validate.zoned_strptime_sql)."""
    if "%Z" in fmt:
        zone = zone_abbreviation(value)
        if zone is None:
            return False
        value, fmt = value.replace(zone, ZONE_ABBREVIATIONS[zone]), fmt.replace("%Z", "%z")
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _zones_read(values: Sequence[str], formats: Sequence[str]) -> str | None:
    """Which zone abbreviations of the sampled times a %Z format reads, as which offsets."""
    if not any("%Z" in f for f in formats):
        return None
    zones = sorted({z for z in map(zone_abbreviation, values) if z is not None})
    if not zones:
        return None
    meant = {"CST": "the US Central zone's", "BST": "British Summer Time's"}
    named = "".join(f"; {z} as {meant[z]}" for z in zones if z in meant)
    offsets = ", ".join(f"{z} {ZONE_ABBREVIATIONS[z]}" for z in zones)
    return f"zone abbreviations read as fixed offsets: {offsets}{named}"


def _zone_column(
    sample: FileSample, read: set[str], times: Sequence[str], formats: Sequence[str]
) -> str | None:
    """An unread column named like a time zone (`Time Zone`, `timezone`, `tz`: a POS or
    payments export's zone of each row) beside times that name no instant themselves (no
    offset, no zone, no epoch); else None. Segment's `context.timezone` beside instants
    is the device's zone, and says nothing of how a time reads."""
    instants = any(f in EPOCH_UNITS or "%z" in f or "%Z" in f for f in formats) or any(
        INSTANT_SUFFIX.search(value) for value in times
    )
    if instants:
        return None
    for column in sample.columns:
        words = name_words(column)
        if column not in read and ("zone" in words or "timezone" in words or words == ["tz"]):
            return column
    return None


def _excel_days_read(formats: Sequence[str]) -> str | None:
    """What excel_days, when proposed, reads the numbers as."""
    if EXCEL_DAYS not in formats:
        return None
    return (
        "numbers read as Excel's serial days (45292 is 2024-01-01; a fraction is the time of "
        "day): a spreadsheet saved its dates without their format"
    )


def _times_by_ending(sample: FileSample, taken: set[str]) -> list[str]:
    """The columns named like a time (`login_at`, or a name of TIMES_BY_VALUE) whose sampled
    values all read as one."""
    found = []
    for column in sample.columns:
        words = name_words(column)
        while words and words[-1] in ZONE_WORDS:
            words.pop()
        values = sample.values.get(column, ())
        named = words and (words[-1] in TIME_ENDINGS or _key(column) in TIMES_BY_VALUE)
        if column not in taken and named and values and _reads_as_times(values):
            found.append(column)
    return found


def _event_time(sample: FileSample, taken: set[str]) -> tuple[str | None, str | None]:
    """(the event time's column, the column of dates only passed over for it): by name
    (TIME_NAMES, then TIME_ENDINGS), but a column of dates only gives way to one named like
    a time whose values hold the time of day (Matomo's `serverDate` and `serverTimestamp`),
    so that events keep their order within a day and no label window shifts by hours."""
    named = _field_matches(sample, TIME_NAMES, taken)
    if named and not _dates_only(sample.values.get(named[0], ())):
        return named[0], None
    candidates = [*named, *(c for c in _times_by_ending(sample, taken) if c not in named)]
    first = next(iter(candidates), None)
    if first is None or not _dates_only(sample.values.get(first, ())):
        return first, None
    timed = next(
        (
            c
            for c in candidates[1:]
            if _reads_as_times(sample.values.get(c, ()))
            and not _dates_only(sample.values.get(c, ()))
        ),
        None,
    )
    return (first, None) if timed is None else (timed, first)


def _dates_only(values: Sequence[str]) -> bool:
    """Every sampled value reads as a time and none holds a time of day or is a number (an
    epoch or Excel's serial day): `2024-03-05`, `05/03/2024`."""
    return (
        bool(values)
        and _reads_as_times(values)
        and all(not TIME_OF_DAY.search(v) and not _is_number(v) for v in values)
    )


def _exposure_event(sample: FileSample) -> tuple[tuple[str, ...], str, str] | None:
    """(event names, experiment field, arm field) of a product-analytics tool's exposure
    events (EXPOSURE_EVENTS) when the file has both their properties (top-level or nested:
    `properties.Experiment name`)."""
    by_key: dict[str, str] = {}
    for column in sample.columns:
        by_key.setdefault(_key(column.rpartition(".")[2]), column)
    for names, experiment, arm in EXPOSURE_EVENTS:
        if experiment in by_key and arm in by_key:
            return names, by_key[experiment], by_key[arm]
    return None


def _with_exposures(columns: dict, event: str, exposure: tuple[tuple[str, ...], str, str]) -> None:
    """Map the exposure events' rows (`event` one of their names) to EXPERIMENT_ASSIGNED with
    the experiment as item_id and the arm as area; the file's other rows keep their mapping."""
    names, experiment, arm = exposure
    is_exposure = f"{ident(event)} IN ({', '.join(map(sql_string, names))})"
    for canonical, read in (
        ("event_type", sql_string(EXPERIMENT_ASSIGNED)),
        ("item_id", ident(experiment)),
        ("area", ident(arm)),
    ):
        mapped = columns.get(canonical)
        otherwise = (
            ""
            if mapped is None
            else f" ELSE {ident(mapped)}"
            if isinstance(mapped, str)
            else f" ELSE ({mapped['expr']})"
        )
        columns[canonical] = {"expr": f"CASE WHEN {is_exposure} THEN {read}{otherwise} END"}


def _exposure_columns(sample: FileSample, taken: set[str]) -> tuple[str, str] | None:
    """(experiment, arm) columns of an experiment platform's exposure log, when the file has
    both (EXPERIMENT_NAMES, ARM_NAMES)."""
    experiment = _find_field(sample, EXPERIMENT_NAMES, taken)
    arm = _find_field(sample, ARM_NAMES, taken | {experiment or ""})
    return None if experiment is None or arm is None else (experiment, arm)


def _holdback_column(sample: FileSample, taken: set[str]) -> str | None:
    """An exposure log's holdback flag (Optimizely's `is_holdback`): its sampled values all
    true/false words or 0/1."""
    for column, values in sample.values.items():
        flags = {value.strip().lower() for value in values}
        if column not in taken and _key(column) in HOLDBACK_NAMES and flags <= TRUTH_WORDS:
            return column
    return None


def _holdback_arm(holdback: str, arm: str) -> str:
    """The arm of a row: HOLDBACK_ARM where the holdback flag is true, else the row's arm."""
    return f"CASE WHEN {_is_true(holdback)} THEN '{HOLDBACK_ARM}' ELSE {ident(arm)} END"


def _is_true(flag: str) -> str:
    """SQL: the flag column's text is one of TRUE_WORDS (`True`, ` t `, `1`)."""
    words = ", ".join(f"'{word}'" for word in TRUE_WORDS)
    return f"lower(trim(CAST({ident(flag)} AS VARCHAR))) IN ({words})"


def _times_by_value(sample: FileSample, taken: set[str]) -> list[str]:
    """The columns, named like no time, whose sampled values all read as times and none as
    a plain number (`first_exposure_utc`: 2024-03-01 10:05:38)."""
    return [
        column
        for column, values in sample.values.items()
        if column not in taken
        and values
        and not any(map(_is_number, values))
        and _reads_as_times(values)
    ]


def _headerless_events_source(
    sample: FileSample, first: Path, source: dict, checks: list[str]
) -> tuple[str, tuple[str, ...]] | None:
    """_events_source for a text table without a header: its roles from its values alone.
    The time is the first column whose values all read as times (not numbers); the event
    type the text column (no ids, no numbers, at most MAX_EVENT_TYPES names) with the fewest
    distinct sampled values; the user id the first other column of ids (whole numbers,
    UUIDs, prefixed ids with a digit, email addresses), one that repeats first; the value
    the first column of decimal numbers."""
    files = _label(source)
    sampled = {c: sample.values.get(c, ()) for c in sample.columns}
    times = [
        c
        for c, vs in sampled.items()
        if vs and not any(map(_is_number, vs)) and _reads_as_times(vs)
    ]
    if not times:
        checks.append(f"{files}: left out: no header line, and no column reads as a time")
        return None
    time = times[0]
    names = [
        c
        for c, vs in sampled.items()
        if c != time
        and vs
        and not any(map(_is_id, vs))
        and not any(map(_is_number, vs))
        and len(set(vs)) <= MAX_EVENT_TYPES
    ]
    event = min(names, key=lambda c: len(set(sampled[c])), default=None)
    ids = [
        c for c, vs in sampled.items() if c not in (time, event) and vs and all(map(_is_id, vs))
    ]
    if not ids:
        checks.append(f"{files}: left out: no header line, and no column reads as a user id")
        return None
    user_id = next((c for c in ids if len(set(sampled[c])) < len(sampled[c])), ids[0])
    columns: dict = {"user_id": user_id, "timestamp": time}
    if event is None:
        source["event_type"] = _event_type_constant(first)
    else:
        columns["event_type"] = event
    value = next(
        (
            c
            for c, vs in sampled.items()
            if c not in columns.values()
            and vs
            and all(POINT_NUMBER.fullmatch(v) for v in vs)
            and any("." in v for v in vs)
        ),
        None,
    )
    if value is not None:
        columns["value"] = value
    source["columns"] = columns
    formats, check = timestamp_formats(sampled[time])
    source["timestamp_formats"] = formats
    roles = ", ".join(f"{k}={v}" for k, v in columns.items())
    checks.append(
        f"{files}: no header line (its first line holds data): columns named column_1.."
        f"column_{len(sample.columns)} in `names:`, roles guessed from the values alone "
        f"({roles}): check each, and rename them in `names:` if you like"
    )
    if check:
        checks.append(f"{files}: {time}: {check}")
    line = _source_line(files, columns, source.get("event_type"), formats)
    return line, tuple(sampled.get(event or "", ()))


def _event_user_attributes(sample: FileSample, taken: set[str]) -> dict[str, dict]:
    """Columns of an events file that describe its user (USER_ATTRIBUTE_NAMES: country,
    platform, os, `device.category`, a first `utm_source`), top-level or nested, as static
    categorical user attributes by name: the ingest keeps each user's first event's value."""
    found: dict[str, dict] = {}
    for column in sample.columns:
        if column in taken or not sample.values.get(column):
            continue
        name = _user_attribute_name(column)
        if name is None:
            continue
        if name not in found and not all(map(_is_number, sample.values[column])):
            found[name] = {"column": column, "kind": "static", "dtype": "categorical"}
    return found


def _user_attribute_name(column: str) -> str | None:
    """The attribute a column describing the user is named for (USER_ATTRIBUTE_NAMES), from
    its last two name parts or its last one: GA4's nested `device.category` and its BigQuery
    export's flattened `device_category`, Mixpanel's `properties.$os` (`os`), GA4's flattened
    `geo_country` (`country`); None when its name is no such thing."""
    parts = column.split(".")
    words = name_words(parts[-1])
    pair, last = _key("".join(parts[-2:])), _key(parts[-1])
    if len(parts) > 1 and pair in USER_ATTRIBUTE_NAMES and last not in USER_ATTRIBUTE_NAMES:
        return _attribute_name("_".join(parts[-2:]))
    for tail in (words, words[-2:], words[-1:]):
        if tail and _key("".join(tail)) in USER_ATTRIBUTE_NAMES:
            return _attribute_name("_".join(tail))
    return None


def _currencies(sample: FileSample) -> list[str]:
    """The distinct codes of a currency column (`Currency`, `currency_code`), upper-cased."""
    for column in sample.columns:
        words = name_words(column)
        values = sample.values.get(column, ())
        if words and "currency" in words[-2:] and values and not any(map(_is_number, values)):
            return sorted({v.upper() for v in values})
    return []


def _hour_of_date(sample: FileSample, time: str, taken: set[str]) -> str | None:
    """When `time` holds only dates, a column named for the hour (HOUR_NAMES: GA's `Hour`)
    holding an hour of the day (0-23) on each of its rows, to read the event time from both;
    else None."""
    values = sample.values.get(time, ())
    if not values or any(TIME_OF_DAY.search(v) for v in values):
        return None
    hour = _find(sample.columns, HOUR_NAMES, taken)
    hours = sample.values.get(hour or "", ())
    if len(hours) != len(values) or not all(HOUR.fullmatch(h) for h in hours):
        return None
    return hour


def _day_of_time_of_day(sample: FileSample, time: str, taken: set[str]) -> str | None:
    """When `time` holds only times of day (`14:23:11`, `2:23 PM`), the column beside it that
    holds only dates (a `Date`, `day` or `*_date` first), to read the event time from both;
    else None."""
    values = sample.values.get(time, ())
    if not values or not all(TIME_OF_DAY.fullmatch(v) for v in values):
        return None
    dated = [
        column
        for column in sample.columns
        if column not in taken
        and "." not in column
        and len(sample.values.get(column, ())) == len(values)
        and _dates_only(sample.values[column])
    ]
    named = [c for c in dated if {"date", "day"} & set(name_words(c))]
    return next(iter(named or dated), None)


def _is_users_file(sample: FileSample) -> bool:
    """A signup-like column, and a users-like file name or else a row per user: no event
    type column and no sampled user id twice (an orders export has a `Created at` too); never
    a file named like events (EVENT_FILE_WORDS)."""
    taken: set[str] = set()
    name = _table_name(sample).lower()
    if any(word in name for word in EVENT_FILE_WORDS):
        return False
    named = any(word in name for word in USERS_FILE_WORDS)
    has_signup = _find_field(sample, SIGNUP_NAMES, taken) is not None
    has_event = _find_field(sample, EVENT_NAMES, taken) is not None
    ids = sample.values.get(next(iter(_user_id_fields(sample)), ""), ())
    return has_signup and (named or (not has_event and len(set(ids)) == len(ids)))


def _table_name(sample: FileSample) -> str:
    """The file's name without extensions, and its sheet's when it is a workbook's
    (`export Customers`): what says a file is a users table."""
    return f"{sample.path.name.split('.')[0]} {sample.sheet or ''}".strip()


def _signupless_users_file(sample: FileSample) -> bool:
    """A users table without a signup time (Segment's warehouse `users`: an id, the last
    identify's `received_at` and traits): named so (`users.csv`, `customers_export.csv`), no
    event-type column, no sampled id twice. Read as events, each user would get one event at
    export time, keyed by whatever id column it has."""
    named = any(
        bool(words) and words[0].removesuffix("s") in USERS_FILE_WORDS
        for words in map(name_words, _table_name(sample).split(" "))
    )
    id_column = _find(sample.columns, (*USER_ID_NAMES, "id"), set())
    ids = sample.values.get(id_column or "", ())
    return (
        named
        and bool(ids)
        and len(set(ids)) == len(ids)
        and _find_field(sample, EVENT_NAMES, set()) is None
        and _find_field(sample, SIGNUP_NAMES, set()) is None
    )


def _attribute(
    sample: FileSample,
    column: str,
    formats: list[str],
    dated: bool = True,
    versioned: bool = True,
) -> tuple[dict, str]:
    """An attribute's config and its comment: dtype from the values, kind from the name. In a
    table without dates (`dated` False: a users table without signup times) every value is
    as of the export, so a snapshot, but for a fixed trait's (TRAIT_WORDS); in one row per
    user (`versioned` False), a state (STATE_WORDS) is today's, so a snapshot."""
    values = sample.values.get(column, ())
    words = name_words(column)
    if values and all(_is_amount(v) for v in values) and not set(words) & CODE_WORDS:
        dtype = "numeric"
    elif values and all(
        re.fullmatch(ISO_PATTERN, v) or any(_parses(v, f) for f in formats if "%" in f)
        for v in values
    ):
        dtype = "timestamp"
    else:
        dtype = "categorical"
    snapshot = any(word in SNAPSHOT_WORDS for word in words)
    why = "its name reads as a value at export time" if snapshot else "known from signup on?"
    if not versioned and not snapshot and any(word in STATE_WORDS for word in words):
        snapshot, why = True, "its name reads as a state that changes: today's, at export time"
    if not dated and not snapshot:
        snapshot = not any(word in TRAIT_WORDS for word in words)
        why = "a value at export time" if snapshot else "a fixed trait, known from signup on?"
    kind = "snapshot" if snapshot else "static"
    return {"column": column, "kind": kind, "dtype": dtype}, why


def _attribute_name(column: str) -> str:
    name = "_".join(name_words(column)) or "attribute"
    return name if name[0].isalpha() else f"a_{name}"


def _event_type_constant(path: Path) -> str:
    """The file name's stem in capitals, accents dropped, singular: `logins.csv` -> LOGIN,
    Segment's `identifies` -> IDENTIFY, `Bestellungen.csv` -> BESTELLUNG, `Käufe.csv` ->
    KAUFE. A file's numbering or date is not its kind: `orders_000.csv`,
    `orders-2024-03-05.csv`, Shopify's `orders_export_1.csv` and an API's saved
    `orders_page_001.json` are ORDER events,
    `purchases/2024-03-05.csv` PURCHASE events (the folder's name, when the file's is only
    a date or a number)."""
    stem = TRAILING_NUMBERING.sub("", path.name.split(".")[0])
    if not re.search("[A-Za-z]", stem):
        stem = TRAILING_NUMBERING.sub("", path.parent.name)
    plain = unicodedata.normalize("NFKD", stem.replace("ß", "ss")).encode("ascii", "ignore")
    word = re.sub(r"[^A-Za-z0-9]+", "_", plain.decode()).strip("_").upper() or "EVENT"
    word = word if word[0].isalpha() else f"E_{word}"
    if word.endswith("IES") and len(word) > 4:
        return f"{word[:-3]}Y"
    if word.endswith("UNGEN"):  # German: Bestellungen, Zahlungen
        return word[:-2]
    return word[:-1] if word.endswith("S") and len(word) > 3 else word


def _suffix(path: Path) -> str:
    """`.csv`, or `.csv.gz` for a compressed file."""
    return "".join(
        path.suffixes[-2:] if path.suffix.lower() == GZIP_SUFFIX else path.suffixes[-1:]
    )


def _sources_of(
    group: Sequence[FileSample], base: Path, all_samples: Sequence[FileSample]
) -> list[tuple[list[FileSample], dict[str, str]]]:
    """(files, their `files:` and `members:` keys) per source: a glob over the group's
    folder when the group is every such file there, else each file a source of its own.
    An archive's members take the archive as `files:` and the glob or member as `members:`,
    which is left out when they are all of the archive's files."""
    first = group[0].path
    suffix = _suffix(first)
    folder = _folder_pattern(first.parent, base)
    matching = {s.path for s in all_samples if _folder_pattern(s.path.parent, base) == folder}
    if len(group) > 1 and {p for p in matching if p.name.endswith(suffix)} == {
        s.path for s in group
    }:
        where = _location(folder / f"*{suffix}", group[0].archive, base)
        archives_files = {s.archive: s.archive_files for s in group if s.archive is not None}
        if archives_files and len(group) == sum(archives_files.values()):
            where.pop("members")
        return [(list(group), where)]
    named = {p for p in matching if p.name == first.name}
    if len(group) > 1 and named == {s.path for s in group} and group[0].archive is None:
        # One file name in every partition folder (`2024-03-01/purchases.csv`, ...) beside
        # others (`page_views.csv`): a glob on that name.
        return [(list(group), _location(folder / first.name, None, base))]
    return [([s], _location(s.path, s.archive, base)) for s in group]


def _location(path: Path, archive: Path | None, base: Path) -> dict[str, str]:
    """`files:` (and `members:`, for a path inside a zip archive) naming `path`, which may
    be a pattern (`exports/*.zip/events/*.csv`: the archive's part is as deep as `archive`)."""
    parts = path.relative_to(base).parts
    if archive is None:
        return {"files": "/".join(parts)}
    depth = len(archive.relative_to(base).parts)
    return {"files": "/".join(parts[:depth]), "members": "/".join(parts[depth:])}


def _label(source: Mapping) -> str:
    """A source as the checks name it: its files, `export.zip:members` for members, and a
    workbook's sheet (`shop.xlsx[Orders]`)."""
    members = source.get("members")
    files = source["files"]
    label = files if members is None else archives.member_name(files, members)
    return label if source.get("sheet") is None else f"{label}[{source['sheet']}]"


def _roles(sample: FileSample) -> tuple:
    """The columns a sample's roles fall on (its grouping signature)."""
    taken: set[str] = set()
    return (
        _is_users_file(sample),
        _find(sample.columns, (*USER_ID_NAMES, "id"), taken),
        _find_field(sample, TIME_NAMES, taken),
        _find_field(sample, EVENT_NAMES, taken),
        _find_field(sample, SIGNUP_NAMES, taken),
    )


def _folder_pattern(folder: Path, base: Path) -> Path:
    """The folder with each partition part (a date, an hour, a number, a `key=value`) as
    `*`: the folders of one export split by day (Segment's `segment-logs/<id>/<date>/`,
    a warehouse's `date=2024-01-02/`) share it."""
    if not folder.is_relative_to(base):
        return folder
    return base.joinpath(*map(_part_pattern, folder.relative_to(base).parts))


def _part_pattern(part: str) -> str:
    """`*` for a partition folder, `*.zip` for an archive named by its date or number
    (`2024-03.zip`, `export_2024-03-01.zip`: monthly exports), else the part itself."""
    if PARTITION_PART.fullmatch(part):
        return "*"
    stem, zipped, _ = part.rpartition(ZIP_SUFFIX)
    if zipped and DATED_NAME.search(stem):
        return f"*{ZIP_SUFFIX}"
    return part


def _kind(sample: FileSample) -> str | None:
    """What kind of event a file without an event-type column holds, by its name without
    digits: `page_views.csv` and `purchases.csv` are two sources (each its own constant),
    `hour_00.csv` and `hour_01.csv` one. None for a file with an event-type column."""
    if _find_field(sample, EVENT_NAMES, set()) is not None:
        return None
    return re.sub(r"[0-9]+", "", _event_type_constant(sample.path))


def _groups(samples: Sequence[FileSample], base: Path) -> list[list[FileSample]]:
    """Files of one folder (partition folders alike: _folder_pattern), format, encoding,
    delimiter and sheet whose roles fall on the same columns (other columns may come and go
    between them: the ingest reads a column some files lack as missing there)."""
    groups: dict[tuple, list[FileSample]] = {}
    for sample in samples:
        read_as = (
            sample.format,
            sample.encoding,
            sample.delimiter,
            sample.sheet,
            sample.header,
            sample.skip_lines,
            sample.footer_lines,
        )
        folder = _folder_pattern(sample.path.parent, base)
        key = (
            folder,
            _suffix(sample.path),
            *read_as,
            sample.records,
            _roles(sample),
            _kind(sample),
        )
        groups.setdefault(key, []).append(sample)
    return list(groups.values())


def _repeated_columns(group: Sequence[FileSample]) -> list[str]:
    """Column names a file of the group's header gives more than once."""
    return sorted(
        {name for sample in group for name in sample.columns if sample.columns.count(name) > 1}
    )


def _merged(group: Sequence[FileSample]) -> FileSample:
    """One sample of a group: every column any file has (in order of appearance), and the
    values and distinct names of all; the lists inside JSON records merged by their path."""
    values: dict[str, tuple[str, ...]] = {}
    names: dict[str, dict[str, None]] = {}
    for sample in group:
        for column in sample.columns:
            values[column] = values.get(column, ()) + sample.values.get(column, ())
        for key, texts in sample.names.items():
            names.setdefault(key, {}).update(dict.fromkeys(texts))
    lists: dict[str | None, list[FileSample]] = {}
    for elements in (e for sample in group for e in sample.elements):
        lists.setdefault(elements.records, []).append(elements)
    return replace(
        group[0],
        columns=tuple(values),
        values=values,
        names={key: tuple(texts) for key, texts in names.items()},
        wrapped={k: v for sample in group for k, v in sample.wrapped.items()},
        missing_texts=tuple(dict.fromkeys(t for sample in group for t in sample.missing_texts)),
        header_repeats=sum(sample.header_repeats for sample in group),
        totals_rows=sum(sample.totals_rows for sample in group),
        short_rows=sum(sample.short_rows for sample in group),
        record_arrays=tuple(dict.fromkeys(key for s in group for key in s.record_arrays)),
        elements=tuple(_merged(same) for same in lists.values()),
    )


def _users_id_column(
    sample: FileSample, keyed_by_email: bool, event_shapes: frozenset[str] = frozenset()
) -> str | None:
    """A users table's id column by name (its email when the events are keyed by email),
    unless its ids have none of `event_shapes` (the shapes of the events files' user ids)
    and another column named like an id, unique in the sample, has one: the id the events
    carry (an identity provider's uid beside the email: Firebase's `localId`)."""
    names = (*EMAIL_NAMES,) if keyed_by_email else ()
    found = _matches(sample.columns, (*names, *USER_ID_NAMES, "id", *EMAIL_NAMES), set())
    named = next(iter(found), None)
    if named is None or not event_shapes:
        return named
    if _ids_shape(sample.values.get(named, ())) in event_shapes:
        return named
    id_like = [c for c in sample.columns if "." not in c and name_words(c)[-1:] == ["id"]]
    for column in dict.fromkeys([*found[1:], *id_like]):
        values = [v.strip() for v in sample.values.get(column, ())]
        if values and len(set(values)) == len(values) and _ids_shape(values) in event_shapes:
            return column
    return named


def _users_source(
    sample: FileSample,
    source: dict,
    checks: list[str],
    keyed_by_email: bool,
    event_shapes: frozenset[str] = frozenset(),
) -> tuple[str, list[dict]] | None:
    """Fill in a users table's columns, formats and attributes; return its summary line and
    the events sources it also gives, or None without an id column. When the events are keyed
    by email (Shopify's orders), so is the users table if it has an email column (its
    customer id would match no event). A table of versions (ids that repeat, a valid-from
    column) gives the events source of its changes, when a column is named like what changes
    (`plan`); a time column that dates a change (HubSpot's `Became a Customer Date`,
    _dated_change) gives a source of its own (_change_sources), not an attribute."""
    files = _label(source)
    user_id = _users_id_column(sample, keyed_by_email, event_shapes)
    named = _users_id_column(sample, keyed_by_email)
    if user_id != named:
        checks.append(
            f"{files}: user id {user_id}, not {named}: its ids are shaped as the events' are "
            f"({_ids_shape(sample.values.get(user_id, ()))})"
        )
    if keyed_by_email and _key(user_id or "") in EMAIL_NAMES:
        checks.append(f"{files}: keyed by {user_id}, as the events are by email")
    if user_id is None:
        checks.append(f"{files}: no user id column found; users table left out")
        return None
    _scientific_ids(sample, user_id, files, checks)
    ids = [v.strip() for v in sample.values.get(user_id, ())]
    repeated = next((v for v in ids if ids.count(v) > 1), None)
    signup = _find_field(sample, SIGNUP_NAMES, {user_id})
    valid_from = None
    if repeated is not None:
        valid_from = _find_field(sample, VALID_FROM_NAMES, {user_id, signup or ""})
    if valid_from is not None:
        checks.append(
            f"{files}: {user_id} repeats, {valid_from} dates each row: a table of versions; "
            "each user's earliest version is theirs (its attributes known from signup on), the "
            "later ones are counted as later_version"
        )
    elif repeated is not None:
        checks.append(
            f"{files}: {user_id} {repeated} is on {ids.count(repeated)} of the sampled rows: the "
            "ingest keeps a user's first valid row (in file order) and quarantines the others "
            "as duplicate_user (a refusal follows when fewer than half the rows are kept); a "
            "history of changes is an events source read by a `last` feature "
            '(docs/reference/data.md, "A history of attributes")'
        )
    formats, check = timestamp_formats(sample.values.get(signup or "", ()))
    source["columns"] = {"user_id": _id_field(user_id, files, checks)}
    if signup is not None:
        source["columns"]["signup_time"] = signup
    else:
        checks.append(
            f"{files}: a users table without a signup time: each user signs up at their first "
            "event, and one without events is counted as user_without_events; its attributes "
            "are as of the export (snapshot), but for those named like a fixed trait "
            f"({', '.join(TRAIT_WORDS[:4])}, ...: static, known from signup on)"
        )
    if valid_from is not None:
        source["columns"]["valid_from"] = valid_from
        own = timestamp_formats(sample.values.get(valid_from, ()))[0]
        formats += [fmt for fmt in own if fmt not in formats]
    source["timestamp_formats"] = formats
    if check and signup is not None:
        checks.append(f"{files}: {signup}: {check}")
    attributes, notes = {}, []
    objects = {c.rsplit(".", 1)[0] for c in sample.columns if "." in c}  # read by their paths
    changes = _change_sources(sample, source, {user_id, signup or "", valid_from or ""}, checks)
    mapped = (
        *(user_id, signup, valid_from, *objects, *sample.record_arrays),
        *(c["columns"]["timestamp"] for c in changes),
    )
    if valid_from is not None:
        bookkeeping = [c for c in sample.columns if _key(c) in VERSION_COLUMN_NAMES]
        mapped += tuple(bookkeeping)
        if bookkeeping:
            checks.append(
                f"{files}: not attributes: {', '.join(bookkeeping)} (when a version ended is "
                "known only at the next change)"
            )
    unnamed = [c for c in sample.columns if not c and c not in mapped]
    if unnamed:  # no config can name it (a header ending with a delimiter)
        shown = ", ".join(_unmapped_name(c, c == sample.columns[-1]) for c in unnamed)
        checks.append(f"{files}: not an attribute: {shown}")
    secrets = [c for c in sample.columns if set(name_words(c)) & set(CREDENTIAL_WORDS)]
    if secrets:
        mapped += tuple(secrets)
        checks.append(
            f"{files}: left out: {', '.join(secrets)}, credentials: never an attribute, so the "
            "event store keeps no secret"
        )
    for column in (c for c in sample.columns if c and c not in mapped):
        attribute, why = _attribute(
            sample, column, formats, dated=signup is not None, versioned=valid_from is not None
        )
        short = _attribute_name(column.rsplit(".", 1)[-1])  # `$properties.$email` -> email
        attributes[short if short not in attributes else _attribute_name(column)] = attribute
        notes.append(f"{column} as {attribute['kind']} ({why})")
        if attribute["dtype"] == "timestamp":  # read with the source's formats too
            own = timestamp_formats(sample.values.get(column, ()))[0]
            formats += [fmt for fmt in own if fmt not in formats]
    _put_attributes(sample, attributes, source, checks)
    if attributes:
        checks.append(
            f"{files}: attributes {'; '.join(notes)}: a snapshot (read at export time) is never "
            "a feature"
        )
    signed_up = signup or "each user's first event"
    line = f"users: {files}: user_id={user_id}, signup_time={signed_up}"
    versions = None if valid_from is None else _versions_source(sample, source, valid_from, checks)
    return line, [*([versions] if versions is not None else []), *changes]


def _change_sources(
    sample: FileSample, users: dict, taken: set[str], checks: list[str]
) -> list[dict]:
    """An events source over a users file per time column that dates a change of the user
    (_dated_change): HubSpot's `Became a Customer Date` gives BECAME_CUSTOMER events, a
    `Churned At` in customers.csv CUSTOMER_CHURNED ones; a user without one holds none."""
    files = _label(users)
    constant = _event_type_constant(sample.path)
    found = []
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        change = _dated_change(column)
        values = sample.values.get(column, ())
        if change is None or not _all_times(values):
            continue
        kind, name = change
        event_type = name if kind == "became" else f"{constant}_{name}"
        found.append(_dated_source(users, event_type, column, values))
        checks.append(
            f"{files}: {column} dates a change of each user: {event_type} events of their own, "
            "not an attribute (a user without one holds none: counted as no_event_time)"
        )
    return found


def _dated_source(read_from: Mapping, event_type: str, column: str, values: Sequence[str]) -> dict:
    """An events source of `event_type` over `read_from`'s files, its user id, at `column`'s
    time, a blank one no event (`blank_time: no_event`)."""
    dated = {key: read_from[key] for key in READ_KEYS if key in read_from}
    dated["event_type"] = event_type
    dated["columns"] = {"user_id": read_from["columns"]["user_id"], "timestamp": column}
    dated["blank_time"] = "no_event"
    dated["timestamp_formats"] = timestamp_formats(values)[0]
    if {"utc", "gmt"} & set(name_words(column)):
        dated["timezone"] = "UTC"
    return dated


# Sampled rows from which a category column with a distinct value on every row reads as a
# text per item (a title), not a category.
MIN_ROWS_FOR_TEXT = 10
# The share of an items file's sampled rows that may repeat a key (rows exported twice,
# quarantined by the ingest as duplicate_item) for the file to still read as a catalogue.
MAX_REPEATED_KEY_SHARE = 0.05


def _unmapped_name(column: str, last: bool = False, path: Path | None = None) -> str:
    """A column left unmapped as the checks name it: pandas' saved indexes, a line's
    trailing delimiter (`last`: the file's last column) and the key of a partition folder
    above the file at `path` (Spark's and Hive's `dt=2024-02-01/`) say what they are."""
    if not column:
        return UNNAMED_LAST if last else UNNAMED
    if PANDAS_PARQUET_INDEX.fullmatch(column):
        return f"{column} (the row index pandas saved; to_parquet(index=False) leaves it out)"
    folders = path.parent.parts if path else ()
    partitions = {part.partition("=")[0] for part in folders if "=" in part}
    if column in partitions:
        return f"{column} (the key of the partition folders, {column}=...)"
    return column


def _items_source(sample: FileSample, source: dict, checks: list[str]) -> str | None:
    """Fill in an items table (a product catalogue, a track list) and return its summary
    line: a file without a user id, keyed by a column named like an item id (OPTIONAL_NAMES)
    whose sampled values are distinct (blank on rows of no item), or, in a catalogue of
    versions, distinct with a column named like a valid-from time; None for any other file.
    Its numeric and categorical columns are attributes, static unless named like a value at
    export time; columns whose sampled values are all distinct texts (a title) are left out,
    as are times (an item attribute is a number or a category) and a version's bookkeeping."""
    files = _label(source)
    named = _matches(sample.columns, OPTIONAL_NAMES["item_id"], set())
    valid_from = _find_field(sample, VALID_FROM_NAMES, set(named))
    item_id = _distinct_key(sample, named)
    versions = None
    if item_id is None and valid_from is not None:
        versions = _distinct_key(sample, named, valid_from)
    if versions is None and item_id is None:
        return None
    item_id = item_id or versions
    keys = _keys(sample, item_id, valid_from if versions else None)
    if len(set(keys)) < len(keys):
        checks.append(
            f"{files}: {len(keys) - len(set(keys))} of the {len(keys)} sampled rows repeat "
            f"a{' version of an' if versions else 'n'} item: the ingest keeps the first and "
            "quarantines the others as duplicate_item"
        )
    rows = _sampled_rows(sample)
    if len(keys) < rows:
        checks.append(
            f"{files}: {rows - len(keys)} of the {rows} sampled rows have no {item_id}, rows of "
            "no item (a products export's rows for further images, or items without one): the "
            "ingest counts them as item_without_id, not as items"
        )
    _scientific_ids(sample, item_id, files, checks)
    source["columns"] = {"item_id": item_id}
    mapped = {item_id}
    if versions is not None:
        source["columns"]["valid_from"] = valid_from
        source["timestamp_formats"] = timestamp_formats(sample.values.get(valid_from, ()))[0]
        mapped |= {valid_from, *(c for c in sample.columns if _key(c) in VERSION_COLUMN_NAMES)}
    attributes, notes, left = {}, [], []
    for column in (c for c in sample.columns if c not in mapped):
        attribute, _ = _attribute(sample, column, [])
        values = sample.values.get(column, ())
        unique_text = (
            attribute["dtype"] == "categorical"
            and len(values) >= MIN_ROWS_FOR_TEXT
            and len(set(values)) == len(values)
        )
        picture = any(word in IMAGE_WORDS for word in name_words(column))
        if attribute["dtype"] == "timestamp" or unique_text or picture or not values:
            left.append(column)
            continue
        if attribute["kind"] == "static":
            del attribute["kind"]  # the items table's default
        attributes[_attribute_name(column)] = attribute
        notes.append(f"{column} as {attribute.get('kind', 'static')}")
    _put_attributes(sample, attributes, source, checks)
    product = None if versions else _product_fields(sample, attributes, item_id)
    if product is not None:
        group, names = product
        source["fill_down"] = {"by": group, "attributes": names}
        checks.append(
            f"{files}: {', '.join(attributes[n]['column'] for n in names)} set on one row per "
            f"{group} (a product's fields, written on its first row): fill_down gives them to "
            "the product's other rows, its variants; take out a per-item one"
        )
    with_one = f"{len(keys)} sampled rows{' with one' if len(keys) < rows else ''}"
    keyed = (
        f"an items table keyed by {item_id} (distinct on the {with_one})"
        if versions is None
        else f"a catalogue of versions: {item_id} with {valid_from} (distinct on the {rows} "
        "sampled rows); an event reads the version valid at its time, none before an item's "
        "first"
    )
    checks.append(
        f"{files}: {keyed}; attributes {', '.join(notes) or 'none'}: static means known when "
        "the item (or its version) began (a catalogue's current price is a snapshot, which "
        "item_mean refuses)"
        + (
            f"; not attributes: {', '.join(left)} (a time, a text per item, or a picture's)"
            if left
            else ""
        )
    )
    return f"items: {files}: item_id={item_id}" + (
        f", valid_from={valid_from}" if versions else ""
    )


def _product_fields(
    sample: FileSample, attributes: Mapping[str, dict], item_id: str
) -> tuple[str, list[str]] | None:
    """The column grouping an items file's rows under their product (PRODUCT_GROUP_NAMES) and
    the categorical attributes set on as many sampled rows as there are products, when some
    product has several items: Shopify writes a product's title, vendor and type on its first
    row only. None when there is no such column or attribute."""
    group = _find(sample.columns, PRODUCT_GROUP_NAMES, {item_id})
    if group is None:
        return None
    products = len(set(sample.values.get(group, ())))
    if not 0 < products < len(sample.values.get(item_id, ())):
        return None
    once = [
        name
        for name, attribute in attributes.items()
        if attribute["dtype"] == "categorical"
        and attribute["column"] != group
        and len(sample.values.get(attribute["column"], ())) == products
    ]
    return (group, once) if once else None


def _chosen_catalogue(
    catalogues: Sequence[tuple[dict, str, list[str], int]], mapped: list[str], checks: list[str]
) -> dict:
    """The items source of a dataset with several files that read as one: the first plain
    catalogue whose key is set on every sampled row, else the first plain one (rows of no
    item: a products export's image rows), else the first of versions (a dataset has one
    items table); the others are named in the checks."""
    chosen = min(catalogues, key=lambda c: ("valid_from" in c[0]["columns"], c[3] > 0))
    source, line, found, _ = chosen
    mapped.append(line)
    checks.extend(found)
    for other, _, _, _ in (c for c in catalogues if c is not chosen):
        checks.append(
            f"{_label(other)}: left out: another items table (a dataset has one: "
            f"{_label(source)}); point items: at it instead to read its attributes"
        )
    return source


def _distinct_key(
    sample: FileSample, named: Sequence[str], valid_from: str | None = None
) -> str | None:
    """The first of the `named` columns whose sampled values are distinct but for a few
    repeats (a row exported twice): an items table's key. It may be blank on some rows (rows
    of no item: Shopify's products export adds one per further image, with no SKU); with
    `valid_from` (a catalogue of versions) both are set on every row."""
    rows = _sampled_rows(sample)
    for column in named:
        keys = _keys(sample, column, valid_from)
        enough = len(keys) == rows if valid_from is not None else len(keys) > 0
        if enough and len(keys) - len(set(keys)) <= rows * MAX_REPEATED_KEY_SHARE:
            return column
    return None


def _keys(sample: FileSample, column: str, valid_from: str | None) -> tuple:
    """The sampled values of an items key (with the valid-from times of a catalogue of
    versions); blanks shorten a column's values, so a key with blanks is short."""
    keys = sample.values.get(column, ())
    if valid_from is None:
        return keys
    return tuple(zip(keys, sample.values.get(valid_from, ()), strict=False))


def _versions_source(
    sample: FileSample, users: dict, valid_from: str, checks: list[str]
) -> dict | None:
    """An events source over a users table of versions: one event per version, at its
    valid-from time, whose area is the column named like what changes (`plan`); None
    without such a column."""
    changed = _changed_attribute(sample, {users["columns"]["user_id"], valid_from})
    files = _label(users)
    if changed is None:
        checks.append(
            f"{files}: no column named like what changes ({', '.join(CHANGED_ATTRIBUTE_WORDS)}); "
            "to read one as of each cutoff, add an events source over this file "
            '(docs/reference/data.md, "A history of attributes")'
        )
        return None
    event_type = plain_name_for(changed).upper()
    source = {key: users[key] for key in READ_KEYS if key in users}
    source["event_type"] = event_type
    source["columns"] = {"user_id": users["columns"]["user_id"], "timestamp": valid_from}
    source["columns"]["area"] = changed
    source["timestamp_formats"] = list(users["timestamp_formats"])
    checks.append(
        f"{files}: its versions are {event_type} events too, at {valid_from}, each with its "
        f"{changed} as area: {_last_area_hint(event_type)}"
    )
    return source


def _events_source(
    sample: FileSample,
    first: Path,
    source: dict,
    checks: list[str],
    users_shape: str | None,
    users_table: bool = True,
) -> tuple[str, tuple[str, ...]] | None:
    """Fill in an events source's columns and formats; return its line for the summary and
    the event types of its sampled rows, or None without a user id or a time. `users_shape`
    is the id_shape of the users table's ids, when there is one; without a users table
    (`users_table` False) columns that describe the user become its user attributes."""
    files = _label(source)
    if not sample.header:
        return _headerless_events_source(sample, first, source, checks)
    ids = _user_id_fields(sample, users_shape)
    user_id, *other_ids = _device_ids_last(sample, ids, files, checks)
    guests = None if user_id is None else _guest_id(sample, user_id)
    if guests is not None:
        email, placeholder, shared = guests
        checks.append(
            f"{files}: {user_id} is {placeholder!r} for {shared} different {email} values "
            "(guests without an account, as WooCommerce writes them): keyed by "
            f"{email} instead, so each guest is a customer of their own"
        )
        user_id, other_ids = email, [user_id, *(c for c in other_ids if c != email)]
    counterparty = _counterparty(sample) if user_id is None else None
    if counterparty is not None:
        user_id = counterparty.sender  # its values stand for the users' in the checks below
        checks.append(
            f"{files}: user id: the other side of {counterparty.owner} (on every sampled row, "
            f"the account that exported it) in {counterparty.sender} / "
            f"{counterparty.recipient}: the payer of a payment to it, the payee of one it made "
            "(a refund, or a bill of its own: see the event types)"
        )
    taken = {user_id or ""} | ({counterparty.recipient} if counterparty else set())
    time, dates = _event_time(sample, taken)
    if dates is not None:
        checks.append(f"{files}: {time} is the event time; {dates} holds dates only")
    if time is None and user_id is not None:
        by_value = _times_by_value(sample, taken)
        if len(by_value) > 1:
            checks.append(
                f"{files}: left out: no column is named like a time, and {', '.join(by_value)} "
                "all read as times: set columns.timestamp to the event's"
            )
            return None
        time = by_value[0] if by_value else None
        if time is not None:
            checks.append(f"{files}: {time} is the event time, the one column of times")
    if user_id is None or time is None:
        missing = "a user id" if user_id is None else "a time"
        checks.append(f"{files}: left out: no column reads as {missing}")
        return None
    if other_ids:
        rows = _sampled_rows(sample)
        filled = ", ".join(
            f"{c} in {len(sample.values.get(c, ()))}" for c in (user_id, *other_ids)
        )
        constant = "".join(
            f"; {c} is {sample.values[c][0]!r} on every sampled row, an account's id, no user's"
            for c in _constant_ids(sample, other_ids)
        )
        checks.append(
            f"{files}: user id {user_id} of the columns named like one (a value in how many "
            f"of {rows} sampled rows: {filled}){constant}; columns.user_id chooses"
        )
    taken |= {user_id, time}
    time_values = sample.values.get(time, ())
    timestamp: str | dict = time
    day = _day_of_time_of_day(sample, time, taken)
    if day is not None:
        timestamp = {"expr": f"{ident(day)} || ' ' || {ident(time)}"}
        time_values = tuple(
            f"{d} {t}" for d, t in zip(sample.values[day], time_values, strict=True)
        )
        taken.add(day)
        checks.append(
            f"{files}: {time} holds times of day, {day} the dates: the event time is both "
            f"({time_values[0]})"
        )
    hour = None if day is not None else _hour_of_date(sample, time, taken)
    if hour is not None:
        timestamp = {"expr": f"{ident(time)} || ' ' || {ident(hour)} || ':00:00'"}
        time_values = tuple(
            f"{d} {h}:00:00" for d, h in zip(time_values, sample.values[hour], strict=True)
        )
        taken.add(hour)
        checks.append(
            f"{files}: {time} holds dates, {hour} the hour of each: the event time is both, "
            f"at the start of the hour ({time_values[0]})"
        )
    _scientific_ids(sample, user_id, files, checks)
    shape = _ids_shape(sample.values.get(user_id, ()))
    if users_shape is not None and shape not in (None, users_shape):
        checks.append(
            f"{files}: {user_id} holds {shape}, the users table's ids are {users_shape}: an "
            "event is kept only when its user id is in the users table, so map the column "
            "that holds the product's user id (a source that keeps no row is refused)"
        )
    user_field = counterparty.user_id() if counterparty else _id_field(user_id, files, checks)
    columns = {"user_id": user_field, "timestamp": timestamp}
    anonymous = next(iter(_id_matches(sample, ANONYMOUS_ID_NAMES, taken)), None)
    if anonymous is not None and _key(user_id.rpartition(".")[2]) not in ANONYMOUS_ID_NAMES:
        columns["anonymous_id"] = anonymous
        taken.add(anonymous)
        checks.append(
            f"{files}: an event without {user_id} takes the user its {anonymous} is seen with, "
            "when that link was known in time (else it is quarantined with why)"
        )
    event = _find_field(sample, EVENT_NAMES, taken) or _named_events(sample, user_id, taken)
    exposure = None if event is not None else _exposure_columns(sample, taken)
    holdback = None
    if exposure is not None:
        columns["item_id"], columns["area"] = exposure
        taken.update(exposure)
        holdback = _holdback_column(sample, taken)
    if holdback is not None:
        columns["area"] = {"expr": _holdback_arm(holdback, exposure[1])}
        taken.add(holdback)
    found_status = (
        None if event is not None or exposure is not None else _status_column(sample, taken)
    )
    statuses: tuple[str, ...] = ()
    fill_down = None
    written = sample.values.get(found_status[0], ()) if found_status else ()
    states = sorted({v.removeprefix(_status_prefix(written)) for v in written})
    lifecycle = _lifecycle_columns(sample, taken)
    dated = [
        f"its {state!r} is dated by {column}"
        for column, word in lifecycle
        for state in states
        if _same_state(word, state)
    ]
    # A plain `Status` beside a dated change holds that change among its values, sampled or
    # not (Stripe's `canceled` may be on no sampled row); a qualified one (Shopify's
    # `Financial Status`) only when a sampled value says so.
    plain = found_status is not None and name_words(QUALIFIER.sub("", found_status[0])) == [
        "status"
    ]
    if lifecycle and plain and not dated:
        dated = [f"its changes are dated by {', '.join(c for c, _ in lifecycle)}"]
    if dated:
        checks.append(
            f"{files}: {found_status[0]} is as of the export and {dated[0]}: not the event "
            f"type, which would date each change at the row's {time} (a look-ahead); the "
            "change is an event of its own below"
        )
        found_status = None
    if found_status is not None:
        status, order = found_status
        constant = _event_type_constant(first)
        prefix = _status_prefix(sample.values[status])
        read = ident(status)
        if prefix:  # WooCommerce's `wc-completed`: ORDER_COMPLETED
            read = (
                f"CASE WHEN starts_with({read}, '{prefix}') THEN substring({read}, "
                f"{len(prefix) + 1}) ELSE {read} END"
            )
        columns["event_type"] = {"expr": f"'{constant}_' || upper({read})"}
        taken.add(status)
        statuses = tuple(
            sorted({f"{constant}_{v.removeprefix(prefix).upper()}" for v in sample.values[status]})
        )
        filled = ""
        if order is not None:
            fill_down = {"by": order, "columns": [status]}
            filled = (
                f"; it is on an order's first line only, and fill_down by {order} gives it to "
                "the order's further lines"
            )
        checks.append(
            f"{files}: no event-type column; the event type is {constant}_ and the {status} "
            f"({', '.join(statuses)} in the sample): a refunded or failed payment is no purchase"
            + filled
            + "; the status is as of the export, so a payment refunded after a cutoff already "
            "reads as refunded at it (a look-ahead in features that count refunds)"
        )
    elif exposure is not None:
        source["event_type"] = EXPERIMENT_ASSIGNED
        checks.append(
            f"{files}: an experiment platform's exposures: each row is an {EXPERIMENT_ASSIGNED} "
            f"event, {exposure[0]} its item_id and {exposure[1]} its area (the arm); "
            "`usagecast ab analyze --experiment NAME --metric ...` analyses one, each user from "
            "their first exposure"
            + (
                f"; a row whose {holdback} is true is arm {HOLDBACK_ARM!r} (the user was held "
                f"back and saw the original, whatever its {exposure[1]} says), the control of "
                "the analysis where no arm is called control"
                if holdback is not None
                else ""
            )
        )
    elif event is None and (trial := _trial_flag(sample, taken)) is not None:
        constant = _event_type_constant(first)
        columns["event_type"] = {
            "expr": f"CASE WHEN {_is_true(trial)} THEN '{constant}_TRIAL' ELSE '{constant}' END"
        }
        taken.add(trial)
        checks.append(
            f"{files}: no event-type column; a row whose {trial} is true is {constant}_TRIAL (a "
            f"free trial's start, no payment), any other {constant}"
        )
    elif event is None:
        source["event_type"] = _event_type_constant(first)
        checks.append(f"{files}: no event-type column; every row is {source['event_type']!r}")
    else:
        columns["event_type"] = event
        taken.add(event)
        fallback = _event_type_fallback(sample, event, taken)
        if fallback is not None:
            columns["event_type"] = {"expr": f"coalesce({ident(event)}, {ident(fallback)})"}
            taken.add(fallback)
            checks.append(
                f"{files}: event type {event}, else {fallback} where {event} is blank (Segment's "
                "page and identify calls have no event name, only a type)"
            )
    value_columns: tuple[str, ...] = ()
    for canonical, names in OPTIONAL_NAMES.items():
        if canonical in columns:
            continue
        if canonical == "value":
            found, read = _value_field(sample, taken, files, checks)
            value_columns = read
        else:
            found = _find_field(sample, names, taken)
            read = (found,) if found else ()
        if found:
            columns[canonical] = found
            taken.update(read)
    exposure_event = None if event is None else _exposure_event(sample)
    if exposure_event is not None:
        _with_exposures(columns, event, exposure_event)
        taken.update(exposure_event[1:])
        checks.append(
            f"{files}: its {' and '.join(map(repr, exposure_event[0]))} events are an "
            "experiment's exposures: "
            f"{EXPERIMENT_ASSIGNED} events, {exposure_event[1]} their item_id and "
            f"{exposure_event[2]} their area (the arm), which `usagecast ab analyze "
            "--experiment NAME` reads; the file's other events keep their fields"
        )
    changed = None if "event_type" in columns else _changed_attribute(sample, taken)
    if changed is not None and "area" not in columns:
        columns["area"] = changed
        taken.add(changed)
        checks.append(
            f"{files}: {changed} as area, what each {source['event_type']} moved the user to: "
            f"{_last_area_hint(source['event_type'])}"
        )
    source["columns"] = columns
    if fill_down is not None:
        source["fill_down"] = fill_down
    event_id = _find_field(sample, EVENT_ID_NAMES, taken)
    if event_id is not None:
        source["dedupe"] = [c for c in (event, user_id, time, event_id) if c is not None]
        checks.append(
            f"{files}: duplicates are rows with the same {', '.join(source['dedupe'])}: an "
            f"event sent twice keeps its {event_id} whatever else changed (dedupe: true "
            "compares whole rows instead)"
        )
        taken.add(event_id)
    elif isinstance(columns.get("value"), str):
        value = columns["value"]
        order = _order_lines(sample, value, taken)
        repeated = None if order is not None else _order_total_on_each_line(sample, value, taken)
        if order is not None or repeated is not None:
            order = order or repeated
            per_order = [c for c in (event, user_id, time, order) if isinstance(c, str)]
            kept = len(set(sample.values[order])) / _sampled_rows(sample)
            share = (
                f"; about {kept:.0%} of the sampled rows would be kept, under rules."
                f"min_accepted_share {DEFAULT_MIN_ACCEPTED_SHARE}: lower it too"
                if kept < DEFAULT_MIN_ACCEPTED_SHARE
                else ""
            )
            lines = (
                f"{order} repeats on rows without a {value}, an order's further line items: "
                f"each row is an event, so counts are of lines and only an order's first line "
                f"carries its {value}"
                if repeated is None
                else f"{order} repeats with the same {value} on each of its lines, the order's "
                f"total on every line item: each row is an event, so counts are of lines and "
                f"value sums count an order's {value} once per line"
            )
            checks.append(
                f"{files}: {lines}; for one event per order set dedupe: {json.dumps(per_order)} "
                f"(the other lines are then quarantined as duplicate_event{share})"
            )
    if value_columns:
        _set_number_format(sample, value_columns, source, checks)
        currencies = _currencies(sample)
        if len(currencies) > 1 and not any(map(_converted, value_columns)):
            checks.append(
                f"{files}: {' × '.join(value_columns)} is in {', '.join(currencies)} (sampled): "
                "values are summed as they are, so convert them to one currency first (a derived "
                "value), or keep one currency's rows"
            )
    if not users_table:
        attributes = _event_user_attributes(sample, taken)
        if attributes:
            source["user_attributes"] = attributes
            taken.update(a["column"] for a in attributes.values())
            checks.append(
                f"{files}: user attributes {', '.join(attributes)}: each user's value on their "
                "first event, static (there is no users table; they are known from signup on)"
            )
    read = taken | ({fill_down["by"]} if fill_down else set())
    read |= {column for column, _ in _lifecycle_columns(sample, taken)}  # sources of their own
    if "event_type" not in columns:
        read |= set(_daily_count_columns(sample, user_id, time, taken))
    through = {c.partition(".")[0] for c in read if "." in c}
    unmapped = [
        _unmapped_name(c, c == sample.columns[-1], sample.path)
        for c in sample.columns
        if c not in read and c not in through and "." not in c  # an object read by its paths
    ]
    if unmapped:
        checks.append(
            f"{files}: not mapped: {', '.join(unmapped)} (one that describes the user can be a "
            "user attribute, see docs/reference/data.md)"
        )
    formats, check = timestamp_formats(time_values)
    source["timestamp_formats"] = formats
    zone_column = _zone_column(sample, read, time_values, formats)
    for note in (check, _zones_read(time_values, formats), _excel_days_read(formats)):
        if note:
            checks.append(f"{files}: {time}: {note}")
    if zone_column is not None:
        zones = sorted(set(sample.values.get(zone_column, ())))
        checks.append(
            f"{files}: {zone_column} names a time zone per row ({', '.join(zones[:3])}): "
            f"{time} is read as written, each row's wall clock, in the source's timezone, not "
            "converted by it; to convert each row, append it to the time in a derived "
            "timestamp read by a format that ends in %Z (docs/reference/data.md, Time zones)"
        )
    if {"utc", "gmt"} & set(name_words(time)):
        source["timezone"] = "UTC"
        checks.append(
            f"{files}: {time}: times without an offset read as UTC, as the name says, whatever "
            "the dataset's timezone"
        )
    elif _key(time) in AMPLITUDE_UTC_TIMES and _find(sample.columns, AMPLITUDE_KEYS, set()):
        source["timezone"] = "UTC"
        checks.append(
            f"{files}: {time}: read as UTC, whatever the dataset's timezone: an Amplitude export "
            "(it has amplitude_id) writes its times in UTC without saying so"
        )
    line = _source_line(files, columns, source.get("event_type"), formats)
    sampled = statuses or _sampled_event_types(sample, columns)
    if exposure_event is not None:  # their rows are EXPERIMENT_ASSIGNED: no rename
        sampled = tuple(t for t in sampled if t not in exposure_event[0])
    return line, sampled


def _event_id_shapes(samples: Sequence[FileSample]) -> frozenset[str]:
    """The id_shape of each events file's user id by name (not a users-like file's): what a
    users table's id must match."""
    shapes = (
        _ids_shape(sample.values.get(next(iter(_user_id_fields(sample)), ""), ()))
        for sample in samples
        if not _is_users_file(sample) and not _signupless_users_file(sample)
    )
    return frozenset(shape for shape in shapes if shape is not None)


def _read_users(
    sample: FileSample,
    source: dict,
    checks: list[str],
    keyed_by_email: bool,
    events: list[dict],
    mapped: list[str],
    event_shapes: frozenset[str] = frozenset(),
) -> bool:
    """Fill in `source` as the users table (_users_source), its summary line in `mapped` and
    the events sources it gives in `events`; False when it has no id column."""
    found = _users_source(sample, source, checks, keyed_by_email, event_shapes)
    if found is None:
        return False
    line, given = found
    mapped.append(line)
    _add_sources(events, mapped, _label(source), given)
    return True


def _id_placeholders(sample: FileSample, source: dict) -> dict[str, None]:
    """The sampled texts of the source's user id column that stand for no user
    (PLACEHOLDER_USER_IDS, any case), in order of appearance."""
    column = source["columns"].get("user_id")
    if not isinstance(column, str):
        return {}
    texts = sample.values.get(column, ())
    return dict.fromkeys(t for t in texts if t.lower() in PLACEHOLDER_USER_IDS)


def _padding_differs(sample: FileSample, source: dict, users_ids: Sequence[str]) -> bool:
    """Whether the source's sampled user ids and the users table's are numbers, zero-padded
    on one side only (SAP's `0000100042`, a spreadsheet's `100042`), so that they match only
    with rules.strip_leading_zeros."""
    column = source["columns"].get("user_id")
    ids = sample.values.get(column, ()) if isinstance(column, str) else ()
    if not ids or not users_ids or not all(v.isdigit() for v in (*ids, *users_ids)):
        return False
    padded = [any(v[:1] == "0" and len(v) > 1 for v in side) for side in (ids, users_ids)]
    return padded[0] != padded[1]


def _add_sources(events: list[dict], mapped: list[str], files: str, added: list[dict]) -> None:
    """Append events sources another file's reading gave, each with its summary line."""
    for source in added:
        events.append(source)
        summary = _source_line(
            files, source["columns"], source["event_type"], source["timestamp_formats"]
        )
        mapped.append(f"events[{len(events) - 1}]: {summary}")


# The keys of a source that say how its rows are read, which a source over the same rows
# (_dated_source, _versions_source) takes with it: the records of API pages and their
# parent, a report's title and footer, a tool's missing-value texts, the number style.
READ_KEYS = (
    "files", "format", "encoding", "delimiter", "header", "names", "sheet", "members",
    "records", "parent", "skip_lines", "footer_lines", "short_lines", "missing_texts",
    "decimal", "thousands", "currency_symbol", "negatives", "timezone",
)  # fmt: skip


def _lifecycle_sources(
    sample: FileSample, first: Path, source: Mapping, checks: list[str]
) -> list[dict]:
    """An events source of the same files per time column that dates a change of state
    (_lifecycle_columns: Stripe's `Canceled At (UTC)`): its event type the file's constant and
    the word (SUBSCRIPTION_CANCELED), `blank_time: no_event`, since a row without one holds
    no such change."""
    files = _label(source)
    read = {v for v in source["columns"].values() if isinstance(v, str)}
    constant = _event_type_constant(first)
    found = []
    for column, word in _lifecycle_columns(sample, read):
        values = sample.values.get(column, ())
        dated = _dated_source(source, f"{constant}_{word.upper()}", column, values)
        found.append(dated)
        checks.append(
            f"{files}: {column} dates each change to {word}: {dated['event_type']} events of "
            "their own, read from the same files (a row with it blank holds none: counted as "
            "no_event_time)"
        )
    return found


def _daily_count_columns(
    sample: FileSample, user_id: str, time: str, taken: set[str]
) -> list[str]:
    """The count columns of a table of daily totals, a row per user and day as BI tools
    export activity (`songs_played`, `ads_seen`): when the sampled times are days, no user
    has two rows of one day, and at least two columns not `taken` hold whole numbers that
    are 0 on some row or, filled on every row, vary within some user's rows (an age or a
    seat count per user does neither); else none."""
    users, days = sample.values.get(user_id, ()), sample.values.get(time, ())
    rows = len(users)
    if not rows or len(days) != rows or any(TIME_OF_DAY.search(day) for day in days):
        return []
    if len(set(zip(users, days, strict=True))) != rows:
        return []
    counts = []
    for column in (c for c in sample.columns if c not in taken and "." not in c):
        values = sample.values.get(column, ())
        if not values or not all(v.isdigit() for v in values):
            continue
        if set(name_words(column)) & CODE_WORDS or _key(column).endswith("id"):
            continue
        per_user: dict[str, set[str]] = {}
        if len(values) == rows:  # no blank: each value is its row's
            for user, value in zip(users, values, strict=True):
                per_user.setdefault(user, set()).add(value)
        if "0" in values or any(len(seen) > 1 for seen in per_user.values()):
            counts.append(column)
    return counts if len(counts) >= 2 else []


def _daily_count_sources(sample: FileSample, source: Mapping, checks: list[str]) -> list[dict]:
    """An events source of the same files per count column of a table of daily totals
    (_daily_count_columns): its event type the column's name (SONGS_PLAYED), at the row's day,
    the count its value; a row whose count is zero or blank holds no such event
    (`blank_time: no_event`)."""
    columns = source["columns"]
    user_id, time = columns["user_id"], columns["timestamp"]
    if "event_type" not in source or not isinstance(user_id, str) or not isinstance(time, str):
        return []
    read = {v for v in columns.values() if isinstance(v, str)}
    found = []
    days = sample.values.get(time, ())
    for column in _daily_count_columns(sample, user_id, time, read):
        counted = _dated_source(source, "_".join(name_words(column)).upper(), time, days)
        day = f"CASE WHEN coalesce({ident(column)}, '0') = '0' THEN NULL ELSE {ident(time)} END"
        counted["columns"].update(timestamp={"expr": day}, value=column)
        found.append(counted)
    if found:
        types = ", ".join(c["event_type"] for c in found)
        checks.append(
            f"{_label(source)}: a row per user and day with counts: each count column is an "
            f"event series of its own ({types}) on the row's day, the count its value (a zero "
            "or blank count holds none: counted as no_event_time); value sums add the counts, "
            "event counts count the days"
        )
    return found


def _source_line(
    files: str, columns: Mapping, constant: str | None, formats: Sequence[str]
) -> str:
    """An events source's line in the summary: its roles (a derived one as its expression),
    its constant event type, its time formats."""
    roles = ", ".join(
        f"{k}={v['expr'] if isinstance(v, Mapping) else v}" for k, v in columns.items()
    )
    event_type = f", event_type {constant!r} (constant)" if constant else ""
    return f"{files}: {roles}{event_type}; times {', '.join(formats)}"


def starter_config(samples: Sequence[FileSample], base: Path, name: str, out: str) -> Starter:
    """The dataset config for the sampled files (relative to `base`, the folder of the
    config, shown as `out`): the first users-like file is the users table, the first file
    without a user id keyed by an item id the items table, every file with a user id and a
    time an events source; the others are left out, named in the checks."""
    events, mapped, checks = [], [], []
    renames: dict[str, str] = {}
    users: dict | None = None
    items: dict | None = None
    # (source, line, checks, sampled rows without a key) of each file that reads as items
    catalogues: list[tuple[dict, str, list[str], int]] = []
    groups = _groups(samples, base)
    sources = [one for group in groups for one in _sources_of(group, base, samples)]
    keyed_by_email = any(
        _key(next(iter(_user_id_fields(sample)), "")) in EMAIL_NAMES
        for sample in samples
        if not _is_users_file(sample) and not _signupless_users_file(sample)
    )
    merged = [_merged(group) for group in groups]
    shapes = _event_id_shapes(merged)
    users_sample = next((s for s in merged if _is_users_file(s)), None)
    # A users table without signup times only when no users-like file has them.
    undated_users = users_sample is None
    if undated_users:
        users_sample = next((s for s in merged if _signupless_users_file(s)), None)
    users_id = (
        None if users_sample is None else _users_id_column(users_sample, keyed_by_email, shapes)
    )
    users_shape = None if users_id is None else _ids_shape(users_sample.values.get(users_id, ()))
    wrapped: dict[tuple, Mapping[str, str]] = {}  # a source's rows (_read_key) -> wrapped keys
    placeholders: dict[str, None] = {}  # user ids that stand for no user (_id_placeholders)
    padded_ids: list[str] = []  # events sources whose ids differ from users' by zeros only

    def add_events(sample: FileSample, source: dict, files: str, named_by: Path) -> None:
        """Map an events source of the sample, with the sources over its rows it gives."""
        found = _events_source(
            sample, named_by, source, checks, users_shape, users_sample is not None
        )
        if found is None:
            return
        line, sampled = found
        placeholders.update(_id_placeholders(sample, source))
        if users_id is not None and _padding_differs(
            sample, source, users_sample.values.get(users_id, ())
        ):
            padded_ids.append(files)
        events.append(source)
        mapped.append(f"events[{len(events) - 1}]: {line}")
        renames.update((name, plain_name_for(name)) for name in sampled if not is_spec_name(name))
        _add_sources(events, mapped, files, _lifecycle_sources(sample, named_by, source, checks))
        _add_sources(events, mapped, files, _daily_count_sources(sample, source, checks))

    def add_elements(records: FileSample, elements: FileSample, users: dict, files: str) -> None:
        """The events of a users table whose records hold them (a user document's sessions):
        the elements as rows, keyed by their record's user id."""
        checks.append(_elements_check(files, elements, users=True))
        user_id = _users_id_column(records, keyed_by_email, shapes)
        held = replace(elements, parent_id=f"{elements.parent}.{user_id}")
        source = {key: users[key] for key in READ_KEYS if key in users}
        _read_elements(source, elements)
        wrapped[_read_key(source)] = elements.wrapped
        add_events(held, source, files, Path(elements.records.rpartition(".")[2]))

    for group, where in sources:
        sample = _merged(group)
        source: dict = dict(where)
        files = _label(source)
        wrapped[_read_key(source)] = sample.wrapped
        if sample.left_out is not None:
            checks.append(f"{files}: left out: {sample.left_out}")
            continue
        repeated = _repeated_columns(group)
        if repeated:
            checks.append(
                f"{files}: the header names {', '.join(map(repr, repeated))} more than once: "
                "the ingest stops at it (one of the columns would be read silently); rename "
                "or drop the repeated column in the file first"
            )
        if sample.format != "parquet" and sample.encoding != "utf-8":
            source["encoding"] = sample.encoding
            checks.append(f"{files}: not UTF-8; read as {sample.encoding}")
        if sample.format == "csv" and sample.delimiter != ",":
            source["delimiter"] = sample.delimiter
        if not sample.header:
            source.update(header=False, names=list(sample.columns))
        if sample.skip_lines:
            source["skip_lines"] = sample.skip_lines
            lines = "rows" if sample.format == XLSX else "lines"
            checks.append(
                f"{files}: the first {sample.skip_lines} {lines} are a title above the table "
                f"({'; '.join(map(repr, sample.title))}), not rows: skip_lines "
                f"{sample.skip_lines} (each file of this source must have as many)"
            )
        if sample.footer_lines:
            source["footer_lines"] = sample.footer_lines
            checks.append(
                f"{files}: the last {sample.footer_lines} lines are a footer "
                f"({'; '.join(map(repr, sample.footer))}), not rows: footer_lines "
                f"{sample.footer_lines} (a file of this source whose footer is shorter stops "
                "the ingest)"
            )
        if sample.header_repeats:
            checks.append(
                f"{files}: {sample.header_repeats} sampled line(s) repeat the header (exports "
                "joined one after another?): the ingest counts such lines as repeated_header, "
                "not as errors"
            )
        if sample.short_rows:
            source["short_lines"] = "empty"
            checks.append(
                f"{files}: {sample.short_rows} sampled line(s) have fewer fields than the "
                "header (their last empty fields left out): short_lines: empty reads the "
                "missing fields as empty"
            )
        if sample.totals_rows:
            checks.append(
                f"{files}: {sample.totals_rows} sampled line(s) are a report's totals (a "
                "Total label, then only figures): the ingest counts such lines as totals_row, "
                "not as errors"
            )
        if sample.missing_texts:
            source["missing_texts"] = list(sample.missing_texts)
            checks.append(
                f"{files}: fields written {', '.join(sample.missing_texts)}: read as missing "
                "values (as a blank is) in every column of this source"
            )
        if sample.records is not None:
            source["records"] = sample.records
            checks.append(
                f"{files}: pages of an API's replies: the records are the elements of each "
                f"page's {sample.records!r} array (a page without one stops the ingest)"
            )
        elements = _timed_elements(sample)
        if sample.record_arrays and elements is None:
            checks.append(_record_arrays_check(files, sample))
        if len(sample.sheets) > 1:
            source["sheet"] = sample.sheet
            files = _label(source)
        users_like = _is_users_file(sample) or _signupless_users_file(sample)
        if elements is not None and not users_like:  # the records hold the events
            checks.append(_elements_check(files, elements, users=False))
            sample = elements
            _read_elements(source, elements)
            wrapped[_read_key(source)] = elements.wrapped
        if users is None and sample.parent is None and _is_users_file(sample):
            if _read_users(sample, source, checks, keyed_by_email, events, mapped, shapes):
                users = source
                placeholders.update(_id_placeholders(sample, source))
                if elements is not None:
                    add_elements(sample, elements, source, files)
            continue
        if sample.header and not _user_id_fields(sample, users_shape):
            found: list[str] = []
            line = _items_source(sample, source, found)
            if line is not None:
                keys = sample.values.get(source["columns"]["item_id"], ())
                catalogues.append((source, line, found, _sampled_rows(sample) - len(keys)))
                continue
        if sample.parent is None and _signupless_users_file(sample):
            if users is not None or not undated_users:
                checks.append(f"{files}: left out: another users table, without signup times")
                continue
            if _read_users(sample, source, checks, keyed_by_email, events, mapped, shapes):
                users = source
                placeholders.update(_id_placeholders(sample, source))
                if elements is not None:
                    add_elements(sample, elements, source, files)
            continue
        named_by = Path(sample.sheet) if len(sample.sheets) > 1 else group[0].path
        if sample.parent is not None:  # the list's name, not the file's (`sessions`)
            named_by = Path(sample.records.rpartition(".")[2])
        add_events(sample, source, files, named_by)
    if catalogues:
        items = _chosen_catalogue(catalogues, mapped, checks)
    if not events:
        raise StarterError(
            "no file reads as events (a user id column and a time column): " + "; ".join(checks)
        )
    for source in (*events, users, items):
        if source is not None and wrapped.get(_read_key(source)):
            _read_through_wrappers(source, wrapped[_read_key(source)])
    config: dict = {"name": name, "events": events}
    if users is not None:
        config["users"] = users
    if items is not None:
        config["items"] = items
    rules: dict = {}
    if renames:
        rules["event_types"] = {"rename": renames}
        checks.append(
            f"rules.event_types.rename: {len(renames)} event name(s) of the sampled rows that "
            f"a spec cannot name ({SPEC_NAME_RULE}) get a plain name; the ingest names any "
            "other it reads"
        )
    if placeholders:
        rules["sentinel_ids"] = list(placeholders)
        checks.append(
            f"rules.sentinel_ids: user ids {', '.join(map(repr, placeholders))} of the sampled "
            "rows stand for no user: a row with one is quarantined as sentinel_id, but for an "
            "event with an anonymous id, which takes the user that id is seen with"
        )
    if padded_ids:
        rules["strip_leading_zeros"] = True
        checks.append(
            f"rules.strip_leading_zeros: the user ids of {', '.join(padded_ids)} and of the "
            "users table are numbers zero-padded on one side only (0000100042 and 100042): "
            "read without their leading zeros, so that they match"
        )
    if rules:
        config["rules"] = rules
    body = yaml.safe_dump(
        config, sort_keys=False, allow_unicode=True, width=99, default_flow_style=None
    )
    return Starter(HEADER.format(path=out) + "\n" + body, tuple(mapped), tuple(checks))


HEADER = """\
# Dataset config written by `usagecast dataset new` from the files' headers and a sample of
# their values. Every mapping below is a guess by column name: check it, then
#   usagecast ingest {path}
# Keys: docs/reference/data.md ("Dataset config"). Not guessed, set them if they apply:
#   timezone: America/New_York   # the zone your days are counted in (default UTC); a
#                                # source's `timezone:` says in which zone its times
#                                # without an offset are written
#   rules: {{event_types: {{allowed: [..], rename: {{"Add to Cart": Add_to_Cart}}}},
#           sessions: {{inactivity_minutes: 30}}}}   # session ids from gaps, when none mapped
"""
