--
-- Webhook signatures: inbox.verify_signature (Standard Webhooks),
-- inbox.verify_stripe_signature, inbox.verify_github_signature and
-- inbox.ingest_verified.  Published vectors, vectors computed with openssl
-- when the test was written (the command is beside each), and vectors
-- computed now with pgcrypto's hmac() (OpenSSL's, not PostgreSQL's own
-- HMAC), so that fresh timestamps can be signed.
--
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Standard Webhooks: "v1," and base64 of HMAC-SHA256(id.ts.body) under the
-- base64-decoded secret
CREATE FUNCTION pg_temp.std_sign(secret_b64 text, id text, ts bigint, body text)
RETURNS text LANGUAGE sql AS $$
	SELECT 'v1,' || encode(public.hmac(convert_to(id || '.' || ts || '.' || body, 'UTF8'),
									   decode(secret_b64, 'base64'), 'sha256'), 'base64')
$$;
-- Stripe: "t=ts,v1=" and hex of HMAC-SHA256(ts.body) under the secret as it is
CREATE FUNCTION pg_temp.stripe_sign(secret text, ts bigint, body text)
RETURNS text LANGUAGE sql AS $$
	SELECT 't=' || ts || ',v1=' || encode(public.hmac(convert_to(ts || '.' || body, 'UTF8'),
													  convert_to(secret, 'UTF8'), 'sha256'), 'hex')
$$;
CREATE FUNCTION pg_temp.github_sign(secret text, body text)
RETURNS text LANGUAGE sql AS $$
	SELECT 'sha256=' || encode(public.hmac(convert_to(body, 'UTF8'),
										   convert_to(secret, 'UTF8'), 'sha256'), 'hex')
$$;
SELECT extract(epoch FROM pg_catalog.clock_timestamp())::bigint AS now_ts \gset

-- ---- Standard Webhooks: the specification's published vector ----
-- (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts,
-- "sign function works"; also printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'
--   | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(echo -n MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p) -binary | base64)
\set secret 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
\set raw_secret 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
\set msg_id 'msg_p5jXN8AQM9LWM0D4loKWxJek'
\set body '{"test": 2432232314}'
\set sig 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
-- the vector is from 2021: within a tolerance of 20 years, not of 5 minutes
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', :'sig', '20 years') AS spec_vector;
SELECT inbox.verify_signature(:'raw_secret', :'msg_id', 1614265330, :'body', :'sig', '20 years') AS without_prefix;
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', :'sig') AS too_old_by_default;
-- several signatures, versions other than v1 skipped, any v1 match wins
-- (the library's "multi sig payload is valid")
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body',
	'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= '
	|| :'sig' || ' v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', '20 years') AS multi_sig;
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', '  ' || :'sig' || '  ', '20 years') AS extra_spaces;

