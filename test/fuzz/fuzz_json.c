/*
 * fuzz_json.c
 *	  libFuzzer harness: the pg_inbox command's JSON line checker
 *	  (InboxJsonScan in client/json.c) on one line of any bytes, with the
 *	  default id path "id" and with "data.object.id".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void
scan(const uint8_t *data, size_t size, const char *dotted)
{
	InboxJsonPath path;
	char		why[256];
	char	   *id = NULL;
	InboxJsonResult r;

	if (InboxJsonPathParse(dotted, &path) != 0)
		abort();
	r = InboxJsonScan((const char *) data, size, &path, &id, why, sizeof(why));
	/* an id only with INBOX_JSON_ID, a reason only without */
	if ((r == INBOX_JSON_ID) != (id != NULL))
		abort();
	if (r == INBOX_JSON_ID && strlen(id) > size)
		abort();
	if (r != INBOX_JSON_ID && (why[0] == '\0' || strnlen(why, sizeof(why)) == sizeof(why)))
		abort();
	free(id);
	InboxJsonPathFree(&path);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: a read past the end is ASan's to see */
	uint8_t    *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	scan(copy, size, "id");
	scan(copy, size, "data.object.id");
	free(copy);
	return 0;
}
