"""The load test of docs/python.md: deliveries from concurrent workers.

    load.py [--deliveries N] [--workers N] [--pattern inbox|seed|both] [--tsv]

N deliveries (default 2,000) of N/2 distinct events: every event is
delivered twice, in shuffled order; one redelivery in 20 has other content
(a conflict) and one in 50 is malformed.  --workers threads (default 8) send
them through an endpoint, each with a SQLAlchemy session from one pool.

  inbox  webhook_endpoint of webhooks.py: inbox.ingest_raw, then the payment,
         in one transaction
  seed   the pattern of the incidents: an ORM INSERT into a table with a
         UNIQUE key, IntegrityError caught, rollback, the row read again,
         then the payment

Checks, for each pattern: every delivery answered with the status its kind
calls for, exactly one payment per distinct event, and for inbox no aborted
transaction (xact_rollback of pg_stat_database).  Prints one line per
pattern: deliveries/s and rolled-back transactions.  Exits 1 when a check
fails.  Run in a database made with schema.sql, with no other session
connected to it (their counts would be missed); it empties the tables first.
"""

import argparse
import json
import queue
import random
import sys
import threading
import time

import psycopg2
from sqlalchemy import Column, BigInteger, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from webhooks import Base, Session, engine, webhook_endpoint


class RawWebhook(Base):
    __tablename__ = "raw_webhooks"
    id = Column(BigInteger, primary_key=True)
    event_id = Column(Text, nullable=False, unique=True)
    payload = Column(JSONB, nullable=False)


class SeedPayment(Base):
    __tablename__ = "seed_payments"
    id = Column(BigInteger, primary_key=True)
    event_id = Column(Text, nullable=False)
    amount = Column(Integer, nullable=False)


def seed_endpoint(headers, body):
    """The incidents' pattern: INSERT, catch the unique violation, roll back, read again."""
    event_id = headers["X-Event-Id"]
    try:
        event = json.loads(body)
    except ValueError:
        return 400, {"error": "malformed JSON"}
    session = Session()
    try:
        session.add(RawWebhook(event_id=event_id, payload=event))
        session.add(SeedPayment(event_id=event_id, amount=event["amount"]))
        session.commit()
        return 200, {"status": "inserted"}
    except IntegrityError:
        session.rollback()              # the whole transaction, the payment with it
        stored = session.query(RawWebhook).filter_by(event_id=event_id).one()
        same = stored.payload == event
        session.commit()
        if same:
            return 200, {"status": "duplicate"}
        return 409, {"status": "conflict"}
    finally:
        session.close()


