"""A webhook endpoint on pg_inbox, three ways: SQLAlchemy, psycopg2, psycopg 3.

Each handler takes the request's headers and raw body and returns the HTTP
status and a JSON-able answer; a web framework would call it from its route.
The event is stored with inbox.ingest_raw and the application's own row is
written in the same transaction, so both commit or neither does, and a
redelivery, a replay with other content or a malformed body is an answer,
never an exception that poisons the session.

The connection comes from the usual PG* variables (PGHOST, PGDATABASE ...).
The tables are in schema.sql; docs/python.md explains each part.
"""

import json

import psycopg
import psycopg2
import psycopg2.extras
from psycopg.types.json import Jsonb
from sqlalchemy import (BigInteger, Column, Integer, Text, cast, create_engine, func, null,
                        select, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import declarative_base, sessionmaker

SOURCE = "shop"

# the HTTP status for each answer of ingest
HTTP_STATUS = {
    "inserted": 200,    # new: stored, and the application's row written
    "duplicate": 200,   # seen before: nothing to do, but say "received"
    "conflict": 409,    # the same id with other content: the stored event is kept
    "rejected": 400,    # unusable (malformed JSON, an empty id ...): detail says why
}

Base = declarative_base()


class Payment(Base):
    __tablename__ = "payments"
    id = Column(BigInteger, primary_key=True)
    inbox_id = Column(BigInteger, nullable=False)
    event_id = Column(Text, nullable=False)
    amount = Column(Integer, nullable=False)


def event_id_of(headers):
    """The delivery's id, from a header: a body that is not JSON still has one."""
    for name, value in headers.items():
        if name.lower() == "x-event-id":
            return value
    return None


# --- SQLAlchemy (1.4 and 2.0), an ORM session -----------------------------

# libpq reads PGHOST, PGDATABASE ... when the URL names none
engine = create_engine("postgresql+psycopg2://", future=True, pool_size=8)
Session = sessionmaker(engine, future=True)

INGEST = text("""
    SELECT status, id, detail
    FROM inbox.ingest_raw(:source, :event_id, :body, CAST(:headers AS jsonb))
""")


def handle_webhook(session, headers, body):
    """Store the delivery and write the payment it announces, in the caller's transaction."""
    event_id = event_id_of(headers)
    answer = session.execute(INGEST, {
        "source": SOURCE,
        "event_id": event_id,      # None or "" is answered "rejected", not raised
        "body": body,              # the raw body: malformed JSON is "rejected" too
        "headers": json.dumps(headers) if headers else None,   # SQL NULL, not 'null'
    }).one()
    if answer.status == "inserted":
        event = json.loads(body)   # the server has parsed it: it is valid JSON
        session.add(Payment(inbox_id=answer.id, event_id=event_id, amount=event["amount"]))
    return HTTP_STATUS[answer.status], {"status": answer.status, "id": answer.id,
                                        "detail": answer.detail}


def webhook_endpoint(headers, body):
    """The route: it owns the transaction (commit at the end, rollback on an exception)."""
    with Session.begin() as session:
        return handle_webhook(session, headers, body)


def jsonb(value):
    """A Python value as a jsonb argument.  cast() makes SQLAlchemy serialise it
    (pass the dict, not json.dumps of it, or it is sent as a JSON string); None
    must be null(), because SQLAlchemy's JSON types send None as JSON null."""
    return null() if value is None else cast(value, JSONB)


def ingest_table_valued(session, event_id, payload, headers=None):
    """The same call as a SQLAlchemy expression: func ... table_valued(...)."""
    answer = func.inbox.ingest(SOURCE, event_id, jsonb(payload), jsonb(headers)) \
        .table_valued("status", "id", "received_at", "detail")
    return session.execute(select(answer.c.status, answer.c.id, answer.c.detail)).one()


# --- psycopg2 ----------------------------------------------------------------

def handle_webhook_psycopg2(conn, headers, body):
    """conn: a psycopg2 connection; "with conn" is one transaction."""
    event_id = event_id_of(headers)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status, id, detail FROM inbox.ingest_raw(%s, %s, %s, %s)",
                    (SOURCE, event_id, body,
                     psycopg2.extras.Json(headers) if headers else None))
        status, inbox_id, detail = cur.fetchone()
        if status == "inserted":
            cur.execute("INSERT INTO payments (inbox_id, event_id, amount) VALUES (%s, %s, %s)",
                        (inbox_id, event_id, json.loads(body)["amount"]))
    return HTTP_STATUS[status], {"status": status, "id": inbox_id, "detail": detail}


def ingest_parsed_psycopg2(conn, event_id, payload):
    """A payload already parsed: wrap it in Json (a dict alone cannot be adapted,
    and a list would be sent as a PostgreSQL array)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status, id FROM inbox.ingest(%s, %s, %s)",
                    (SOURCE, event_id, psycopg2.extras.Json(payload)))
        return cur.fetchone()


# --- psycopg 3 -----------------------------------------------------------------

def connect_psycopg(**kwargs):
    """prepare_threshold=None: never prepare statements on the server, which a
    pooler in transaction mode (pgbouncer before 1.21) cannot follow."""
    return psycopg.connect("", prepare_threshold=None, **kwargs)


def handle_webhook_psycopg(conn, headers, body):
    """conn: a psycopg 3 connection; conn.transaction() is one transaction."""
    event_id = event_id_of(headers)
    with conn.transaction():
        status, inbox_id, detail = conn.execute(
            "SELECT status, id, detail FROM inbox.ingest_raw(%s, %s, %s, %s)",
            (SOURCE, event_id, body, Jsonb(headers) if headers else None)).fetchone()
        if status == "inserted":
            conn.execute("INSERT INTO payments (inbox_id, event_id, amount) VALUES (%s, %s, %s)",
                         (inbox_id, event_id, json.loads(body)["amount"]))
    return HTTP_STATUS[status], {"status": status, "id": inbox_id, "detail": detail}


def ingest_batch_pipeline(conn, events):
    """Store a batch of (event_id, payload) in one transaction and one round trip,
    in pipeline mode.  The keys go in sorted order, so that two batches that
    share keys take them in the same order and cannot deadlock each other.
    Returns (status, id) per event, in the caller's order."""
    order = sorted(range(len(events)), key=lambda i: events[i][0])
    cursors = {}
    with conn.transaction(), conn.pipeline():
        for i in order:
            event_id, payload = events[i]
            cursors[i] = conn.execute("SELECT status, id FROM inbox.ingest(%s, %s, %s)",
                                      (SOURCE, event_id, Jsonb(payload)))
    return [cursors[i].fetchone() for i in range(len(events))]
