/*
 * json.h
 *	  The pg_inbox command's JSON checks: is a line one JSON value that
 *	  PostgreSQL's jsonb will take, and what is at a dotted path in it.
 *	  Not part of the library.
 */
#ifndef INBOX_JSON_H
#define INBOX_JSON_H

#include <stddef.h>

/* deeper nesting is refused as malformed, so that the scan's recursion is bounded */
#define INBOX_JSON_MAX_DEPTH 1000

typedef struct InboxJsonPath
{
	int			n;				/* number of keys */
	char	  **keys;			/* "data.object.id" is {"data", "object", "id"} */
	char	   *storage;		/* the keys point into this */
} InboxJsonPath;

typedef enum InboxJsonResult
{
	INBOX_JSON_ID,				/* valid, and *id is set */
	INBOX_JSON_NO_ID,			/* valid, but no string or number at the path */
	INBOX_JSON_MALFORMED		/* not one valid JSON value */
} InboxJsonResult;

/* Split a dotted path; -1 when it is empty or has an empty key. */
extern int	InboxJsonPathParse(const char *dotted, InboxJsonPath *path);
extern void InboxJsonPathFree(InboxJsonPath *path);

/*
 * Scan text[0 .. len).  On INBOX_JSON_ID, *id is a malloc'd copy of the
 * string (unescaped) or number (as written) at path, which the caller frees.
 * Otherwise why[] says what is wrong, "... at byte N" counting from 1.
 */
extern InboxJsonResult InboxJsonScan(const char *text, size_t len, const InboxJsonPath *path,
									 char **id, char *why, size_t why_size);

/*
 * Scan text[0 .. len) as InboxJsonScan does, but on INBOX_JSON_ID *raw is a
 * malloc'd copy of the value at path as written (any kind of value), which
 * the caller frees; INBOX_JSON_NO_ID when there is none.
 */
extern InboxJsonResult InboxJsonRaw(const char *text, size_t len, const InboxJsonPath *path,
									char **raw, char *why, size_t why_size);

#endif							/* INBOX_JSON_H */
