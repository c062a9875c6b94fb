'use strict';
// Tests of the node examples (docs/node.md), run by make test with
// node --test.  They make a database of their own (inbox_example_node) with
// ../python/schema.sql on the server of the PG* variables, and drop it.
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const pg = require('pg');

const DB = 'inbox_example_node';

async function admin(sql) {
  const client = new pg.Client({ database: 'postgres' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let app; let load; let pool;

before(async () => {
  await admin(`DROP DATABASE IF EXISTS ${DB}`);
  await admin(`CREATE DATABASE ${DB}`);
  process.env.PGDATABASE = DB;
  const client = new pg.Client();
  await client.connect();
  await client.query(fs.readFileSync(path.join(__dirname, '../../python/schema.sql'), 'utf8'));
  await client.end();
  app = require('../webhooks');
  load = require('../load');
  pool = app.createPool(8);
});

after(async () => {
  await pool.end();
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
});

beforeEach(async () => {
  await pool.query('TRUNCATE payments, fulfilments, invitation_logs, raw_webhooks, seed_payments; DELETE FROM inbox.events');
});

function delivery(eventId, amount, extra = {}) {
  return [{ 'X-Event-Id': eventId, 'Content-Type': 'application/json' },
    JSON.stringify({ id: eventId, type: 'payment.succeeded', amount, ...extra })];
}

test('each answer and its HTTP status; one payment', async () => {
  const [headers, body] = delivery('evt_1', 500);
  const [code, first] = await app.webhookEndpoint(pool, headers, body);
  assert.equal(code, 200);
  assert.equal(typeof first.id, 'string');                 // a bigint comes as a string
  assert.equal(BigInt(first.id) > 0n, true);
  const [code2, again] = await app.webhookEndpoint(pool, headers, body.replaceAll(' ', ''));
  assert.deepEqual([code2, again.status, again.id], [200, 'duplicate', first.id]);
  assert.deepEqual((await app.webhookEndpoint(pool, ...delivery('evt_1', 501)))[0], 409);
  const [code4, bad] = await app.webhookEndpoint(pool, headers, '{"amount": ');
  assert.deepEqual([code4, bad.status], [400, 'rejected']);
  assert.match(bad.detail, /not valid JSON/);
  assert.equal((await app.webhookEndpoint(pool, {}, body))[0], 400);    // no id header
  const { rows } = await pool.query('SELECT event_id, amount FROM payments');
  assert.deepEqual(rows, [{ event_id: 'evt_1', amount: 500 }]);
});

test('one transaction survives every answer', async () => {
  await app.inTransaction(pool, async (client) => {
    for (const [h, b] of [delivery('evt_1', 1), delivery('evt_1', 1), delivery('evt_1', 2),
      [{ 'X-Event-Id': 'evt_3' }, '{']]) {
      await app.handleWebhook(client, h, b);
    }
    const { rows } = await client.query('SELECT count(*)::int AS n FROM payments');
    assert.equal(rows[0].n, 1);
  });
});

test('JSON as text: an array stays a JSON array', async () => {
  const client = await pool.connect();
  try {
    assert.equal((await app.ingestParsed(client, 'evt_arr', [1, 'a'])).status, 'inserted');
    // what happens without JSON.stringify: pg sends {"1","a"}, an array literal, and the
    // cast to jsonb fails: the statement raises 22P02
    await assert.rejects(client.query("SELECT inbox.ingest('shop', 'evt_raw', $1)", [[1, 'a']]),
      (err) => err.code === '22P02');
    const { rows } = await client.query("SELECT payload FROM inbox.events WHERE event_id = 'evt_arr'");
    assert.deepEqual(rows[0].payload, [1, 'a']);
  } finally {
    client.release();
  }
});

test('worker: claim, complete, fail', async () => {
  const client = await pool.connect();
  try {
    for (let i = 0; i < 5; i++) await app.ingestParsed(client, `evt_w${i}`, { n: i, fail: i === 3 });
  } finally {
    client.release();
  }
  await app.work(pool, 'test-worker');
  const done = await pool.query('SELECT event_id, attempt FROM fulfilments ORDER BY 1');
  assert.deepEqual(done.rows.map((r) => r.event_id), ['evt_w0', 'evt_w1', 'evt_w2', 'evt_w4']);
  const failed = await pool.query("SELECT event_id, state, attempts, last_error FROM inbox.events WHERE state <> 'done'");
  assert.deepEqual(failed.rows, [{ event_id: 'evt_w3', state: 'pending', attempts: 1, last_error: 'the warehouse said no' }]);
});

test('worker: a lost lease rolls the handler back', async () => {
  const client = await pool.connect();
  await app.ingestParsed(client, 'evt_lease', { n: 1 });
  client.release();
  const n = await app.workOnce(pool, 'slow', async (c, event) => {
    await app.fulfil(c, event);
    await pool.query("UPDATE inbox.events SET locked_by = 'other' WHERE id = $1", [event.id]);
  });
  assert.equal(n, 1);
  assert.deepEqual((await pool.query('SELECT count(*)::int AS n FROM fulfilments')).rows, [{ n: 0 }]);
});

test('CALL inside BEGIN fails; pool.query is autocommit', async () => {
  const client = await pool.connect();
  try {
    await app.ingestParsed(client, 'evt_call', { n: 1 });
    await client.query('BEGIN');
    await assert.rejects(client.query("CALL fulfil_pending('in-a-transaction')"),
      (err) => err.code === '2D000');                       // invalid_transaction_termination
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  await app.callProcedure(pool, 'autocommit');
  assert.deepEqual((await pool.query('SELECT event_id FROM fulfilments')).rows, [{ event_id: 'evt_call' }]);
});

test('upsert and the statement guard', async () => {
  await app.inTransaction(pool, async (client) => {
    assert.equal((await app.recordInvitation(client, 42, 'sending')).action, 'inserted');
    const r = await app.recordInvitation(client, 42, 'failed', 'rate limited');
    assert.deepEqual([r.action, r.row.error_message], ['updated', 'rate limited']);
    assert.deepEqual(await app.insertInvitationGuarded(client, 42, "it's failed"),
      { ok: false, sqlstate: '23505', constraint_name: 'invitation_logs_contact_id_key' });
    const { rows } = await client.query("SELECT value FROM app_config WHERE key = 'invitation_batch_size'");
    assert.equal(rows[0].value, '50');                      // the transaction goes on
  });
  await app.inTransaction(pool, async (client) => {
    assert.equal((await app.recordInvitation(client, 42, 'failed', 'rate limited')).action, 'unchanged');
  });
});

test('2,000 deliveries from 8 async workers: no rollback, one payment per event', async () => {
  await pool.end();                 // no other session in the database while it counts
  pool = app.createPool(8);
  const n = Number(process.env.LOAD_DELIVERIES || 2000);
  const deliveries = load.makeDeliveries(n);
  const inbox = await load.check('inbox', deliveries, 8);
  assert.deepEqual(inbox.problems, []);
  assert.equal(inbox.rollbacks, 0);
  const seed = await load.check('seed', deliveries, 8);
  assert.deepEqual(seed.problems, []);
  assert.equal(seed.rollbacks, n / 2 - n / 100);           // one per valid redelivery
  console.log(`# ${n} deliveries, 8 workers: pg_inbox ${inbox.rate.toFixed(0)}/s, 0 rolled back; `
    + `seeds' pattern ${seed.rate.toFixed(0)}/s, ${seed.rollbacks} rolled back`);
});
