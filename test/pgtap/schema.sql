-- pg_inbox: the objects of the extension and the rules every one of them
-- follows (SECURITY INVOKER, pinned search_path, a comment, nothing granted
-- to PUBLIC, membership of the extension).  The rule checks query the
-- catalogs for everything in schema inbox, so objects added later are held
-- to the same rules without touching this file.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(100);

-- ------------------------------------------------------------------
-- schema and tables
-- ------------------------------------------------------------------
SELECT has_extension('pg_inbox', 'extension pg_inbox is installed');
SELECT has_schema('inbox', 'schema inbox exists');
SELECT has_table('inbox', 'events', 'table inbox.events exists');
SELECT has_table('inbox', 'sources', 'table inbox.sources exists');
SELECT has_sequence('inbox', 'events_id_seq', 'identity sequence inbox.events_id_seq exists');

-- inbox.events: columns in their documented order (the ones read by every
-- duplicate check first, the large toastable ones last)
SELECT results_eq(
	$$SELECT attname::text COLLATE "default" FROM pg_catalog.pg_attribute
	   WHERE attrelid = pg_catalog.to_regclass('inbox.events')
	     AND attnum > 0 AND NOT attisdropped ORDER BY attnum$$,
	ARRAY['id', 'received_at', 'payload_digest', 'source', 'event_id', 'state',
		  'attempts', 'available_at', 'locked_by', 'locked_until',
		  'processed_at', 'last_error', 'headers', 'payload', 'errors', 'verified_key', 'lease_token'],
	'inbox.events has exactly the documented columns, in order');

SELECT col_type_is('inbox', 'events', 'id', 'bigint', 'events.id is bigint');
SELECT col_type_is('inbox', 'events', 'received_at', 'timestamp with time zone', 'events.received_at is timestamptz');
SELECT col_type_is('inbox', 'events', 'payload_digest', 'bytea', 'events.payload_digest is bytea');
SELECT col_type_is('inbox', 'events', 'source', 'text', 'events.source is text');
SELECT col_type_is('inbox', 'events', 'event_id', 'text', 'events.event_id is text');
SELECT col_type_is('inbox', 'events', 'state', 'text', 'events.state is text');
SELECT col_type_is('inbox', 'events', 'attempts', 'integer', 'events.attempts is integer');
SELECT col_type_is('inbox', 'events', 'available_at', 'timestamp with time zone', 'events.available_at is timestamptz');
SELECT col_type_is('inbox', 'events', 'locked_by', 'text', 'events.locked_by is text');
SELECT col_type_is('inbox', 'events', 'locked_until', 'timestamp with time zone', 'events.locked_until is timestamptz');
SELECT col_type_is('inbox', 'events', 'processed_at', 'timestamp with time zone', 'events.processed_at is timestamptz');
SELECT col_type_is('inbox', 'events', 'last_error', 'text', 'events.last_error is text');
SELECT col_type_is('inbox', 'events', 'headers', 'jsonb', 'events.headers is jsonb');
SELECT col_type_is('inbox', 'events', 'payload', 'jsonb', 'events.payload is jsonb');
SELECT col_type_is('inbox', 'events', 'errors', 'jsonb', 'events.errors is jsonb');
SELECT col_is_null('inbox', 'events', 'errors', 'events.errors may be NULL');

SELECT results_eq(
	$$SELECT attname::text COLLATE "default" FROM pg_catalog.pg_attribute
	   WHERE attrelid = pg_catalog.to_regclass('inbox.events')
	     AND attnum > 0 AND NOT attisdropped AND attnotnull ORDER BY attnum$$,
	ARRAY['id', 'received_at', 'payload_digest', 'source', 'event_id', 'state',
		  'attempts', 'available_at', 'payload'],
	'exactly the documented columns of inbox.events are NOT NULL');

SELECT is(
	(SELECT attidentity::text FROM pg_catalog.pg_attribute
	  WHERE attrelid = pg_catalog.to_regclass('inbox.events') AND attname = 'id'),
	'a',
	'events.id is GENERATED ALWAYS AS IDENTITY');
