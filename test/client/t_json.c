/*
 * t_json.c
 *	  The pg_inbox command's JSON line checker (client/json.c): what it
 *	  accepts, what it calls malformed (all that PostgreSQL's jsonb input
 *	  refuses), and the id it finds at a dotted path.  No server needed.
 */
#define _POSIX_C_SOURCE 200809L

#include "json.h"
#include "tap.h"

/* the result of scanning text for path, as "id:<id>", "noid" or "malformed" */
static char *
scan(const char *text, const char *dotted)
{
	InboxJsonPath path;
	char	   *id;
	char		why[256];
	char	   *out;

	if (InboxJsonPathParse(dotted, &path) != 0)
		return strdup("bad path");
	switch (InboxJsonScan(text, strlen(text), &path, &id, why, sizeof(why)))
	{
		case INBOX_JSON_ID:
			out = malloc(strlen(id) + 4);
			sprintf(out, "id:%s", id);
			free(id);
			break;
		case INBOX_JSON_NO_ID:
			out = strdup("noid");
			break;
		default:
			out = strdup("malformed");
			break;
	}
	InboxJsonPathFree(&path);
	return out;
}

/* text as a test's name: bytes outside printable ASCII as \xHH, at most 60 */
static const char *
printable(const char *text)
{
	static char name[64 * 4 + 8];
	char	   *o = name;

	for (const unsigned char *c = (const unsigned char *) text; *c && o - name < 64 * 4; c++)
	{
		if (*c >= 0x20 && *c < 0x7f)
			*o++ = (char) *c;
		else
			o += sprintf(o, "\\x%02x", *c);
		if (c - (const unsigned char *) text == 60)
		{
			strcpy(o, "...");
			return name;
		}
	}
	*o = '\0';
	return name;
}

#define is_scan(text, path, want) do { \
	char	   *scanned_ = scan(text, path); \
	is_str(scanned_, want, printable(text)); \
	free(scanned_); \
} while (0)

int
main(void)
{
	InboxJsonPath p;

	/* ids */
	is_scan("{\"id\": \"evt_1\"}", "id", "id:evt_1");
	is_scan("{\"id\": 42}", "id", "id:42");
	is_scan("{\"id\": -1.5e3}", "id", "id:-1.5e3");
	is_scan("{\"id\": \"caf\\u00e9 \\\"q\\\" \\\\ \\/\"}", "id", "id:caf\xc3\xa9 \"q\" \\ /");
	is_scan("{\"id\": \"\\ud83d\\ude00\"}", "id", "id:\xf0\x9f\x98\x80");
	is_scan("{\"id\": \"a\", \"id\": \"b\"}", "id", "id:b");
	is_scan("{\"data\": {\"object\": {\"id\": \"in_1\"}}, \"id\": \"evt\"}", "data.object.id", "id:in_1");
	is_scan("{\"d\\u0061ta\": {\"id\": \"x\"}}", "data.id", "id:x");
	is_scan("  {\"id\":\"s\"}  \t", "id", "id:s");
	is_scan("{\"id\": \"\"}", "id", "id:");
	is_scan("{\"id\": \"\xc3\xa9\"}", "id", "id:\xc3\xa9");

	/* valid, but no id */
	is_scan("{\"type\": \"ping\"}", "id", "noid");
	is_scan("{\"id\": null}", "id", "noid");
	is_scan("{\"id\": {\"x\": 1}}", "id", "noid");
	is_scan("[{\"id\": \"in an array\"}]", "id", "noid");
	is_scan("\"a string\"", "id", "noid");
	is_scan("{\"data\": {\"id\": 1}}", "data.object.id", "noid");
	is_scan("{\"a\": [1, {\"b\": [true, false, null]}], \"id\": true}", "id", "noid");

	/* malformed */
	is_scan("", "id", "malformed");
	is_scan("{\"id\": \"a\",}", "id", "malformed");
	is_scan("{\"id\": \"a\"} {}", "id", "malformed");
	is_scan("{'id': 'a'}", "id", "malformed");
	is_scan("{\"id\": 01}", "id", "malformed");
	is_scan("{\"id\": 1.}", "id", "malformed");
	is_scan("{\"id\": .5}", "id", "malformed");
	is_scan("{\"id\": +1}", "id", "malformed");
	is_scan("{\"id\": \"tab\there\"}", "id", "malformed");
	is_scan("{\"id\": \"\\x\"}", "id", "malformed");
	is_scan("{\"id\": \"\\u0000\"}", "id", "malformed");
	is_scan("{\"id\": \"\\ud800\"}", "id", "malformed");
	is_scan("{\"id\": \"\\udc00\"}", "id", "malformed");
	is_scan("{\"id\": \"\\u12\"}", "id", "malformed");
	is_scan("{\"id\": \"\xc3\"}", "id", "malformed");
	is_scan("{\"id\": \"\xed\xa0\x80\"}", "id", "malformed");
	is_scan("{\"id\": \"\xc0\xaf\"}", "id", "malformed");
	is_scan("{\"id\": tru}", "id", "malformed");
	is_scan("{\"id\": \"open", "id", "malformed");
	is_scan("[1, 2", "id", "malformed");
	is_scan("{\"id\" \"a\"}", "id", "malformed");

	/* nesting: up to the limit is fine, one more is malformed */
	{
		char		deep[2 * INBOX_JSON_MAX_DEPTH + 3];
		int			n;

		for (n = 0; n < INBOX_JSON_MAX_DEPTH; n++)
			deep[n] = '[';
		for (int i = 0; i < INBOX_JSON_MAX_DEPTH; i++)
			deep[n++] = ']';
		deep[n] = '\0';
		is_scan(deep, "id", "noid");
		deep[0] = '\0';
		for (n = 0; n <= INBOX_JSON_MAX_DEPTH; n++)
			deep[n] = '[';
		deep[n] = '\0';
		is_scan(deep, "id", "malformed");
	}

	/* paths */
	ok(InboxJsonPathParse("", &p) == -1, "an empty path is refused");
	ok(InboxJsonPathParse("a..b", &p) == -1, "a path with an empty key is refused");
	ok(InboxJsonPathParse("a.", &p) == -1, "a path ending in a dot is refused");
	ok(InboxJsonPathParse("a.b.c", &p) == 0 && p.n == 3 && strcmp(p.keys[2], "c") == 0,
	   "a.b.c is three keys");
	InboxJsonPathFree(&p);
	return tap_done();
}
