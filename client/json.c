/*
 * json.c
 *	  A strict JSON scanner for the pg_inbox command.
 *
 * The command must tell a malformed line from a good one before it sends a
 * batch: inbox.ingest_many takes jsonb[], and one element that the server
 * cannot read as jsonb fails the whole batch.  So the scanner accepts what
 * PostgreSQL's jsonb input accepts (RFC 8259 in UTF-8, without the \u0000
 * escape that jsonb refuses, and without unpaired surrogate escapes), and
 * on the way picks out the value at the event id's path.  It builds no tree:
 * one pass, recursion bounded by INBOX_JSON_MAX_DEPTH.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

typedef struct Scan
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	int			depth;
	const InboxJsonPath *path;
	char	   *why;
	size_t		why_size;
	bool		failed;

	/* the value at the path: where it starts and ends, and whether usable */
	bool		found;
	bool		usable;			/* a string or a number */
	size_t		start;
	size_t		end;
	const char *found_kind;		/* for the message when not usable */
} Scan;

static void
fail(Scan *sc, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
fail(Scan *sc, const char *fmt,...)
{
	va_list		ap;

	if (sc->failed)
		return;
	sc->failed = true;
	va_start(ap, fmt);
	vsnprintf(sc->why, sc->why_size, fmt, ap);
	va_end(ap);
}

static void
fail_here(Scan *sc, const char *what)
{
	if (sc->pos >= sc->len)
		fail(sc, "unexpected end of line while reading %s", what);
	else if (sc->s[sc->pos] >= 0x20 && sc->s[sc->pos] < 0x7f)
		fail(sc, "unexpected character '%c' in %s at byte %zu", sc->s[sc->pos], what, sc->pos + 1);
	else
		fail(sc, "unexpected byte 0x%02x in %s at byte %zu", sc->s[sc->pos], what, sc->pos + 1);
}

static void
skip_space(Scan *sc)
{
	while (sc->pos < sc->len &&
		   (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
			sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
		sc->pos++;
}

static int
hex4(const unsigned char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		int			c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Length of the UTF-8 sequence at p (at most avail bytes), or 0 when invalid. */
static size_t
utf8_length(const unsigned char *p, size_t avail)
{
	size_t		n;
	unsigned	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static char *
put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80)
		*out++ = (char) cp;
	else if (cp < 0x800)
	{
		*out++ = (char) (0xc0 | (cp >> 6));
		*out++ = (char) (0x80 | (cp & 0x3f));
	}
	else if (cp < 0x10000)
	{
		*out++ = (char) (0xe0 | (cp >> 12));
		*out++ = (char) (0x80 | ((cp >> 6) & 0x3f));
		*out++ = (char) (0x80 | (cp & 0x3f));
	}
	else
	{
		*out++ = (char) (0xf0 | (cp >> 18));
		*out++ = (char) (0x80 | ((cp >> 12) & 0x3f));
		*out++ = (char) (0x80 | ((cp >> 6) & 0x3f));
		*out++ = (char) (0x80 | (cp & 0x3f));
	}
	return out;
}

/*
 * A string starting at its opening quote.  When out is not NULL, the
 * unescaped text is written there (it needs as many bytes as the string
 * has in the input, plus one) and NUL-terminated.
 */
static void
scan_string(Scan *sc, char *out)
{
	sc->pos++;					/* the opening quote */
	while (!sc->failed)
	{
		unsigned char c;

		if (sc->pos >= sc->len)
		{
			fail(sc, "unexpected end of line inside a string");
			return;
		}
		c = sc->s[sc->pos];
		if (c == '"')
		{
			sc->pos++;
			if (out)
				*out = '\0';
			return;
		}
		if (c < 0x20)
		{
			fail(sc, "control character 0x%02x inside a string at byte %zu (it must be escaped)",
				 c, sc->pos + 1);
			return;
		}
		if (c == '\\')
		{
			unsigned char e;

			if (sc->pos + 1 >= sc->len)
			{
				fail(sc, "unexpected end of line inside a string");
				return;
			}
			e = sc->s[sc->pos + 1];
			if (e == 'u')
			{
				int			cp = sc->pos + 6 <= sc->len ? hex4(sc->s + sc->pos + 2) : -1;

				if (cp < 0)
				{
					fail(sc, "bad \\u escape at byte %zu", sc->pos + 1);
					return;
				}
				if (cp == 0)
				{
					fail(sc, "\\u0000 at byte %zu cannot be stored in jsonb", sc->pos + 1);
					return;
				}
				if (cp >= 0xdc00 && cp <= 0xdfff)
				{
					fail(sc, "low surrogate \\u%04x without a high one at byte %zu", cp, sc->pos + 1);
					return;
				}
				if (cp >= 0xd800 && cp <= 0xdbff)
				{
					int			lo = (sc->pos + 12 <= sc->len && sc->s[sc->pos + 6] == '\\' &&
									  sc->s[sc->pos + 7] == 'u') ? hex4(sc->s + sc->pos + 8) : -1;

					if (lo < 0xdc00 || lo > 0xdfff)
					{
						fail(sc, "high surrogate \\u%04x without a low one at byte %zu", cp, sc->pos + 1);
						return;
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					sc->pos += 6;
				}
				if (out)
					out = put_utf8(out, (unsigned) cp);
				sc->pos += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0')
			{
				fail(sc, "bad escape \\%c at byte %zu", e >= 0x20 && e < 0x7f ? e : '?', sc->pos + 1);
				return;
			}
			if (out)
				*out++ = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' :
					e == 'r' ? '\r' : e == 't' ? '\t' : (char) e;
			sc->pos += 2;
			continue;
		}
		{
			size_t		n = utf8_length(sc->s + sc->pos, sc->len - sc->pos);

			if (n == 0)
			{
				fail(sc, "invalid UTF-8 at byte %zu", sc->pos + 1);
				return;
			}
			if (out)
			{
				memcpy(out, sc->s + sc->pos, n);
				out += n;
			}
			sc->pos += n;
		}
	}
}

static void
scan_digits(Scan *sc)
{
	if (sc->pos >= sc->len || sc->s[sc->pos] < '0' || sc->s[sc->pos] > '9')
	{
		fail_here(sc, "a number");
		return;
	}
	while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
		sc->pos++;
}

static void
scan_number(Scan *sc)
{
	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0')
		sc->pos++;
	else
		scan_digits(sc);
	if (!sc->failed && sc->pos < sc->len && sc->s[sc->pos] == '.')
	{
		sc->pos++;
		scan_digits(sc);
	}
	if (!sc->failed && sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E'))
	{
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		scan_digits(sc);
	}
}

static void scan_value(Scan *sc, int matched);

/*
 * An object.  matched is how many keys of the path lead here (-1: off the
 * path); a member whose key is the next key of the path continues it.
 */
static void
scan_object(Scan *sc, int matched)
{
	bool		on_path = matched >= 0 && matched < sc->path->n;
	char	   *key = NULL;

	sc->pos++;
	skip_space(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == '}')
	{
		sc->pos++;
		return;
	}
	while (!sc->failed)
	{
		int			child = -1;

		skip_space(sc);
		if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		{
			fail_here(sc, "an object (a key was expected)");
			break;
		}
		if (on_path)
		{
			size_t		start = sc->pos;

			free(key);
			key = NULL;
			scan_string(sc, NULL);
			if (sc->failed)
				break;
			/* scan it again to unescape it: keys are short */
			key = malloc(sc->pos - start + 1);
			if (key == NULL)
			{
				fail(sc, "out of memory");
				break;
			}
			sc->pos = start;
			scan_string(sc, key);
			if (strcmp(key, sc->path->keys[matched]) == 0)
				child = matched + 1;
		}
		else
			scan_string(sc, NULL);
		skip_space(sc);
		if (sc->failed)
			break;
		if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
		{
			fail_here(sc, "an object (':' was expected)");
			break;
		}
		sc->pos++;
		scan_value(sc, child);
		skip_space(sc);
		if (sc->failed)
			break;
		if (sc->pos < sc->len && sc->s[sc->pos] == ',')
		{
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->s[sc->pos] == '}')
		{
			sc->pos++;
			break;
		}
		fail_here(sc, "an object (',' or '}' was expected)");
	}
	free(key);
}

static void
scan_array(Scan *sc)
{
	sc->pos++;
	skip_space(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == ']')
	{
		sc->pos++;
		return;
	}
	while (!sc->failed)
	{
		scan_value(sc, -1);
		skip_space(sc);
		if (sc->failed)
			return;
		if (sc->pos < sc->len && sc->s[sc->pos] == ',')
		{
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->s[sc->pos] == ']')
		{
			sc->pos++;
			return;
		}
		fail_here(sc, "an array (',' or ']' was expected)");
	}
}

static bool
literal(Scan *sc, const char *word)
{
	size_t		n = strlen(word);

	if (sc->len - sc->pos >= n && memcmp(sc->s + sc->pos, word, n) == 0)
	{
		sc->pos += n;
		return true;
	}
	return false;
}

static void
scan_value(Scan *sc, int matched)
{
	bool		target = matched == sc->path->n;
	const char *kind = NULL;
	unsigned char c;

	skip_space(sc);
	if (sc->pos >= sc->len)
	{
		fail(sc, "unexpected end of line where a value was expected");
		return;
	}
	if (++sc->depth > INBOX_JSON_MAX_DEPTH)
	{
		fail(sc, "nested deeper than %d levels", INBOX_JSON_MAX_DEPTH);
		return;
	}
	if (target)
		sc->start = sc->pos;
	c = sc->s[sc->pos];
	if (c == '{')
	{
		scan_object(sc, matched);
		kind = "an object";
	}
	else if (c == '[')
	{
		scan_array(sc);
		kind = "an array";
	}
	else if (c == '"')
		scan_string(sc, NULL);
	else if (c == '-' || (c >= '0' && c <= '9'))
		scan_number(sc);
	else if (literal(sc, "true") || literal(sc, "false"))
		kind = "a boolean";
	else if (literal(sc, "null"))
		kind = "null";
	else
		fail_here(sc, "a value");
	sc->depth--;
	if (target && !sc->failed)
	{
		/* a repeated key: jsonb keeps the last one, and so does this */
		sc->found = true;
		sc->usable = kind == NULL;
		sc->found_kind = kind;
		sc->end = sc->pos;
	}
}

InboxJsonResult
InboxJsonRaw(const char *text, size_t len, const InboxJsonPath *path,
			 char **raw, char *why, size_t why_size)
{
	Scan		sc;

	memset(&sc, 0, sizeof(sc));
	sc.s = (const unsigned char *) text;
	sc.len = len;
	sc.path = path;
	sc.why = why;
	sc.why_size = why_size;
	*raw = NULL;
	if (why_size > 0)
		why[0] = '\0';

	scan_value(&sc, 0);
	skip_space(&sc);
	if (!sc.failed && sc.pos < sc.len)
		fail_here(&sc, "the line after its JSON value");
	if (sc.failed)
		return INBOX_JSON_MALFORMED;
	if (!sc.found)
	{
		snprintf(why, why_size, "no field \"%s\"", path->n > 0 ? path->keys[path->n - 1] : "");
		return INBOX_JSON_NO_ID;
	}
	*raw = malloc(sc.end - sc.start + 1);
	if (*raw == NULL)
	{
		snprintf(why, why_size, "out of memory");
		return INBOX_JSON_MALFORMED;
	}
	memcpy(*raw, text + sc.start, sc.end - sc.start);
	(*raw)[sc.end - sc.start] = '\0';
	return INBOX_JSON_ID;
}

InboxJsonResult
InboxJsonScan(const char *text, size_t len, const InboxJsonPath *path,
			  char **id, char *why, size_t why_size)
{
	Scan		sc;

	memset(&sc, 0, sizeof(sc));
	sc.s = (const unsigned char *) text;
	sc.len = len;
	sc.path = path;
	sc.why = why;
	sc.why_size = why_size;
	*id = NULL;
	if (why_size > 0)
		why[0] = '\0';

	scan_value(&sc, 0);
	skip_space(&sc);
	if (!sc.failed && sc.pos < sc.len)
		fail_here(&sc, "the line after its JSON value");
	if (sc.failed)
		return INBOX_JSON_MALFORMED;
	if (!sc.found || !sc.usable)
	{
		char		dotted[256] = "";

		for (int i = 0; i < path->n; i++)
			snprintf(dotted + strlen(dotted), sizeof(dotted) - strlen(dotted), "%s%s",
					 i > 0 ? "." : "", path->keys[i]);
		if (!sc.found)
			snprintf(why, why_size, "no field \"%s\"", dotted);
		else
			snprintf(why, why_size, "field \"%s\" is %s, not a string or a number", dotted, sc.found_kind);
		return INBOX_JSON_NO_ID;
	}

	*id = malloc(sc.end - sc.start + 1);
	if (*id == NULL)
	{
		snprintf(why, why_size, "out of memory");
		return INBOX_JSON_MALFORMED;
	}
	if (sc.s[sc.start] == '"')
	{
		sc.pos = sc.start;
		scan_string(&sc, *id);
	}
	else
	{
		memcpy(*id, text + sc.start, sc.end - sc.start);
		(*id)[sc.end - sc.start] = '\0';
	}
	return INBOX_JSON_ID;
}

int
InboxJsonPathParse(const char *dotted, InboxJsonPath *path)
{
	char	   *p;

	memset(path, 0, sizeof(*path));
	if (dotted == NULL || *dotted == '\0')
		return -1;
	path->storage = strdup(dotted);
	path->keys = calloc(strlen(dotted) + 1, sizeof(char *));
	if (path->storage == NULL || path->keys == NULL)
	{
		InboxJsonPathFree(path);
		return -1;
	}
	for (p = path->storage;;)
	{
		char	   *dot = strchr(p, '.');

		if (dot)
			*dot = '\0';
		if (*p == '\0')
		{
			InboxJsonPathFree(path);
			return -1;
		}
		path->keys[path->n++] = p;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return 0;
}

void
InboxJsonPathFree(InboxJsonPath *path)
{
	free(path->keys);
	free(path->storage);
	memset(path, 0, sizeof(*path));
}