SELECT is(
	(SELECT pg_catalog.pg_get_serial_sequence('inbox.events', 'id')),
	'inbox.events_id_seq',
	'events.id draws from inbox.events_id_seq');
SELECT col_default_is('inbox', 'events', 'state', 'pending', 'events.state defaults to pending');
SELECT col_default_is('inbox', 'events', 'attempts', '0', 'events.attempts defaults to 0');

-- inbox.sources
SELECT results_eq(
	$$SELECT attname::text COLLATE "default" FROM pg_catalog.pg_attribute
	   WHERE attrelid = pg_catalog.to_regclass('inbox.sources')
	     AND attnum > 0 AND NOT attisdropped ORDER BY attnum$$,
	ARRAY['source', 'max_payload_bytes', 'created_at', 'max_attempts',
		  'signature_scheme', 'signature_tolerance', 'event_id_path'],
	'inbox.sources has exactly the documented columns, in order');
SELECT col_type_is('inbox', 'sources', 'source', 'text', 'sources.source is text');
SELECT col_type_is('inbox', 'sources', 'max_payload_bytes', 'integer', 'sources.max_payload_bytes is integer');
SELECT col_type_is('inbox', 'sources', 'created_at', 'timestamp with time zone', 'sources.created_at is timestamptz');
SELECT col_type_is('inbox', 'sources', 'max_attempts', 'integer', 'sources.max_attempts is integer');
SELECT col_not_null('inbox', 'sources', 'source', 'sources.source is NOT NULL');
SELECT col_is_null('inbox', 'sources', 'max_payload_bytes', 'sources.max_payload_bytes is nullable (NULL = the setting)');
SELECT col_not_null('inbox', 'sources', 'created_at', 'sources.created_at is NOT NULL');

-- keys compare bytes: the key columns use collation "C"
SELECT bag_eq(
	$$SELECT (c.relname::text || '.' || a.attname::text) COLLATE "default"
	    FROM pg_catalog.pg_attribute a
	    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	    JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
	     AND co.collname = 'C'$$,
	ARRAY['events.source', 'events.event_id', 'events.state', 'sources.source',
		  'source_secrets.source', 'source_secrets.key_id'],
	'source, event_id and state use collation "C"');

-- keys and constraints; the C code finds the two indexes by these names
SELECT has_pk('inbox', 'events', 'inbox.events has a primary key');
SELECT col_is_pk('inbox', 'events', 'id', 'the primary key of inbox.events is (id)');
SELECT has_pk('inbox', 'sources', 'inbox.sources has a primary key');
SELECT col_is_pk('inbox', 'sources', 'source', 'the primary key of inbox.sources is (source)');
SELECT col_is_unique('inbox', 'events', ARRAY['source', 'event_id'],
	'inbox.events has a unique constraint on (source, event_id)');
SELECT has_index('inbox', 'events', 'events_source_event_id_key', ARRAY['source', 'event_id'],
	'index inbox.events_source_event_id_key is on (source, event_id)');
SELECT index_is_unique('inbox', 'events', 'events_source_event_id_key',
	'index inbox.events_source_event_id_key is unique');
SELECT is(
	(SELECT con.contype::text FROM pg_catalog.pg_constraint con
	  WHERE con.conrelid = pg_catalog.to_regclass('inbox.events')
	    AND con.conname = 'events_source_event_id_key'),
	'u',
	'events_source_event_id_key is a UNIQUE constraint, usable as an ON CONFLICT arbiter');
SELECT has_index('inbox', 'sources', 'sources_pkey', ARRAY['source'],
	'index inbox.sources_pkey is on (source)');
SELECT index_is_primary('inbox', 'sources', 'sources_pkey',
	'inbox.sources_pkey is the primary key index');
SELECT bag_eq(
	$$SELECT conname::text COLLATE "default" FROM pg_catalog.pg_constraint
	   WHERE conrelid = pg_catalog.to_regclass('inbox.events') AND contype = 'c'$$,
	ARRAY['events_source_check', 'events_event_id_check', 'events_payload_digest_check',
		  'events_state_check', 'events_attempts_check'],
	'inbox.events has the documented CHECK constraints');
