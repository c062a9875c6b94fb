--
-- The generator and checker of test/sql/raw_json_fuzz.sql, as functions in
-- pg_temp (included once per database).
--
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text
LANGUAGE sql AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

CREATE FUNCTION pg_temp.digits(n int) RETURNS text
LANGUAGE sql AS $$
	SELECT coalesce(string_agg((floor(random() * 10))::int::text, ''), '')
	FROM generate_series(1, n)
$$;

-- a JSON number, valid or not, near numeric's limits
CREATE FUNCTION pg_temp.gen_number() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	mant text;
	r float8 := random();
BEGIN
	mant := pg_temp.pick(ARRAY['', '', '-']) || CASE
		WHEN r < 0.3 THEN '0'
		WHEN r < 0.4 THEN '0' || pg_temp.digits(1 + (random() * 3)::int)	-- leading zeros
		WHEN r < 0.8 THEN (1 + floor(random() * 9))::int::text || pg_temp.digits((random() * 20)::int)
		ELSE (1 + floor(random() * 9))::int::text || pg_temp.digits(100 + (random() * 2000)::int)
	END;
	r := random();
	IF r < 0.15 THEN
		mant := mant || '.' || repeat('0', (random() * 30)::int) || pg_temp.digits((random() * 5)::int);
	ELSIF r < 0.25 THEN
		mant := mant || '.' || repeat('0', pg_temp.pick(ARRAY['16380', '16383', '16384', '20000'])::int)
			|| pg_temp.pick(ARRAY['', '1']);
	ELSIF r < 0.3 THEN
		mant := mant || '.';	-- not JSON
	END IF;
	IF random() < 0.7 THEN
		mant := mant || pg_temp.pick(ARRAY['e', 'E']) || pg_temp.pick(ARRAY['', '+', '-'])
			|| pg_temp.pick(ARRAY['0', '1', '5', '0005', '400', '1000', '16383', '16384',
								  '16400', '131067', '131071', '131072', '131075', '200000',
								  '536870911', '536870912', '1073741822', '1073741823',
								  '2147483648', '99999999999999999999', '']);
	END IF;
	RETURN mant;
END $$;

-- a JSON string, valid or not
CREATE FUNCTION pg_temp.gen_string() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text := '"';
	raw text[] := ARRAY[chr(233)];