def make_deliveries(n, seed=20261202):
    """[(headers, body, kind)]: kind is "first", "again", "changed" or "malformed"."""
    rng = random.Random(seed)
    deliveries = []
    for i in range(n // 2):
        event_id = f"evt_{i}"
        headers = {"X-Event-Id": event_id, "Content-Type": "application/json"}
        event = {"id": event_id, "type": "payment.succeeded", "amount": 100 + i}
        deliveries.append((headers, json.dumps(event), "first"))
        if i % 50 == 7:
            again, kind = '{"id": "%s", "amount": ' % event_id, "malformed"
        elif i % 20 == 3:
            again, kind = json.dumps(dict(event, amount=1)), "changed"
        else:       # the same event, its keys in another order
            again, kind = json.dumps(dict(reversed(list(event.items())))), "again"
        deliveries.append((dict(headers, **{"X-Retry": "1"}), again, kind))
    rng.shuffle(deliveries)
    return deliveries


def expected_codes(deliveries):
    """Status code counts: each event's first valid delivery is 200 (inserted), and
    so are exact repeats; the other valid version is 409; malformed is 400."""
    codes = {}
    for _, _, kind in deliveries:
        code = {"first": 200, "again": 200, "changed": 409, "malformed": 400}[kind]
        codes[code] = codes.get(code, 0) + 1
    return codes


def xact_rollbacks():
    """Transactions rolled back in this database so far, once every other backend
    has exited (a backend reports its counts at the latest when it exits).  On
    a connection in autocommit, so that reading rolls nothing back itself."""
    conn = psycopg2.connect("")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for i in range(101):
                cur.execute("""SELECT count(*) FROM pg_stat_activity
                               WHERE datname = current_database() AND pid <> pg_backend_pid()""")
                if cur.fetchone()[0] == 0:
                    break
                if i == 100:
                    raise RuntimeError("other sessions stay connected: their counts would be missed")
                time.sleep(0.1)
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("""SELECT xact_rollback FROM pg_stat_database
                           WHERE datname = current_database()""")
            return cur.fetchone()[0]
    finally:
        conn.close()


def run(endpoint, deliveries, workers):
    """Send the deliveries from `workers` threads; returns (codes, seconds, errors)."""
    work = queue.Queue()
    for d in deliveries:
        work.put(d)
    codes, errors, lock = {}, [], threading.Lock()

    def worker():
        while True:
            try:
                headers, body, _ = work.get_nowait()
            except queue.Empty:
                return
            try:
                code, _ = endpoint(headers, body)
            except Exception as exc:        # an aborted transaction lands here
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, time.monotonic() - start, errors


def check(pattern, deliveries, workers, count_rollbacks=True):
    """Run one pattern and check it; returns (ok, rate, rollbacks, messages).
    Without count_rollbacks (behind a pooler, whose server connections stay
    connected), rollbacks is None: an aborted transaction still shows, as a
    delivery that raised."""
    table = "payments" if pattern == "inbox" else "seed_payments"
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE payments, seed_payments, raw_webhooks"))
        conn.execute(text("DELETE FROM inbox.events WHERE source = 'shop'"))
    engine.dispose()        # every backend's statistics flushed at its exit
    rollbacks0 = xact_rollbacks() if count_rollbacks else None
    endpoint = webhook_endpoint if pattern == "inbox" else seed_endpoint
    codes, seconds, errors = run(endpoint, deliveries, workers)
    engine.dispose()
    rollbacks = xact_rollbacks() - rollbacks0 if count_rollbacks else None
    with engine.connect() as conn:
        rows, distinct = conn.execute(text(
            f"SELECT count(*), count(DISTINCT event_id) FROM {table}")).one()
    events = len(deliveries) // 2
    problems = []
    if errors:
        problems.append(f"{len(errors)} deliveries raised, the first: {errors[0]}")
    if codes != expected_codes(deliveries):
        problems.append(f"status codes {codes}, expected {expected_codes(deliveries)}")
    if rows != events or distinct != events:
        problems.append(f"{rows} {table} rows for {distinct} events, expected {events} for {events}")
    if pattern == "inbox" and rollbacks not in (0, None):
        problems.append(f"{rollbacks} transactions rolled back, expected 0")
    return not problems, len(deliveries) / seconds, rollbacks, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--pattern", choices=["inbox", "seed", "both"], default="both")
    parser.add_argument("--tsv", action="store_true",
                        help="print pattern, deliveries/s, rolled back, ok or FAILED (make bench)")
    args = parser.parse_args(argv)
    deliveries = make_deliveries(args.deliveries)
    patterns = ["inbox", "seed"] if args.pattern == "both" else [args.pattern]
    if not args.tsv:
        print(f"python, SQLAlchemy + psycopg2: {len(deliveries)} deliveries of "
              f"{len(deliveries) // 2} events, {args.workers} threads")
        print(f"{'pattern':<44} {'deliveries/s':>12} {'rolled back':>12}  checks")
    failed = False
    for pattern in patterns:
        ok, rate, rollbacks, problems = check(pattern, deliveries, args.workers)
        label = ("inbox.ingest_raw + payment, one transaction" if pattern == "inbox"
                 else "seed: INSERT, IntegrityError, rollback, read")
        if args.tsv:
            print(f"{pattern}\t{rate:.1f}\t{rollbacks}\t{'ok' if ok else 'FAILED'}")
        else:
            print(f"{label:<44} {rate:>12.0f} {rollbacks:>12}  {'ok' if ok else 'FAILED'}")
        for p in problems:
            print(f"  {p}", file=sys.stderr if args.tsv else sys.stdout)
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
