/*
 * libFuzzer target for cron_parse and cron_next:
 *	clang -std=c11 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address \
 *	    fuzz/fuzz_cron.c src/store/cron.c -o build/fuzz_cron
 * The first 8 bytes pick the "after" time, the rest is the expression.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron c;
	uint64_t    raw = 0;
	int64_t	    after, next;
	char	   *expr;

	if (size >= 8) {
		memcpy(&raw, data, 8);
		data += 8;
		size -= 8;
	}
	if ((expr = malloc(size + 1)) == NULL)
		return (0);
	memcpy(expr, data, size);
	expr[size] = '\0';
	if (cron_parse(expr, &c) == OK) {
		/* a time between 1970 and about 2300, or raw as given */
		after = (raw & 1) ? (int64_t)raw
				  : (int64_t)(raw % 10000000000000ULL);
		next = cron_next(&c, after);
		if (next != -1 && (next <= after || next % 60000 != 0))
			abort();
	}
	free(expr);
	return (0);
}
