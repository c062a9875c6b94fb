"""The worker loop on pg_inbox with SQLAlchemy: claim, handle, complete or fail.

Each event is handled in a transaction of its own that also marks it done,
so the application's writes and "done" commit together; a handler that
raises rolls its writes back, and the failure is recorded in a transaction
of its own (the event comes back after a delay, or ends "dead" after its
source's attempt limit).  Also: the upsert and the statement guard, which
end the other two ways the incidents' sessions got poisoned.
"""

import json
import os
import socket

from sqlalchemy import text

from webhooks import Session, engine

# one name per worker process: two processes under one name could complete
# each other's events
CONSUMER = f"{socket.gethostname()}-{os.getpid()}"

CLAIM = text("""
    SELECT id, source, event_id, attempt, payload
    FROM inbox.claim(:consumer, :max_events, CAST(:lease AS interval))
""")
COMPLETE = text("SELECT inbox.complete(:id, :consumer)")
FAIL = text("SELECT inbox.fail(:id, :consumer, :error)")


class LostLease(Exception):
    """The lease ran out and another worker claimed the event."""


def fulfil(session, event):
    """The application's work for one event (here: one row)."""
    if event.payload.get("fail"):
        raise RuntimeError("the warehouse said no")
    session.execute(text("INSERT INTO fulfilments VALUES (:id, :event_id, :attempt)"),
                    {"id": event.id, "event_id": event.event_id, "attempt": event.attempt})


def work_once(handler=fulfil, consumer=CONSUMER, max_events=10, lease="2 minutes"):
    """Claim up to max_events events and handle each; returns how many were claimed."""
    with Session.begin() as session:
        events = session.execute(CLAIM, {"consumer": consumer, "max_events": max_events,
                                         "lease": lease}).all()
    for event in events:
        try:
            with Session.begin() as session:
                handler(session, event)
                held = session.execute(COMPLETE, {"id": event.id,
                                                  "consumer": consumer}).scalar_one()
                if not held:
                    raise LostLease(event.id)       # rolls the handler's writes back
        except LostLease:
            pass                                    # the other worker has it now
        except Exception as exc:                    # the handler failed: record it
            with Session.begin() as session:
                session.execute(FAIL, {"id": event.id, "consumer": consumer,
                                       "error": str(exc)})
    return len(events)


def work(handler=fulfil, consumer=CONSUMER):
    """Drain what is claimable now."""
    while work_once(handler, consumer):
        pass


def call_procedure(consumer=CONSUMER):
    """A procedure that COMMITs cannot run inside the Session's transaction
    (InvalidTransactionTermination): call it on a connection in autocommit."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CALL fulfil_pending(:w)"), {"w": consumer})


# --- upsert and the statement guard ------------------------------------------

UPSERT = text("""
    SELECT action, "row"
    FROM inbox.upsert('invitation_logs', CAST(:data AS jsonb), '{contact_id}')
""")


def record_invitation(session, contact_id, status, error_message=None, attempts=None):
    """One log row per contact, whatever happened before: inserted, updated or
    unchanged, never a unique violation that aborts the session's transaction."""
    data = {"contact_id": contact_id, "status": status, "error_message": error_message}
    if attempts is not None:
        data["attempts"] = attempts
    action, row = session.execute(UPSERT, {"data": json.dumps(data)}).one()
    return action, row          # row: the stored row as a dict


GUARDED_INSERT = text("""
    SELECT ok, sqlstate, constraint_name
    FROM inbox.attempt(format(
        'INSERT INTO invitation_logs (contact_id, status) VALUES (%s, %L)',
        CAST(:contact_id AS bigint), CAST(:status AS text)))
""")


def insert_invitation_guarded(session, contact_id, status):
    """Code that keeps its own INSERT: only that statement is undone when it
    fails, and the error comes back as a row.  format() with %L quotes the
    values on the server; never paste untrusted text into the statement."""
    return session.execute(GUARDED_INSERT, {"contact_id": contact_id, "status": status}).one()