-- ---- negative cases: false, never an error ----
SELECT t.case, inbox.verify_signature(t.secret, t.id, t.ts, t.body, t.header, '20 years') AS verified
FROM (VALUES
	('wrong secret', 'whsec_' || encode('another secret of 24 b.'::bytea, 'base64'), :'msg_id', 1614265330, :'body', :'sig'),
	('tampered id', :'secret', 'msg_p5jXN8AQM9LWM0D4loKWxJeK', 1614265330, :'body', :'sig'),
	('tampered timestamp', :'secret', :'msg_id', 1614265331, :'body', :'sig'),
	('tampered body', :'secret', :'msg_id', 1614265330, '{"test": 2432232315}', :'sig'),
	('body with a space more', :'secret', :'msg_id', 1614265330, '{"test":  2432232314}', :'sig'),
	('last character changed', :'secret', :'msg_id', 1614265330, :'body', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF='),
	('padding removed', :'secret', :'msg_id', 1614265330, :'body', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE'),
	('padding doubled', :'secret', :'msg_id', 1614265330, :'body', :'sig' || '='),
	('version v1a', :'secret', :'msg_id', 1614265330, :'body', 'v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='),
	('version v2', :'secret', :'msg_id', 1614265330, :'body', 'v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='),
	('version V1', :'secret', :'msg_id', 1614265330, :'body', 'V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='),
	('no version', :'secret', :'msg_id', 1614265330, :'body', 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='),
	('empty header', :'secret', :'msg_id', 1614265330, :'body', ''),
	('spaces only', :'secret', :'msg_id', 1614265330, :'body', '   '),
	('v1, only', :'secret', :'msg_id', 1614265330, :'body', 'v1,'),
	('truncated to 8', :'secret', :'msg_id', 1614265330, :'body', left(:'sig', 8)),
	('truncated by one', :'secret', :'msg_id', 1614265330, :'body', left(:'sig', -1)),
	('garbled', :'secret', :'msg_id', 1614265330, :'body', 'v1,dawfeoifkpqwoekfpqoekf'),
	('comma separated', :'secret', :'msg_id', 1614265330, :'body', 'v1,x,' || :'sig'),
	('hex instead of base64', :'secret', :'msg_id', 1614265330, :'body', 'v1,8348' || repeat('0', 60)),
	('secret not base64', 'whsec_not base64!', :'msg_id', 1614265330, :'body', :'sig'),
	('secret of bad length', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS', :'msg_id', 1614265330, :'body', :'sig'),
	('secret prefix only', 'whsec_', :'msg_id', 1614265330, :'body', :'sig'),
	('empty secret', '', :'msg_id', 1614265330, :'body', :'sig'),
	('prefix twice', 'whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', :'msg_id', 1614265330, :'body', :'sig'),
	('negative timestamp', :'secret', :'msg_id', -1614265330, :'body', :'sig'),
	('huge timestamp', :'secret', :'msg_id', 9223372036854775807, :'body', :'sig')
) AS t("case", secret, id, ts, body, header);

-- fresh signatures: within the default tolerance on both sides, not beyond
SELECT t.case, inbox.verify_signature(:'secret', 'msg_fresh', t.ts, '{"a":1}',
									  pg_temp.std_sign(:'raw_secret', 'msg_fresh', t.ts, '{"a":1}')) AS verified
FROM (VALUES ('now', :now_ts), ('4 minutes old', :now_ts - 240), ('4 minutes ahead', :now_ts + 240),
			 ('6 minutes old', :now_ts - 360), ('6 minutes ahead', :now_ts + 360),
			 ('a day old', :now_ts - 86400)) AS t("case", ts);
SELECT inbox.verify_signature(:'secret', 'msg_fresh', :now_ts - 360, '{"a":1}',
							  pg_temp.std_sign(:'raw_secret', 'msg_fresh', :now_ts - 360, '{"a":1}'),
							  '10 minutes') AS six_minutes_old_within_ten;
SELECT inbox.verify_signature(:'secret', 'msg_fresh', :now_ts, '{"a":1}',
							  pg_temp.std_sign(:'raw_secret', 'msg_fresh', :now_ts, '{"a":1}'),
							  '30 seconds') AS thirty_seconds_now;
-- non-ASCII bodies are signed as their UTF-8 bytes
SELECT inbox.verify_signature(:'secret', 'msg_utf8', :now_ts, '{"name":"Zoë ✓"}',
							  pg_temp.std_sign(:'raw_secret', 'msg_utf8', :now_ts, '{"name":"Zoë ✓"}')) AS utf8_body;

-- NULL in, NULL out; a negative tolerance is a programming error
SELECT inbox.verify_signature(NULL, :'msg_id', 1614265330, :'body', :'sig') IS NULL AS null_secret,
	   inbox.verify_signature(:'secret', NULL, 1614265330, :'body', :'sig') IS NULL AS null_id,
	   inbox.verify_signature(:'secret', :'msg_id', NULL, :'body', :'sig') IS NULL AS null_ts,
	   inbox.verify_signature(:'secret', :'msg_id', 1614265330, NULL, :'sig') IS NULL AS null_body,
	   inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', NULL) IS NULL AS null_header,
	   inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', :'sig', NULL) IS NULL AS null_tolerance;
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', :'sig', '-1 second');
SELECT inbox.verify_signature(:'secret', :'msg_id', 1614265330, :'body', :'sig', '1 day -25 hours');

-- ---- Stripe ----
-- printf '%s' '1700000000.{"id":"evt_1","object":"event"}' | openssl dgst -sha256 -hmac 'whsec_stripe_test_secret'
\set st_secret 'whsec_stripe_test_secret'
\set st_body '{"id":"evt_1","object":"event"}'
\set st_sig 'f0b45ad397b7d5f0c0a066aba48c4fdbf1e7da80b9ce240806f9bd530f378263'
SELECT inbox.verify_stripe_signature(:'st_secret', :'st_body', 't=1700000000,v1=' || :'st_sig', '10 years') AS openssl_vector;
SELECT inbox.verify_stripe_signature(:'st_secret', :'st_body', 't=1700000000,v1=' || :'st_sig') AS too_old_by_default;
SELECT inbox.verify_stripe_signature(:'st_secret', :'st_body',
	't=1700000000,v1=' || repeat('0', 64) || ',v1=' || :'st_sig' || ',v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39',
	'10 years') AS second_v1_matches;
SELECT t.case, inbox.verify_stripe_signature(t.secret, t.body, t.header, '10 years') AS verified
FROM (VALUES
	('wrong secret', 'whsec_stripe_test_secreT', :'st_body', 't=1700000000,v1=' || :'st_sig'),
	('secret without whsec_', 'stripe_test_secret', :'st_body', 't=1700000000,v1=' || :'st_sig'),
	('tampered body', :'st_secret', '{"id":"evt_2","object":"event"}', 't=1700000000,v1=' || :'st_sig'),
	('tampered timestamp', :'st_secret', :'st_body', 't=1700000001,v1=' || :'st_sig'),
	('last character changed', :'st_secret', :'st_body', 't=1700000000,v1=' || left(:'st_sig', -1) || '4'),
	('upper-case hex', :'st_secret', :'st_body', 't=1700000000,v1=' || upper(:'st_sig')),
	('v0 only', :'st_secret', :'st_body', 't=1700000000,v0=' || :'st_sig'),
	('no timestamp', :'st_secret', :'st_body', 'v1=' || :'st_sig'),
	('timestamp not a number', :'st_secret', :'st_body', 't=17000000x0,v1=' || :'st_sig'),
	('empty timestamp', :'st_secret', :'st_body', 't=,v1=' || :'st_sig'),
	('empty header', :'st_secret', :'st_body', ''),
	('garbled', :'st_secret', :'st_body', ',,,=,t,v1'),
	('truncated', :'st_secret', :'st_body', 't=1700000000,v1=' || left(:'st_sig', 63)),
	('space after comma', :'st_secret', :'st_body', 't=1700000000, v1=' || :'st_sig')
) AS t("case", secret, body, header);
SELECT t.case, inbox.verify_stripe_signature(:'st_secret', :'st_body', pg_temp.stripe_sign(:'st_secret', t.ts, :'st_body')) AS verified
FROM (VALUES ('now', :now_ts), ('4 minutes old', :now_ts - 240), ('6 minutes old', :now_ts - 360),
			 ('6 minutes ahead', :now_ts + 360)) AS t("case", ts);
SELECT inbox.verify_stripe_signature(:'st_secret', :'st_body', 't=1700000000,v1=' || :'st_sig', '-1 minute');

-- ---- GitHub ----
-- GitHub's documented example ("Validating webhook deliveries"); also
-- printf '%s' 'Hello, World!' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"
SELECT inbox.verify_github_signature('It''s a Secret to Everybody', 'Hello, World!',
	'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17') AS github_docs_vector;
-- printf '%s' '{"zen":"Keep it logically awesome."}' | openssl dgst -sha256 -hmac 'gh-secret'
SELECT inbox.verify_github_signature('gh-secret', '{"zen":"Keep it logically awesome."}',
	'sha256=fb876035d1fcf10874898ecb5733ce2c5ba89c3caec7d2a2f05d3f174e1bd6af') AS openssl_vector;
SELECT t.case, inbox.verify_github_signature(t.secret, t.body, t.header) AS verified
FROM (VALUES
	('wrong secret', 'It''s a secret to everybody', 'Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'),
	('tampered body', 'It''s a Secret to Everybody', 'Hello, World?', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'),
	('last character changed', 'It''s a Secret to Everybody', 'Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e16'),
	('no prefix', 'It''s a Secret to Everybody', 'Hello, World!', '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'),
	('sha1 prefix', 'It''s a Secret to Everybody', 'Hello, World!', 'sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'),
	('upper-case hex', 'It''s a Secret to Everybody', 'Hello, World!', 'sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17'),
	('truncated', 'It''s a Secret to Everybody', 'Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1'),
	('prefix only', 'It''s a Secret to Everybody', 'Hello, World!', 'sha256='),
	('empty header', 'It''s a Secret to Everybody', 'Hello, World!', ''),
	('empty secret', '', 'Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')
) AS t("case", secret, body, header);
SELECT inbox.verify_github_signature('gh', '{"a":1}', pg_temp.github_sign('gh', '{"a":1}')) AS pgcrypto_vector,
	   inbox.verify_github_signature(NULL, '{"a":1}', 'sha256=') IS NULL AS null_secret;

-- ---- inbox.ingest_verified ----
SELECT inbox.reset_stats();
INSERT INTO inbox.sources (source, signature_scheme) VALUES
	('sig-std', 'standard'), ('sig-stripe', 'stripe'), ('sig-gh', 'github'), ('sig-none', NULL);
INSERT INTO inbox.sources (source, signature_scheme, event_id_path, max_payload_bytes)
VALUES ('sig-path', 'github', '{data,0,ref}', 200);
-- rotation: an old key that expires later, a new one, and an expired one
INSERT INTO inbox.source_secrets (source, key_id, secret, expires_at) VALUES
	('sig-std', 'old', 'whsec_' || encode('old secret for sig-std..'::bytea, 'base64'), now() + interval '1 day'),
	('sig-std', 'new', :'secret', NULL),
	('sig-std', 'gone', 'whsec_' || encode('expired secret of sig-st'::bytea, 'base64'), now() - interval '1 second'),
	('sig-stripe', 'k1', :'st_secret', NULL),
	('sig-gh', 'k1', 'gh-secret', NULL),
	('sig-path', 'k1', 'gh-secret', NULL);

CREATE FUNCTION pg_temp.std_headers(secret_b64 text, id text, ts bigint, body text)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('Webhook-Id', id, 'Webhook-Timestamp', ts::text,
							  'Webhook-Signature', pg_temp.std_sign(secret_b64, id, ts, body),
							  'Content-Type', 'application/json')
$$;
\set new_b64 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
SELECT encode('old secret for sig-std..'::bytea, 'base64') AS old_b64 \gset
SELECT encode('expired secret of sig-st'::bytea, 'base64') AS gone_b64 \gset

BEGIN;
-- verified by the new key, then by the old one (both active): stored with
-- the key id; the same delivery again is a duplicate
SELECT status, id IS NOT NULL AS has_id, detail, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":1}', pg_temp.std_headers(:'new_b64', 'msg_1', :now_ts, '{"n":1}'));
SELECT status, id IS NOT NULL AS has_id, detail, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":2}', pg_temp.std_headers(:'old_b64', 'msg_2', :now_ts, '{"n":2}'));
SELECT status, detail, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":1}', pg_temp.std_headers(:'new_b64', 'msg_1', :now_ts, '{"n":1}'));
SELECT status, detail, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":"other"}', pg_temp.std_headers(:'new_b64', 'msg_1', :now_ts, '{"n":"other"}'));
-- lower-case and mixed-case header names alike
SELECT status, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":3}',
	(SELECT jsonb_object_agg(lower(k), v) FROM jsonb_each(pg_temp.std_headers(:'new_b64', 'msg_3', :now_ts, '{"n":3}')) AS h(k, v)));
SELECT status, reason, key_id
FROM inbox.ingest_verified('sig-std', '{"n":4}',
	(SELECT jsonb_object_agg(upper(k), v) FROM jsonb_each(pg_temp.std_headers(:'new_b64', 'msg_4', :now_ts, '{"n":4}')) AS h(k, v)));

-- every failure is a value; the transaction goes on
SELECT t.case, r.status, r.id IS NOT NULL AS has_id, r.detail, r.reason, r.key_id
FROM (VALUES
	('expired key', '{"n":5}', pg_temp.std_headers(:'gone_b64', 'msg_5', :now_ts, '{"n":5}')),
	('unknown key', '{"n":5}', pg_temp.std_headers(encode('nobody knows this secret'::bytea, 'base64'), 'msg_5', :now_ts, '{"n":5}')),
	('tampered body', '{"n":6}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}')),
	('tampered id', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"Webhook-Id": "msg_6"}'),
	('id header twice', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"webhook-id": "msg_6"}'),
	('signature header twice', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"WEBHOOK-SIGNATURE": "v1,x"}'),
	('too old', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts - 400, '{"n":5}')),
	('too far ahead', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts + 400, '{"n":5}')),
	('timestamp not a number', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"Webhook-Timestamp": "soon"}'),
	('no signature header', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') - 'Webhook-Signature'),
	('no id header', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') - 'Webhook-Id'),
	('no timestamp header', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') - 'Webhook-Timestamp'),
	('signature not a string', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"Webhook-Signature": ["v1,x"]}'),
	('v2 only', '{"n":5}', pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}') || '{"Webhook-Signature": "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}'),
	('no headers', '{"n":5}', NULL),
	('JSON null headers', '{"n":5}', 'null'),
	('headers an array', '{"n":5}', '[1]'),
	('verified, body not JSON', '{"n":', pg_temp.std_headers(:'new_b64', 'msg_7', :now_ts, '{"n":')),
	('verified, body a string', '"x"', pg_temp.std_headers(:'new_b64', 'msg_8', :now_ts, '"x"')),
	('verified, empty id', '{"n":5}', pg_temp.std_headers(:'new_b64', '', :now_ts, '{"n":5}')),
	('verified, id too long', '{"n":5}', pg_temp.std_headers(:'new_b64', repeat('i', 256), :now_ts, '{"n":5}')),
	('body NULL', NULL, pg_temp.std_headers(:'new_b64', 'msg_5', :now_ts, '{"n":5}'))
) AS t("case", body, headers),
	LATERAL inbox.ingest_verified('sig-std', t.body, t.headers) AS r;
SELECT r.status, r.detail, r.reason FROM inbox.ingest_verified(NULL, '{}', '{}') AS r;
SELECT r.status, r.detail, r.reason FROM inbox.ingest_verified('', '{}', '{}') AS r;
SELECT r.status, r.detail, r.reason FROM inbox.ingest_verified(repeat('s', 64), '{}', '{}') AS r;
SELECT r.status, r.detail, r.reason FROM inbox.ingest_verified('sig-unknown', '{}', '{}') AS r;
SELECT r.status, r.detail, r.reason FROM inbox.ingest_verified('sig-none', '{}', '{}') AS r;
SELECT 'still in the transaction' AS ok;
COMMIT;

-- what was stored: the key ids, never a secret
SELECT source, event_id, payload, verified_key FROM inbox.events
WHERE source LIKE 'sig-%' ORDER BY id;
-- events ingested without verification have no key
SELECT status FROM inbox.ingest_raw('sig-none', 'plain', '{}');
SELECT verified_key IS NULL AS unverified FROM inbox.events WHERE source = 'sig-none';

-- a standard source whose only secret is not base64: no_secret
INSERT INTO inbox.sources (source, signature_scheme) VALUES ('sig-badsecret', 'standard'), ('sig-expired', 'standard');
INSERT INTO inbox.source_secrets (source, key_id, secret, expires_at) VALUES
	('sig-badsecret', 'k', 'whsec_not base64!', NULL),
	('sig-expired', 'k', :'secret', now() - interval '1 minute');
SELECT r.status, r.detail, r.reason
FROM inbox.ingest_verified('sig-badsecret', '{"n":1}', pg_temp.std_headers(:'new_b64', 'msg_1', :now_ts, '{"n":1}')) AS r;
SELECT r.status, r.detail, r.reason
FROM inbox.ingest_verified('sig-expired', '{"n":1}', pg_temp.std_headers(:'new_b64', 'msg_1', :now_ts, '{"n":1}')) AS r;

-- Stripe: the event id is the body's "id"
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-stripe', '{"id":"evt_fresh","object":"event"}',
	jsonb_build_object('stripe-signature', pg_temp.stripe_sign(:'st_secret', :now_ts, '{"id":"evt_fresh","object":"event"}'))) AS r;
SELECT t.case, r.status, r.detail, r.reason, r.key_id
FROM (VALUES
	('no id in the body', '{"object":"event"}', pg_temp.stripe_sign(:'st_secret', :now_ts, '{"object":"event"}')),
	('id not a string', '{"id":{"a":1}}', pg_temp.stripe_sign(:'st_secret', :now_ts, '{"id":{"a":1}}')),
	('body not JSON', '{"id":', pg_temp.stripe_sign(:'st_secret', :now_ts, '{"id":')),
	('stale', '{"id":"evt_2"}', pg_temp.stripe_sign(:'st_secret', :now_ts - 600, '{"id":"evt_2"}')),
	('wrong secret', '{"id":"evt_2"}', pg_temp.stripe_sign('whsec_other', :now_ts, '{"id":"evt_2"}')),
	('no v1', '{"id":"evt_2"}', 't=' || :now_ts || ',v0=00'),
	('published vector, too old', :'st_body', 't=1700000000,v1=' || :'st_sig')
) AS t("case", body, header),
	LATERAL inbox.ingest_verified('sig-stripe', t.body, jsonb_build_object('Stripe-Signature', t.header)) AS r;

-- GitHub: the event id is X-GitHub-Delivery
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-gh', '{"zen":"Keep it logically awesome."}',
	'{"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event": "ping",
	  "X-Hub-Signature-256": "sha256=fb876035d1fcf10874898ecb5733ce2c5ba89c3caec7d2a2f05d3f174e1bd6af"}') AS r;
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-gh', '{"zen":"Keep it logically awesome."}',
	'{"x-hub-signature-256": "sha256=fb876035d1fcf10874898ecb5733ce2c5ba89c3caec7d2a2f05d3f174e1bd6af"}') AS r;
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-gh', '{"zen":"Keep it logically awesome."}',
	'{"x-github-delivery": "d-2", "x-hub-signature": "sha1=00"}') AS r;
-- a per-source path: data[0].ref, a number taken as its text; the limit
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-path', '{"data":[{"ref":12345}]}',
	jsonb_build_object('X-Hub-Signature-256', pg_temp.github_sign('gh-secret', '{"data":[{"ref":12345}]}'))) AS r;
