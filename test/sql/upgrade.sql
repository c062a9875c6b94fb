--
-- Upgrades: installing the first release and walking the upgrade chain
-- gives exactly what a fresh install of the current version gives.
--
-- Runs last (the tests run in alphabetical order): it drops the extension.
CREATE FUNCTION upgrade_inbox_objects() RETURNS TABLE (kind text, object text, definition text)
LANGUAGE sql AS $$
	SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid), NULL
	FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
	WHERE x.extname = 'pg_inbox' AND d.deptype = 'e'
	UNION ALL
	SELECT 'column', c.relname || '.' || a.attname,
		   format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' ' ||
		   coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') || ' ' || coalesce(co.collname, '')
	FROM pg_attribute a
	JOIN pg_class c ON c.oid = a.attrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'inbox'
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
	WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'index', c.relname, pg_get_indexdef(c.oid)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'inbox'
	WHERE c.relkind = 'i'
	UNION ALL
	SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
	FROM pg_constraint WHERE connamespace = 'inbox'::regnamespace
	UNION ALL
	SELECT 'function', p.oid::regprocedure::text,
		   pg_get_functiondef(p.oid) || coalesce(array_to_string(p.proacl, ','), '') ||
		   coalesce(obj_description(p.oid, 'pg_proc'), '')
	FROM pg_proc p WHERE p.pronamespace = 'inbox'::regnamespace
	UNION ALL
	SELECT 'relation', c.relname,
		   c.relkind::text || ' ' || coalesce(array_to_string(c.relacl, ','), '') || ' ' ||
		   coalesce(array_to_string(c.reloptions, ','), '') || ' ' ||
		   coalesce(obj_description(c.oid, 'pg_class'), '')
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'inbox'
	UNION ALL
	SELECT 'config', c.relname, coalesce(x.extcondition::text, '')
	FROM pg_extension x, unnest(x.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
	WHERE x.extname = 'pg_inbox'
$$;

-- the current version, installed fresh
DROP EXTENSION pg_inbox;
CREATE EXTENSION pg_inbox;
CREATE TEMP TABLE fresh AS SELECT * FROM upgrade_inbox_objects();
DROP EXTENSION pg_inbox;

-- the first release, then every step of the chain
CREATE EXTENSION pg_inbox VERSION '0.1.0';
SELECT status FROM inbox.ingest('upgrade', 'kept', '{"v": 1}');
SELECT target FROM pg_extension_update_paths('pg_inbox')
WHERE source = '0.1.0' AND path IS NOT NULL ORDER BY target;
ALTER EXTENSION pg_inbox UPDATE TO '0.2.0';
SELECT status FROM inbox.ingest('upgrade', 'kept', '{"v": 1}');
ALTER EXTENSION pg_inbox UPDATE TO '0.3.0';
ALTER EXTENSION pg_inbox UPDATE TO '0.4.0';
CREATE TEMP TABLE upgraded AS SELECT * FROM upgrade_inbox_objects();

-- nothing missing, nothing extra, nothing different
(SELECT 'only fresh' AS side, * FROM fresh EXCEPT SELECT 'only fresh', * FROM upgraded)
UNION ALL
(SELECT 'only upgraded', * FROM upgraded EXCEPT SELECT 'only upgraded', * FROM fresh)
ORDER BY 1, 2, 3;
SELECT count(*) > 30 AS compared_something FROM fresh;

-- events stored before the upgrade are kept and take part in the lifecycle
SELECT status FROM inbox.ingest('upgrade', 'kept', '{"v": 1}');
SELECT event_id, attempt FROM inbox.claim('upgrader', 10, '1 minute', ARRAY['upgrade']);
SELECT inbox.complete(id, 'upgrader') FROM inbox.events WHERE source = 'upgrade';

DROP EXTENSION pg_inbox;
CREATE EXTENSION pg_inbox;
DROP FUNCTION upgrade_inbox_objects();