SELECT bag_eq(
	$$SELECT conname::text COLLATE "default" FROM pg_catalog.pg_constraint
	   WHERE conrelid = pg_catalog.to_regclass('inbox.sources') AND contype = 'c'$$,
	ARRAY['sources_source_check', 'sources_max_payload_bytes_check',
		  'sources_max_attempts_check', 'sources_signature_scheme_check',
		  'sources_signature_tolerance_check', 'sources_event_id_path_check'],
	'inbox.sources has the documented CHECK constraints');

-- ------------------------------------------------------------------
-- the ingest functions: argument types, OUT columns, return types
-- ------------------------------------------------------------------
SELECT has_function('inbox', 'ingest', ARRAY['text', 'text', 'jsonb', 'jsonb'],
	'inbox.ingest(text, text, jsonb, jsonb) exists');
SELECT has_function('inbox', 'ingest_raw', ARRAY['text', 'text', 'text', 'jsonb'],
	'inbox.ingest_raw(text, text, text, jsonb) exists');
SELECT has_function('inbox', 'ingest_many', ARRAY['text', 'text[]', 'jsonb[]'],
	'inbox.ingest_many(text, text[], jsonb[]) exists');
SELECT has_function('inbox', 'ingest_raw_many', ARRAY['text', 'text[]', 'text[]', 'jsonb[]'],
	'inbox.ingest_raw_many(text, text[], text[], jsonb[]) exists');

SELECT function_returns('inbox', 'ingest', ARRAY['text', 'text', 'jsonb', 'jsonb'], 'record',
	'inbox.ingest returns record');
SELECT function_returns('inbox', 'ingest_raw', ARRAY['text', 'text', 'text', 'jsonb'], 'record',
	'inbox.ingest_raw returns record');
SELECT function_returns('inbox', 'ingest_many', ARRAY['text', 'text[]', 'jsonb[]'], 'setof record',
	'inbox.ingest_many returns setof record');
SELECT function_returns('inbox', 'ingest_raw_many', ARRAY['text', 'text[]', 'text[]', 'jsonb[]'], 'setof record',
	'inbox.ingest_raw_many returns setof record');

SELECT is(
	(SELECT pg_catalog.pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p
	  WHERE p.oid = pg_catalog.to_regprocedure('inbox.ingest(text,text,jsonb,jsonb)')),
	'source text, event_id text, payload jsonb, headers jsonb DEFAULT NULL::jsonb, '
	'OUT status text, OUT id bigint, OUT received_at timestamp with time zone, OUT detail text',
	'inbox.ingest: parameter names, headers defaults to NULL, OUT columns (status, id, received_at, detail)');
SELECT is(
	(SELECT pg_catalog.pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p
	  WHERE p.oid = pg_catalog.to_regprocedure('inbox.ingest_raw(text,text,text,jsonb)')),
	'source text, event_id text, body text, headers jsonb DEFAULT NULL::jsonb, '
	'OUT status text, OUT id bigint, OUT received_at timestamp with time zone, OUT detail text',
	'inbox.ingest_raw: parameter names, headers defaults to NULL, OUT columns (status, id, received_at, detail)');
SELECT is(
	(SELECT pg_catalog.pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p
	  WHERE p.oid = pg_catalog.to_regprocedure('inbox.ingest_many(text,text[],jsonb[])')),
	'source text, event_ids text[], payloads jsonb[], '
	'OUT ord integer, OUT status text, OUT id bigint, OUT received_at timestamp with time zone, OUT detail text',
	'inbox.ingest_many: parameter names, OUT columns (ord, status, id, received_at, detail)');
SELECT is(
	(SELECT pg_catalog.pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p
	  WHERE p.oid = pg_catalog.to_regprocedure('inbox.ingest_raw_many(text,text[],text[],jsonb[])')),
	'source text, event_ids text[], bodies text[], headers jsonb[] DEFAULT NULL::jsonb[], '
	'OUT ord integer, OUT status text, OUT id bigint, OUT received_at timestamp with time zone, OUT detail text',
	'inbox.ingest_raw_many: parameter names, headers defaults to NULL, the OUT columns of ingest_many');