SELECT source, event_id, verified_key FROM inbox.events WHERE source IN ('sig-path', 'sig-gh', 'sig-stripe') ORDER BY id;
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-path', '{"data":{"ref":1}}',
	jsonb_build_object('X-Hub-Signature-256', pg_temp.github_sign('gh-secret', '{"data":{"ref":1}}'))) AS r;
SELECT r.status, r.detail, r.reason, r.key_id
FROM inbox.ingest_verified('sig-path', repeat(' ', 200) || '{}',
	jsonb_build_object('X-Hub-Signature-256', pg_temp.github_sign('gh-secret', repeat(' ', 200) || '{}'))) AS r;

-- the counters: signature failures per declared source, the others (no
-- scheme, unknown or unusable source) under NULL
SELECT source, rejected, signature_failures FROM inbox.stats
WHERE source LIKE 'sig-%' OR source IS NULL ORDER BY source COLLATE "C";

-- no secret shows in the statistics, the comments or the answers above
SELECT count(*) AS secrets_in_stats FROM inbox.stats s
WHERE s::text LIKE '%MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw%' OR s::text LIKE '%gh-secret%';

DELETE FROM inbox.sources WHERE source LIKE 'sig-%';
SELECT count(*) AS secrets_left FROM inbox.source_secrets WHERE source LIKE 'sig-%';
DELETE FROM inbox.events WHERE source LIKE 'sig-%';
