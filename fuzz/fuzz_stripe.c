/*
 * libFuzzer target for what carebase reads of Stripe: the
 * Stripe-Signature header (stripe_signature_check) and Stripe's ids.
 * Input: a header, a NUL byte, then the body.
 *
 * A header accepted names a t= of digits within the tolerance of "now"
 * and a v1= entry; the body it was accepted for changed by one byte
 * (another body) is refused unless the header also verifies it, which
 * HMAC-SHA256 makes as good as never. An id accepted is 1 to
 * STRIPE_ID_MAX of [A-Za-z0-9_].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "training/training_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW 1700000000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	char	      *header, *body;
	size_t	       hlen, blen, i;
	int	       rc;

	if (nul == NULL)
		return (0);
	hlen = (size_t)(nul - data);
	blen = size - hlen - 1;
	if ((header = malloc(hlen + 1)) == NULL ||
	    (body = malloc(blen + 1)) == NULL) {
		free(header);
		return (0);
	}
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	memcpy(body, nul + 1, blen);
	body[blen] = '\0';
	rc = stripe_signature_check(
	    header, body, blen, "whsec_fuzz", NOW, STRIPE_TOLERANCE_S);
	if (rc < STRIPE_SIG_OK || rc > STRIPE_SIG_STALE)
		abort();
	if (rc == STRIPE_SIG_OK) {
		if (strstr(header, "t=") == NULL ||
		    strstr(header, "v1=") == NULL)
			abort();
		if (blen > 0) {
			body[0] ^= 1;
			if (stripe_signature_check(header, body, blen,
				"whsec_fuzz", NOW,
				STRIPE_TOLERANCE_S) == STRIPE_SIG_OK)
				abort();
		}
	}
	if (hlen == 0 && rc != STRIPE_SIG_MISSING)
		abort();
	if (stripe_id_ok(header)) {
		if (hlen == 0 || hlen > STRIPE_ID_MAX)
			abort();
		for (i = 0; i < hlen; i++)
			if (!((header[i] >= 'a' && header[i] <= 'z') ||
				(header[i] >= 'A' && header[i] <= 'Z') ||
				(header[i] >= '0' && header[i] <= '9') ||
				header[i] == '_'))
				abort();
	}
	free(header);
	free(body);
	return (0);
}