SELECT function_lang_is('inbox', 'ingest', ARRAY['text', 'text', 'jsonb', 'jsonb'], 'c',
	'inbox.ingest is written in C');
SELECT function_lang_is('inbox', 'ingest_raw', ARRAY['text', 'text', 'text', 'jsonb'], 'c',
	'inbox.ingest_raw is written in C');
SELECT function_lang_is('inbox', 'ingest_many', ARRAY['text', 'text[]', 'jsonb[]'], 'c',
	'inbox.ingest_many is written in C');
SELECT function_lang_is('inbox', 'ingest_raw_many', ARRAY['text', 'text[]', 'text[]', 'jsonb[]'], 'c',
	'inbox.ingest_raw_many is written in C');
SELECT volatility_is('inbox', 'ingest', ARRAY['text', 'text', 'jsonb', 'jsonb'], 'volatile',
	'inbox.ingest is VOLATILE');
SELECT volatility_is('inbox', 'ingest_raw', ARRAY['text', 'text', 'text', 'jsonb'], 'volatile',
	'inbox.ingest_raw is VOLATILE');
SELECT volatility_is('inbox', 'ingest_many', ARRAY['text', 'text[]', 'jsonb[]'], 'volatile',
	'inbox.ingest_many is VOLATILE');
SELECT volatility_is('inbox', 'ingest_raw_many', ARRAY['text', 'text[]', 'text[]', 'jsonb[]'], 'volatile',
	'inbox.ingest_raw_many is VOLATILE');
-- NULL arguments are answered (rejected) rather than short-circuited to NULL
SELECT isnt_strict('inbox', 'ingest', ARRAY['text', 'text', 'jsonb', 'jsonb'],
	'inbox.ingest is not STRICT');
SELECT isnt_strict('inbox', 'ingest_raw', ARRAY['text', 'text', 'text', 'jsonb'],
	'inbox.ingest_raw is not STRICT');
SELECT isnt_strict('inbox', 'ingest_many', ARRAY['text', 'text[]', 'jsonb[]'],
	'inbox.ingest_many is not STRICT');
SELECT isnt_strict('inbox', 'ingest_raw_many', ARRAY['text', 'text[]', 'text[]', 'jsonb[]'],
	'inbox.ingest_raw_many is not STRICT');
SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.oid IN (pg_catalog.to_regprocedure('inbox.ingest(text,text,jsonb,jsonb)'),
	                   pg_catalog.to_regprocedure('inbox.ingest_raw(text,text,text,jsonb)'),
	                   pg_catalog.to_regprocedure('inbox.ingest_many(text,text[],jsonb[])'),
	                   pg_catalog.to_regprocedure('inbox.ingest_raw_many(text,text[],text[],jsonb[])'))
	     AND p.proparallel <> 'u'$$,
	'the ingest functions are PARALLEL UNSAFE');

-- ------------------------------------------------------------------
-- rules for every function in schema inbox
-- ------------------------------------------------------------------
-- the rule checks below must see the functions, or they prove nothing
SELECT bag_has(
	$$SELECT p.proname::text COLLATE "default" FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')$$,
	$$SELECT pg_catalog.unnest(ARRAY['ingest', 'ingest_raw', 'ingest_many', 'ingest_raw_many']::text[])$$,
	'the catalog query for functions in schema inbox finds the ingest functions');

SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox') AND p.prosecdef$$,
	'every function in schema inbox is SECURITY INVOKER');

SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
	     AND p.oid <> ALL (ARRAY['inbox.attempt(text)',
	                             'inbox.upsert(regclass, jsonb, text[])',
	                             'inbox.upsert_many(regclass, jsonb, text[])']::pg_catalog.regprocedure[])$$,
	'every function in schema inbox but inbox.attempt, inbox.upsert and inbox.upsert_many has SET search_path = pg_catalog, pg_temp');

