'use strict';
/**
 * The load test of docs/node.md: deliveries from concurrent async workers.
 *
 *   node load.js [deliveries [workers [inbox|seed|both [tsv]]]]
 *
 * The same deliveries as examples/python/load.py (default 2,000, half of them
 * redeliveries; one redelivery in 20 with other content, one in 50
 * malformed), sent by `workers` async loops (default 8) over a pool of as many
 * connections:
 *
 *   inbox  webhookEndpoint: inbox.ingest_raw, then the payment, one transaction
 *   seed   the incidents' pattern: INSERT into a table with a UNIQUE key, catch
 *          23505, ROLLBACK, read the row again, then the payment
 *
 * Checks for each: the status of every delivery, exactly one payment per
 * distinct event, and for inbox no rolled-back transaction (xact_rollback of
 * pg_stat_database).  Run in a database made with ../python/schema.sql, with
 * no other session connected to it (their counts would be missed).
 */
const pg = require('pg');
const { createPool, webhookEndpoint } = require('./webhooks');

/** A small deterministic generator, so that every run sends the same order. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** [{headers, body, kind}]: kind is first, again, changed or malformed. */
function makeDeliveries(n, seed = 20261202) {
  const out = [];
  for (let i = 0; i < n / 2; i++) {
    const eventId = `evt_${i}`;
    const headers = { 'X-Event-Id': eventId, 'Content-Type': 'application/json' };
    const event = { id: eventId, type: 'payment.succeeded', amount: 100 + i };
    out.push({ headers, body: JSON.stringify(event), kind: 'first' });
    let body; let kind;
    if (i % 50 === 7) {
      body = `{"id": "${eventId}", "amount": `; kind = 'malformed';
    } else if (i % 20 === 3) {
      body = JSON.stringify({ ...event, amount: 1 }); kind = 'changed';
    } else {          // the same event, its keys in another order
      body = JSON.stringify({ amount: event.amount, type: event.type, id: eventId }); kind = 'again';
    }
    out.push({ headers: { ...headers, 'X-Retry': '1' }, body, kind });
  }
  const rnd = random(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function expectedCodes(deliveries) {
  const codes = {};
  for (const { kind } of deliveries) {
    const code = { first: 200, again: 200, changed: 409, malformed: 400 }[kind];
    codes[code] = (codes[code] || 0) + 1;
  }
  return codes;
}

/** The incidents' pattern, in node-postgres. */
async function seedEndpoint(pool, headers, body) {
  const eventId = headers['X-Event-Id'];
  let event;
  try {
    event = JSON.parse(body);
  } catch {
    return [400, { error: 'malformed JSON' }];
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query('INSERT INTO raw_webhooks (event_id, payload) VALUES ($1, $2)',
        [eventId, body]);
      await client.query('INSERT INTO seed_payments (event_id, amount) VALUES ($1, $2)',
        [eventId, event.amount]);
      await client.query('COMMIT');
      return [200, { status: 'inserted' }];
    } catch (err) {
      await client.query('ROLLBACK');
      if (err.code !== '23505') throw err;
      const { rows } = await client.query(
        'SELECT payload = $2::jsonb AS same FROM raw_webhooks WHERE event_id = $1', [eventId, body]);
      return rows[0].same ? [200, { status: 'duplicate' }] : [409, { status: 'conflict' }];
    }
  } finally {
    client.release();
  }
}

/** Rolled-back transactions of this database, once no other backend is left. */
async function xactRollbacks() {
  const client = new pg.Client();
  await client.connect();
  try {
    for (let i = 0; ; i++) {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      if (rows[0].n === 0) break;
      if (i === 100) throw new Error('other sessions stay connected: their counts would be missed');
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query(`SELECT xact_rollback::int AS n FROM pg_stat_database
      WHERE datname = current_database()`);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

async function query(sql, params) {
  const client = new pg.Client();
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Run one pattern; returns {ok, rate, rollbacks, problems}. */
async function check(pattern, deliveries, workers) {
  const table = pattern === 'inbox' ? 'payments' : 'seed_payments';
  await query("TRUNCATE payments, seed_payments, raw_webhooks; DELETE FROM inbox.events WHERE source = 'shop'");
  const rollbacks0 = await xactRollbacks();
  const pool = createPool(workers);
  const endpoint = pattern === 'inbox' ? webhookEndpoint : seedEndpoint;
  const codes = {};
  const errors = [];
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < deliveries.length) {
      const { headers, body } = deliveries[next++];
      try {
        const [code] = await endpoint(pool, headers, body);
        codes[code] = (codes[code] || 0) + 1;
      } catch (err) {
        errors.push(String(err));
      }
    }
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await pool.end();
  const rollbacks = (await xactRollbacks()) - rollbacks0;
  const [{ rows, events }] = await query(
    `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS events FROM ${table}`);
  const n = deliveries.length / 2;
  const problems = [];
  if (errors.length) problems.push(`${errors.length} deliveries failed, the first: ${errors[0]}`);
  const want = expectedCodes(deliveries);
  if (JSON.stringify(codes) !== JSON.stringify(want)) {
    problems.push(`status codes ${JSON.stringify(codes)}, expected ${JSON.stringify(want)}`);
  }
  if (rows !== n || events !== n) problems.push(`${rows} ${table} rows for ${events} events, expected ${n}`);
  if (pattern === 'inbox' && rollbacks !== 0) problems.push(`${rollbacks} transactions rolled back`);
  return { ok: problems.length === 0, rate: deliveries.length / seconds, rollbacks, problems };
}

async function main(argv) {
  const n = Number(argv[0] || 2000);
  const workers = Number(argv[1] || 8);
  const which = argv[2] || 'both';
  const tsv = argv[3] === 'tsv';     // pattern, deliveries/s, rolled back, ok (make bench)
  const deliveries = makeDeliveries(n);
  if (!tsv) {
    console.log(`node, pg ${require('pg/package.json').version}: ${n} deliveries of ${n / 2} events, ${workers} async workers`);
    console.log(`${'pattern'.padEnd(44)} ${'deliveries/s'.padStart(12)} ${'rolled back'.padStart(12)}  checks`);
  }
  let failed = false;
  for (const pattern of which === 'both' ? ['inbox', 'seed'] : [which]) {
    const r = await check(pattern, deliveries, workers);
    const label = pattern === 'inbox' ? 'inbox.ingest_raw + payment, one transaction'
      : 'seed: INSERT, 23505, ROLLBACK, read';
    if (tsv) {
      console.log(`${pattern}\t${r.rate.toFixed(1)}\t${r.rollbacks}\t${r.ok ? 'ok' : 'FAILED'}`);
    } else {
      console.log(`${label.padEnd(44)} ${r.rate.toFixed(0).padStart(12)} ${String(r.rollbacks).padStart(12)}  ${r.ok ? 'ok' : 'FAILED'}`);
    }
    for (const p of r.problems) (tsv ? console.error : console.log)(`  ${p}`);
    failed ||= !r.ok;
  }
  return failed ? 1 : 0;
}

module.exports = { makeDeliveries, expectedCodes, seedEndpoint, check, query };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    console.error(err);
    process.exitCode = 2;
  });
}
