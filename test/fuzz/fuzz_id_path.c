/*
 * fuzz_id_path.c
 *	  libFuzzer harness: --id-field's dotted path (InboxJsonPathParse in
 *	  client/json.c) and the JSON line checker with that path.  The input's
 *	  first line is the path, the rest the JSON line.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t		plen = nl ? (size_t) (nl - data) : size;
	size_t		jlen = nl ? size - plen - 1 : 0;
	char	   *dotted = malloc(plen + 1);
	char	   *line = malloc(jlen ? jlen : 1);
	InboxJsonPath path;
	char		why[256];
	char	   *id = NULL;

	if (dotted == NULL || line == NULL)
	{
		free(dotted);
		free(line);
		return 0;
	}
	memcpy(dotted, data, plen);
	dotted[plen] = '\0';		/* a NUL in the path ends it, as in argv */
	if (jlen)
		memcpy(line, nl + 1, jlen);
	if (InboxJsonPathParse(dotted, &path) == 0)
	{
		size_t		total = 0;

		/* the keys are the path's pieces, none empty */
		if (path.n < 1)
			abort();
		for (int i = 0; i < path.n; i++)
		{
			if (path.keys[i][0] == '\0')
				abort();
			total += strlen(path.keys[i]) + 1;
		}
		if (total - 1 != strlen(dotted))
			abort();
		if (InboxJsonScan(line, jlen, &path, &id, why, sizeof(why)) == INBOX_JSON_ID && id == NULL)
			abort();
		free(id);
		InboxJsonPathFree(&path);
	}
	else if (path.keys != NULL || path.storage != NULL || path.n != 0)
		abort();
	free(dotted);
	free(line);
	return 0;
}