-- the exceptions: the statement guard runs the caller's own SQL, and the
-- upserts run the caller's triggers, defaults and CHECK constraints, which
-- must resolve names with the caller's search_path; they are SECURITY
-- INVOKER (checked above), in C, and resolve no name of their own through
-- it (every name in the statements they prepare is schema-qualified)
SELECT is(
	(SELECT p.proconfig FROM pg_catalog.pg_proc p
	  WHERE p.oid = 'inbox.attempt(text)'::pg_catalog.regprocedure),
	NULL::text[],
	'inbox.attempt leaves search_path to the caller, with no other setting');
SELECT is(
	(SELECT pg_catalog.array_agg(p.oid::pg_catalog.regprocedure::text ORDER BY p.proname)
	   FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	    AND p.proconfig IS NULL),
	ARRAY['inbox.attempt(text)', 'inbox.upsert(regclass,jsonb,text[])',
	      'inbox.upsert_many(regclass,jsonb,text[])'],
	'only inbox.attempt, inbox.upsert and inbox.upsert_many leave search_path to the caller, with no other setting');
SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.oid = ANY (ARRAY['inbox.upsert(regclass, jsonb, text[])',
	                            'inbox.upsert_many(regclass, jsonb, text[])']::pg_catalog.regprocedure[])
	     AND (p.prolang <> (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
	          OR p.prosecdef)$$,
	'inbox.upsert and inbox.upsert_many are C functions and SECURITY INVOKER');

SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND coalesce(pg_catalog.btrim(pg_catalog.obj_description(p.oid, 'pg_proc')), '') = ''$$,
	'every function in schema inbox has a COMMENT');

SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
	'no function in schema inbox is executable by PUBLIC (has_function_privilege)');

-- the same from the ACL itself: a NULL proacl is the default, which grants
-- EXECUTE to PUBLIC; grantee 0 is PUBLIC
SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND (p.proacl IS NULL
	          OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a
	                      WHERE a.grantee = 0))$$,
	'no function in schema inbox has a default or PUBLIC entry in its ACL');

-- ------------------------------------------------------------------
-- rules for every table, sequence and view in schema inbox
-- ------------------------------------------------------------------
SELECT bag_has(
	$$SELECT c.relname::text COLLATE "default" FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')$$,
	$$SELECT pg_catalog.unnest(ARRAY['events', 'sources', 'events_id_seq']::text[])$$,
	'the catalog query for relations in schema inbox finds the tables and the sequence');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	     AND coalesce(pg_catalog.btrim(pg_catalog.obj_description(c.oid, 'pg_class')), '') = ''$$,
	'every table and view in schema inbox has a COMMENT');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text || '.' || a.attname::text
	    FROM pg_catalog.pg_class c
	    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	     AND a.attnum > 0 AND NOT a.attisdropped
	     AND coalesce(pg_catalog.btrim(pg_catalog.col_description(c.oid, a.attnum)), '') = ''$$,
	'every column of every table and view in schema inbox has a COMMENT');

SELECT isnt(
	coalesce(pg_catalog.btrim(pg_catalog.obj_description(pg_catalog.to_regnamespace('inbox'), 'pg_namespace')), ''),
	'',
	'schema inbox has a COMMENT');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = 0)$$,
	'no relation in schema inbox has a PUBLIC entry in its ACL');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text || '.' || a.attname::text
	    FROM pg_catalog.pg_class c
	    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(a.attacl) x WHERE x.grantee = 0)$$,
	'no column in schema inbox has a PUBLIC entry in its ACL');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	     AND (pg_catalog.has_table_privilege('public', c.oid,
	              'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	          OR pg_catalog.has_any_column_privilege('public', c.oid,
	              'SELECT, INSERT, UPDATE, REFERENCES'))$$,
	'PUBLIC has no privilege on any table or view in schema inbox, nor on any column');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND CASE WHEN c.relkind = 'S'
	              THEN pg_catalog.has_sequence_privilege('public', c.oid, 'USAGE, SELECT, UPDATE')
	              ELSE false END$$,
	'PUBLIC has no privilege on any sequence in schema inbox');

SELECT ok(
	NOT pg_catalog.has_schema_privilege('public', 'inbox', 'USAGE'),
	'PUBLIC has no USAGE on schema inbox (it must be granted to writers)');
