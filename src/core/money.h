/*
 * Amounts of money as the program keeps them: an integer count of a
 * currency's minor unit (pence, grosze, yen) beside its ISO 4217 code.
 * Pure: no locale, no floating point.
 */
#ifndef CORE_MONEY_H
#define CORE_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s is three upper-case letters (an ISO 4217 code's form). */
int money_currency_ok(const char *s);
/* The same as a field's pattern (struct field), which the resource layer
 * checks and the OpenAPI document states. */
#define MONEY_CURRENCY_PATTERN "^[A-Z]{3}$"
/*
 * Digits after the point of an amount in currency, as Stripe counts its
 * minor units: 0 (JPY, ...), 3 (KWD, ...) or 2 (the rest, and anything
 * that is not a code).
 */
int money_exponent(const char *currency);
/*
 * minor units of currency as a plain decimal into out: "75.00", "-0.05",
 * "1200" (JPY), "1.250" (KWD); no grouping, no symbol, '.' as the point.
 */
void money_decimal(int64_t minor, const char *currency, char *out, size_t n);
/* The same with the code after it, as people read it: "75.00 GBP". */
void money_format(int64_t minor, const char *currency, char *out, size_t n);

#endif
