/*
 * Amounts in a currency's minor unit (money.h). The exponents are the
 * ones Stripe counts in (https://docs.stripe.com/currencies): none for its
 * zero-decimal currencies, thousandths for its three-decimal ones,
 * hundredths for the rest (ISK, HUF and TWD among them: Stripe keeps them
 * two-decimal in its API), so an amount here is the amount Stripe was
 * sent.
 */
#include <stdio.h>
#include <string.h>

#include "core/money.h"

int
money_currency_ok(const char *s)
{
	int i;

	if (s == NULL)
		return (0);
	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return (0);
	return (s[3] == '\0');
}

/* 1 if the code c is a word of the space-separated list. */
static int
listed(const char *list, const char *c)
{
	const char *p;

	for (p = list; (p = strstr(p, c)) != NULL; p += 3)
		if ((p == list || p[-1] == ' ') &&
		    (p[3] == ' ' || p[3] == '\0'))
			return (1);
	return (0);
}

int
money_exponent(const char *currency)
{
	if (!money_currency_ok(currency))
		return (2);
	if (listed("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF "
		   "XOF XPF",
		currency))
		return (0);
	if (listed("BHD JOD KWD OMR TND", currency))
		return (3);
	return (2);
}

void
money_decimal(int64_t minor, const char *currency, char *out, size_t n)
{
	uint64_t a, unit = 1;
	int	 e = money_exponent(currency), i;

	for (i = 0; i < e; i++)
		unit *= 10;
	/* The magnitude without overflow, INT64_MIN included. */
	a = minor < 0 ? (uint64_t)(-(minor + 1)) + 1 : (uint64_t)minor;
	if (e == 0)
		snprintf(out, n, "%s%llu", minor < 0 ? "-" : "",
		    (unsigned long long)a);
	else
		snprintf(out, n, "%s%llu.%0*llu", minor < 0 ? "-" : "",
		    (unsigned long long)(a / unit), e,
		    (unsigned long long)(a % unit));
}

void
money_format(int64_t minor, const char *currency, char *out, size_t n)
{
	char d[32];

	money_decimal(minor, currency, d, sizeof(d));
	snprintf(out, n, "%s %s", d, currency);
}