SELECT ok(
	NOT pg_catalog.has_schema_privilege('public', 'inbox', 'CREATE'),
	'PUBLIC has no CREATE on schema inbox');
SELECT is_empty(
	$$SELECT d.defaclobjtype::text FROM pg_catalog.pg_default_acl d
	   WHERE d.defaclnamespace = pg_catalog.to_regnamespace('inbox')
	     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(d.defaclacl) a WHERE a.grantee = 0)$$,
	'no default privileges in schema inbox grant anything to PUBLIC');

-- ------------------------------------------------------------------
-- membership of the extension (pg_depend deptype 'e')
-- ------------------------------------------------------------------
SELECT bag_has(
	$$SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
	    FROM pg_catalog.pg_depend d
	    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	   WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	     AND e.extname = 'pg_inbox' AND d.deptype = 'e'$$,
	$$SELECT pg_catalog.unnest(ARRAY['schema inbox', 'table inbox.sources', 'table inbox.events',
		  'sequence inbox.events_id_seq',
		  'function inbox.ingest(text,text,jsonb,jsonb)',
		  'function inbox.ingest_raw(text,text,text,jsonb)',
		  'function inbox.ingest_many(text,text[],jsonb[])',
		  'function inbox.ingest_raw_many(text,text[],text[],jsonb[])']::text[])$$,
	'schema, tables, sequence and functions are members of extension pg_inbox');

SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND NOT EXISTS (
	         SELECT 1 FROM pg_catalog.pg_depend d
	           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
	            AND d.objid = p.oid
	            AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	            AND e.extname = 'pg_inbox' AND d.deptype = 'e')$$,
	'every function in schema inbox is a member of extension pg_inbox');

SELECT is_empty(
	$$SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
	   WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
	     AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
	     AND NOT EXISTS (
	         SELECT 1 FROM pg_catalog.pg_depend d
	           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	            AND d.objid = c.oid
	            AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	            AND e.extname = 'pg_inbox' AND d.deptype = 'e')$$,
	'every table, sequence and view in schema inbox is a member of extension pg_inbox');

-- free-standing types (enums, domains, composites); a table's row type and
-- array types belong to their table or element type instead
SELECT is_empty(
	$$SELECT t.oid::pg_catalog.regtype::text FROM pg_catalog.pg_type t
	   WHERE t.typnamespace = pg_catalog.to_regnamespace('inbox')
	     AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c
	                              WHERE c.oid = t.typrelid) = 'c')
	     AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
	     AND NOT EXISTS (
	         SELECT 1 FROM pg_catalog.pg_depend d
	           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	          WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
	            AND d.objid = t.oid
	            AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	            AND e.extname = 'pg_inbox' AND d.deptype = 'e')$$,
	'every type defined in schema inbox is a member of extension pg_inbox');

-- pg_dump keeps the rows and the id sequence
SELECT bag_eq(
	$$SELECT c::pg_catalog.regclass::text
	    FROM pg_catalog.pg_extension e, pg_catalog.unnest(e.extconfig) AS c
	   WHERE e.extname = 'pg_inbox'$$,
	ARRAY['inbox.events', 'inbox.sources', 'inbox.events_id_seq', 'inbox.source_secrets', 'inbox.lease_tokens'],
	'inbox.events, inbox.sources, inbox.events_id_seq, inbox.source_secrets and inbox.lease_tokens are configuration tables (dumped by pg_dump)');

SELECT ok(
	(SELECT v.superuser AND NOT v.trusted
	   FROM pg_catalog.pg_available_extension_versions v
	   JOIN pg_catalog.pg_extension e ON e.extname = v.name AND e.extversion = v.version
	  WHERE v.name = 'pg_inbox'),
	'pg_inbox is installed only by a superuser (superuser = true, trusted = false)');
SELECT ok(
	(SELECT NOT e.extrelocatable FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_inbox'),
	'pg_inbox is not relocatable (it always lives in schema inbox)');

SELECT * FROM finish();
ROLLBACK;
