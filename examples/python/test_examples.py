"""Tests of the Python examples (docs/python.md), run by make test.

They make a database of their own (inbox_example_py) with schema.sql, on
the server of the PG* variables, and drop it at the end.  With
INBOX_VIA_POOLER set, PG* point at pgbouncer in transaction mode
(test/docs/pooler.sh).
"""

import json
import os
import threading
import unittest

import psycopg2
import psycopg2.errors

DB = "inbox_example_py"
VIA_POOLER = bool(os.environ.get("INBOX_VIA_POOLER"))     # test/docs/pooler.sh
HERE = os.path.dirname(os.path.abspath(__file__))


def admin(sql):
    conn = psycopg2.connect("dbname=postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def setUpModule():
    admin(f"DROP DATABASE IF EXISTS {DB}")
    admin(f"CREATE DATABASE {DB}")
    os.environ["PGDATABASE"] = DB       # before the first connection of any example
    conn = psycopg2.connect("")
    with conn, conn.cursor() as cur:
        with open(os.path.join(HERE, "schema.sql")) as f:
            cur.execute(f.read())
    conn.close()


def tearDownModule():
    import webhooks
    webhooks.engine.dispose()
    admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def query(sql, params=None):
    conn = psycopg2.connect("")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def delivery(event_id, amount, **extra):
    return ({"X-Event-Id": event_id, "Content-Type": "application/json"},
            json.dumps({"id": event_id, "type": "payment.succeeded", "amount": amount, **extra}))


class Base(unittest.TestCase):
    def setUp(self):
        query("TRUNCATE payments, fulfilments, invitation_logs, raw_webhooks, seed_payments;"
              "DELETE FROM inbox.events")


class SQLAlchemyHandler(Base):
    def test_each_answer_and_its_status(self):
        from webhooks import webhook_endpoint
        headers, body = delivery("evt_1", 500)
        self.assertEqual(webhook_endpoint(headers, body)[0], 200)
        code, answer = webhook_endpoint(headers, body.replace(" ", ""))
        self.assertEqual((code, answer["status"]), (200, "duplicate"))
        code, answer = webhook_endpoint(*delivery("evt_1", 501))
        self.assertEqual((code, answer["status"]), (409, "conflict"))
        code, answer = webhook_endpoint(headers, '{"id": "evt_2", "amount": ')
        self.assertEqual((code, answer["status"]), (400, "rejected"))
        self.assertIn("not valid JSON", answer["detail"])
        code, answer = webhook_endpoint({}, body)                  # no id header
        self.assertEqual((code, answer["status"]), (400, "rejected"))
        self.assertEqual(query("SELECT event_id, amount FROM payments"), [("evt_1", 500)])

    def test_one_session_survives_every_answer(self):
        """The incidents' failure: after a duplicate, the session still works."""
        from webhooks import Session, handle_webhook
        from sqlalchemy import text
        with Session.begin() as session:
            for headers, body in [delivery("evt_1", 1), delivery("evt_1", 1),
                                  delivery("evt_1", 2), ({"X-Event-Id": "evt_3"}, "{")]:
                handle_webhook(session, headers, body)
            session.flush()         # the ORM's pending Payment, before a text() query
            self.assertEqual(session.execute(text("SELECT count(*) FROM payments")).scalar(), 1)
        self.assertEqual(query("SELECT count(*) FROM inbox.events"), [(1,)])

    def test_headers(self):
        from webhooks import Session, ingest_table_valued, webhook_endpoint
        self.assertEqual(webhook_endpoint({"X-Event-Id": "evt_h"}, '{"amount": 1}')[0], 200)
        with Session.begin() as session:        # no headers: SQL NULL
            ingest_table_valued(session, "evt_no_headers", {"amount": 1}, None)
        self.assertEqual(query("SELECT event_id, headers ->> 'X-Event-Id' FROM inbox.events "
                               "ORDER BY id"), [("evt_h", "evt_h"), ("evt_no_headers", None)])

    def test_table_valued(self):
        from webhooks import Session, ingest_table_valued
        with Session.begin() as session:
            a = ingest_table_valued(session, "evt_tv", {"amount": 3}, {"X-Event-Id": "evt_tv"})
            b = ingest_table_valued(session, "evt_tv", {"amount": 3})
            c = ingest_table_valued(session, "evt_tv", [1, 2])
            d = ingest_table_valued(session, "evt_tv2", {"amount": 4}, {})
        self.assertEqual((a.status, b.status, c.status, d.status),
                         ("inserted", "duplicate", "conflict", "inserted"))
        self.assertEqual(a.id, b.id)


class Psycopg2Handler(Base):
    def test_handler_and_json(self):
        from webhooks import handle_webhook_psycopg2, ingest_parsed_psycopg2
        conn = psycopg2.connect("")
        try:
            self.assertEqual(handle_webhook_psycopg2(conn, *delivery("evt_p2", 7))[0], 200)
            self.assertEqual(handle_webhook_psycopg2(conn, *delivery("evt_p2", 7))[1]["status"],
                             "duplicate")
            self.assertEqual(handle_webhook_psycopg2(conn, {"X-Event-Id": "x"}, "nope")[0], 400)
            # a list is stored as a JSON array, thanks to Json()
            self.assertEqual(ingest_parsed_psycopg2(conn, "evt_list", [1, "a"])[0], "inserted")
            with self.assertRaises(psycopg2.ProgrammingError):     # a dict without Json()
                with conn, conn.cursor() as cur:
                    cur.execute("SELECT inbox.ingest('shop', 'evt_d', %s)", ({"a": 1},))
        finally:
            conn.close()
        self.assertEqual(query("SELECT payload FROM inbox.events WHERE event_id = 'evt_list'"),
                         [([1, "a"],)])
        self.assertEqual(query("SELECT count(*) FROM payments"), [(1,)])


class Psycopg3Handler(Base):
    def test_handler_and_jsonb(self):
        from webhooks import connect_psycopg, handle_webhook_psycopg
        with connect_psycopg() as conn:
            self.assertEqual(handle_webhook_psycopg(conn, *delivery("evt_p3", 9))[0], 200)
            self.assertEqual(handle_webhook_psycopg(conn, *delivery("evt_p3", 10))[0], 409)
            self.assertEqual(handle_webhook_psycopg(conn, {"X-Event-Id": "y"}, "[1,")[0], 400)
            # the connection is healthy: no transaction left open or aborted
            self.assertEqual(conn.info.transaction_status.name, "IDLE")
        self.assertEqual(query("SELECT event_id, amount FROM payments"), [("evt_p3", 9)])

    def test_pipeline_batches_from_threads(self):
        """8 threads, each 10 batches of 50 keys out of 100, in its own order:
        sorted inside, no deadlock, answers in the caller's order."""
        import random
        from webhooks import connect_psycopg, ingest_batch_pipeline
        errors, answers = [], []

        def run(seed):
            rng = random.Random(seed)
            try:
                with connect_psycopg() as conn:
                    for _ in range(10):
                        keys = rng.sample(range(100), 50)
                        got = ingest_batch_pipeline(conn, [(f"k{k:03}", {"k": k}) for k in keys])
                        answers.append((keys, got))
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=run, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        ids = dict(query("SELECT event_id, id FROM inbox.events"))
        for keys, got in answers:       # answer i belongs to key i
            self.assertEqual([i for _, i in got], [ids[f"k{k:03}"] for k in keys])
        self.assertEqual(sum(1 for _, g in answers for s, _ in g if s == "inserted"), len(ids))


class Worker(Base):
    def test_claim_complete_fail(self):
        from webhooks import Session, ingest_table_valued
        import worker
        with Session.begin() as session:
            for i in range(5):
                ingest_table_valued(session, f"evt_w{i}", {"n": i, "fail": i == 3})
        worker.work(consumer="test-worker")
        self.assertEqual(query("SELECT event_id, attempt FROM fulfilments ORDER BY 1"),
                         [(f"evt_w{i}", 1) for i in (0, 1, 2, 4)])
        self.assertEqual(query("SELECT event_id, state, attempts, last_error FROM inbox.events "
                               "WHERE state <> 'done'"),
                         [("evt_w3", "pending", 1, "the warehouse said no")])

    def test_lost_lease_rolls_back(self):
        from webhooks import Session, ingest_table_valued
        import worker
        with Session.begin() as session:
            ingest_table_valued(session, "evt_lease", {"n": 1})

        def handler(session, event):
            worker.fulfil(session, event)
            # meanwhile the lease ran out and another worker took the event
            query("UPDATE inbox.events SET locked_by = 'other' WHERE id = %s", (event.id,))

        self.assertEqual(worker.work_once(handler, consumer="slow"), 1)
        self.assertEqual(query("SELECT count(*) FROM fulfilments"), [(0,)])
        self.assertEqual(query("SELECT state, locked_by FROM inbox.events"),
                         [("processing", "other")])

    def test_call_needs_autocommit(self):
        from sqlalchemy import text
        from sqlalchemy.exc import InternalError
        from webhooks import Session, ingest_table_valued
        import worker
        with Session.begin() as session:
            ingest_table_valued(session, "evt_call", {"n": 1})
        with self.assertRaises(InternalError) as caught:
            with Session.begin() as session:
                session.execute(text("CALL fulfil_pending('in-a-session')"))
        self.assertIsInstance(caught.exception.orig, psycopg2.errors.InvalidTransactionTermination)
        worker.call_procedure("autocommit")
        self.assertEqual(query("SELECT event_id FROM fulfilments"), [("evt_call",)])


class UpsertAndGuard(Base):
    def test_invitation_log(self):
        from sqlalchemy import text
        from webhooks import Session
        from worker import insert_invitation_guarded, record_invitation
        with Session.begin() as session:
            self.assertEqual(record_invitation(session, 42, "sending", attempts=1)[0], "inserted")
            action, row = record_invitation(session, 42, "failed", "rate limited")
            self.assertEqual((action, row["error_message"], row["attempts"]),
                             ("updated", "rate limited", 1))
            ok, sqlstate, constraint = insert_invitation_guarded(session, 42, "it's failed")
            self.assertEqual((ok, sqlstate, constraint),
                             (False, "23505", "invitation_logs_contact_id_key"))
            self.assertEqual(session.execute(text(
                "SELECT value FROM app_config WHERE key = 'invitation_batch_size'")).scalar(), "50")
            self.assertTrue(insert_invitation_guarded(session, 43, "it's sent").ok)
        with Session.begin() as session:
            self.assertEqual(record_invitation(session, 42, "failed", "rate limited")[0],
                             "unchanged")
        self.assertEqual(query("SELECT contact_id, status FROM invitation_logs ORDER BY 1"),
                         [(42, "failed"), (43, "it's sent")])


class Load(Base):
    def test_2000_deliveries_8_threads(self):
        """0 aborted transactions, one payment per distinct event, the right statuses;
        and the seeds' pattern beside it, which needs a rollback per redelivery."""
        import load
        n = int(os.environ.get("LOAD_DELIVERIES", "2000"))
        deliveries = load.make_deliveries(n)
        if VIA_POOLER:      # the pooler's server connections stay: no counting
            ok, rate, rollbacks, problems = load.check("inbox", deliveries, 8, False)
            self.assertEqual(problems, [])
            print(f"# {n} deliveries, 8 threads, through the pooler: {rate:.0f}/s")
            return
        ok, rate, rollbacks, problems = load.check("inbox", deliveries, 8)
        self.assertEqual(problems, [])
        self.assertEqual(rollbacks, 0)
        ok, seed_rate, seed_rollbacks, problems = load.check("seed", deliveries, 8)
        self.assertEqual(problems, [])
        self.assertEqual(seed_rollbacks, n // 2 - n // 100)    # one per valid redelivery
        print(f"# {n} deliveries, 8 threads: pg_inbox {rate:.0f}/s, 0 rolled back; "
              f"seeds' pattern {seed_rate:.0f}/s, {seed_rollbacks} rolled back")


if __name__ == "__main__":
    unittest.main()
