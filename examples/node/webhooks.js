'use strict';
/**
 * A webhook endpoint and a worker on pg_inbox with node-postgres (pg).
 *
 * The handler takes the request's headers and raw body and returns the HTTP
 * status and a JSON answer; a web framework would call it from its route.
 * The event is stored with inbox.ingest_raw and the application's own row is
 * written in the same transaction, so both commit or neither does, and a
 * redelivery, a replay with other content or a malformed body is an answer,
 * never an error that aborts the transaction.
 *
 * The connection comes from the usual PG* variables (PGHOST, PGDATABASE ...).
 * The tables are in ../python/schema.sql; docs/node.md explains each part.
 */
const pg = require('pg');

const SOURCE = 'shop';

/** The HTTP status for each answer of ingest. */
const HTTP_STATUS = {
  inserted: 200,    // new: stored, and the application's row written
  duplicate: 200,   // seen before: nothing to do, but say "received"
  conflict: 409,    // the same id with other content: the stored event is kept
  rejected: 400,    // unusable (malformed JSON, an empty id ...): detail says why
};

/**
 * A row of inbox.ingest, inbox.ingest_raw (and, with ord, inbox.ingest_many).
 * @typedef {object} IngestAnswer
 * @property {'inserted'|'duplicate'|'conflict'|'rejected'} status
 * @property {string|null} id  inbox.events.id: a bigint, which pg returns as a
 *   string (a JS number would lose digits past 2^53); BigInt(id) to compute
 * @property {Date|null} received_at
 * @property {string|null} detail  why, for conflict and rejected
 */

/**
 * A row of inbox.claim.
 * @typedef {object} ClaimedEvent
 * @property {string} id  bigint, as a string
 * @property {string} source
 * @property {string} event_id
 * @property {number} attempt  1 on the first claim
 * @property {object|null} headers  jsonb, parsed by pg
 * @property {object|Array} payload  jsonb, parsed by pg
 */

/** One pool per process; max: the connections it may open. */
function createPool(max = 8) {
  return new pg.Pool({ max });
}

/**
 * The delivery's id, from a header: a body that is not JSON still has one.
 * @param {Record<string, string>} headers
 * @returns {string|null}
 */
function eventIdOf(headers) {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'x-event-id') return value;
  }
  return null;
}

/**
 * Store the delivery and write the payment it announces, on a client inside
 * the caller's transaction.
 * @param {pg.ClientBase} client
 * @param {Record<string, string>} headers
 * @param {string} body  the raw request body, as received
 * @returns {Promise<[number, {status: string, id: string|null, detail: string|null}]>}
 */
async function handleWebhook(client, headers, body) {
  const eventId = eventIdOf(headers);
  /** @type {IngestAnswer} */
  const answer = (await client.query(
    'SELECT status, id, received_at, detail FROM inbox.ingest_raw($1, $2, $3, $4)',
    [SOURCE, eventId, body,
      // JSON as text: pg would send a JS array as a PostgreSQL array literal
      Object.keys(headers).length ? JSON.stringify(headers) : null],
  )).rows[0];
  if (answer.status === 'inserted') {
    const event = JSON.parse(body);   // the server has parsed it: it is valid JSON
    await client.query('INSERT INTO payments (inbox_id, event_id, amount) VALUES ($1, $2, $3)',
      [answer.id, eventId, event.amount]);
  }
  return [HTTP_STATUS[answer.status],
    { status: answer.status, id: answer.id, detail: answer.detail }];
}

/**
 * Run fn(client) in a transaction on a client of the pool: COMMIT when it
 * returns, ROLLBACK when it throws.
 * @template T
 * @param {pg.Pool} pool
 * @param {(client: pg.PoolClient) => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function inTransaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/** The route: it owns the transaction. */
function webhookEndpoint(pool, headers, body) {
  return inTransaction(pool, (client) => handleWebhook(client, headers, body));
}

/**
 * Store an event already parsed (an object or an array): JSON.stringify it.
 * @returns {Promise<IngestAnswer>}
 */
async function ingestParsed(client, eventId, payload, headers = null) {
  const { rows } = await client.query(
    'SELECT status, id, received_at, detail FROM inbox.ingest($1, $2, $3, $4)',
    [SOURCE, eventId, JSON.stringify(payload), headers && JSON.stringify(headers)]);
  return rows[0];
}

// --- the worker --------------------------------------------------------------

/** The application's work for one event (here: one row). */
async function fulfil(client, event) {
  if (event.payload.fail) throw new Error('the warehouse said no');
  await client.query('INSERT INTO fulfilments VALUES ($1, $2, $3)',
    [event.id, event.event_id, event.attempt]);
}

class LostLease extends Error {}

/**
 * Claim up to maxEvents events and handle each in a transaction of its own
 * that also marks it done; a handler that throws rolls its writes back and
 * the failure is recorded.  Returns how many were claimed.
 * @param {pg.Pool} pool
 * @param {string} consumer  one name per worker process
 */
async function workOnce(pool, consumer, handler = fulfil, maxEvents = 10) {
  /** @type {ClaimedEvent[]} */
  const events = (await pool.query(      // outside BEGIN: its own transaction
    "SELECT id, source, event_id, attempt, headers, payload FROM inbox.claim($1, $2, '2 minutes')",
    [consumer, maxEvents])).rows;
  for (const event of events) {
    try {
      await inTransaction(pool, async (client) => {
        await handler(client, event);
        const { rows } = await client.query('SELECT inbox.complete($1, $2) AS held',
          [event.id, consumer]);
        if (!rows[0].held) throw new LostLease(event.id);   // rolls the handler's writes back
      });
    } catch (err) {
      if (err instanceof LostLease) continue;                // the other worker has it now
      await pool.query('SELECT inbox.fail($1, $2, $3)', [event.id, consumer, String(err.message)]);
    }
  }
  return events.length;
}

/** Drain what is claimable now. */
async function work(pool, consumer, handler = fulfil) {
  while (await workOnce(pool, consumer, handler) > 0) { /* again */ }
}

/**
 * A procedure that COMMITs must not run inside BEGIN: pool.query outside a
 * transaction is autocommit.
 */
async function callProcedure(pool, consumer) {
  await pool.query('CALL fulfil_pending($1)', [consumer]);
}

// --- upsert and the statement guard --------------------------------------------

/**
 * One log row per contact, whatever happened before.
 * @returns {Promise<{action: 'inserted'|'updated'|'unchanged', row: object}>}
 */
async function recordInvitation(client, contactId, status, errorMessage = null) {
  const { rows } = await client.query(
    `SELECT action, "row" FROM inbox.upsert('invitation_logs', $1, '{contact_id}')`,
    [JSON.stringify({ contact_id: contactId, status, error_message: errorMessage })]);
  return rows[0];
}

/** Code that keeps its own INSERT: the failure comes back as a row. */
async function insertInvitationGuarded(client, contactId, status) {
  const { rows } = await client.query(
    `SELECT ok, sqlstate, constraint_name FROM inbox.attempt(format(
       'INSERT INTO invitation_logs (contact_id, status) VALUES (%s, %L)', $1::bigint, $2::text))`,
    [contactId, status]);
  return rows[0];
}

module.exports = {
  SOURCE, HTTP_STATUS, createPool, eventIdOf, handleWebhook, inTransaction, webhookEndpoint,
  ingestParsed, fulfil, LostLease, workOnce, work, callProcedure, recordInvitation,
  insertInvitationGuarded,
};