BEGIN
	IF getdatabaseencoding() = 'UTF8' THEN
		raw := raw || chr(20013);
	END IF;
	FOR i IN 1 .. (random() * 4)::int LOOP
		s := s || pg_temp.pick(ARRAY['a', 'plain text', '\n', '\t', '\"', '\\', '\/',
			'\b', '\f', '\r', '\u0041', '\u00e9', '\u00E9', '\u4e2d', '\u0000', '\u0001',
			'\ud83d\ude00', '\uD83D\uDE00', '\ud83d', '\ude00', '\ude00\ud83d', '\ud83dx',
			'\x', '\u12', chr(1), ' ', ''''] || raw);
	END LOOP;
	RETURN s || '"';
END $$;

-- a JSON value of bounded size
CREATE FUNCTION pg_temp.gen_value(depth int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r float8 := random();
	parts text[] := '{}';
BEGIN
	IF depth > 3 OR r < 0.45 THEN
		r := random();
		RETURN CASE
			WHEN r < 0.55 THEN pg_temp.gen_number()
			WHEN r < 0.9 THEN pg_temp.gen_string()
			ELSE pg_temp.pick(ARRAY['true', 'false', 'null', 'nul', 'True'])
		END;
	END IF;
	IF r < 0.7 THEN
		FOR i IN 1 .. (random() * 3)::int LOOP
			parts := parts || pg_temp.gen_value(depth + 1);
		END LOOP;
		RETURN '[' || array_to_string(parts, ', ') || ']';
	END IF;
	FOR i IN 1 .. (random() * 3)::int LOOP
		parts := parts || (pg_temp.gen_string() || ': ' || pg_temp.gen_value(depth + 1));
	END LOOP;
	RETURN '{' || array_to_string(parts, ', ') || '}';
END $$;

-- a body: mostly an array or object, sometimes nested deep, sometimes a scalar
CREATE FUNCTION pg_temp.gen_body() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r float8 := random();
	d int;
	v text;
BEGIN
	IF r < 0.05 THEN
		RETURN pg_temp.gen_value(4);	-- a bare scalar
	END IF;
	v := CASE WHEN random() < 0.5 THEN '[' || pg_temp.gen_value(1) || ']'
			  ELSE '{"k": ' || pg_temp.gen_value(1) || '}' END;
	IF r < 0.1 THEN
		d := pg_temp.pick(ARRAY['500', '1001', '3000', '8000', '30000'])::int;
		IF random() < 0.5 THEN
			v := repeat('[', d) || v || repeat(']', d);
		ELSE
			v := repeat('{"a":', d) || v || repeat('}', d);
		END IF;
	END IF;
	RETURN v;
END $$;

-- run one body through both; a row per disagreement
CREATE FUNCTION pg_temp.check_body(n int, body text)
RETURNS TABLE (case_no int, problem text, body_start text)
LANGUAGE plpgsql AS $$
DECLARE
	j jsonb;
	cast_error text;
	raw record;
	typed record;
	raw_digest bytea;
	typed_digest bytea;
BEGIN
	BEGIN
		j := body::jsonb;
	EXCEPTION WHEN OTHERS THEN
		cast_error := SQLSTATE;
	END;
	SELECT * INTO raw FROM inbox.ingest_raw('fuzz', 'raw-' || n, body);
	IF cast_error IS NULL AND jsonb_typeof(j) IN ('object', 'array') THEN
		IF raw.status <> 'inserted' THEN
			RETURN QUERY SELECT n, 'jsonb accepts, ingest_raw answers ' || raw.status || ': ' || coalesce(raw.detail, ''), left(body, 60);
			RETURN;
		END IF;
		SELECT * INTO typed FROM inbox.ingest('fuzz', 'typed-' || n, j);
		SELECT payload_digest INTO raw_digest FROM inbox.events WHERE source = 'fuzz' AND event_id = 'raw-' || n;
		SELECT payload_digest INTO typed_digest FROM inbox.events WHERE source = 'fuzz' AND event_id = 'typed-' || n;
		IF raw_digest IS DISTINCT FROM typed_digest THEN
			RETURN QUERY SELECT n, 'digests differ', left(body, 60);
		END IF;
		IF (SELECT payload FROM inbox.events WHERE source = 'fuzz' AND event_id = 'raw-' || n) <> j THEN
			RETURN QUERY SELECT n, 'stored payload differs from the cast', left(body, 60);
		END IF;
		-- the same body again is a duplicate of the first, and so is the
		-- value as jsonb prints it (keys sorted, numbers respelled)
		IF (SELECT status FROM inbox.ingest_raw('fuzz', 'raw-' || n, body)) <> 'duplicate' THEN
			RETURN QUERY SELECT n, 'the same body again is not a duplicate', left(body, 60);
		END IF;
		IF (SELECT status FROM inbox.ingest_raw('fuzz', 'raw-' || n, j::text)) <> 'duplicate' THEN
			RETURN QUERY SELECT n, 'the body as jsonb prints it is not a duplicate', left(body, 60);
		END IF;
	ELSIF raw.status <> 'rejected' THEN
		RETURN QUERY SELECT n, 'jsonb refuses (' || coalesce(cast_error, jsonb_typeof(j)) || '), ingest_raw answers ' || raw.status, left(body, 60);
	END IF;
END $$;

CREATE TEMP TABLE fuzz_case (n int PRIMARY KEY, body text);

-- :cases generated bodies from seed :seed, after the fixed ones
SELECT setseed(:seed);
INSERT INTO fuzz_case SELECT 1000 + g, pg_temp.gen_body() FROM generate_series(1, :cases) g;
