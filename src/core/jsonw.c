#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonw.h"

static int    write_value(struct buf *, json_t *, int depth);
static int    write_string(struct buf *, const char *, size_t);
static int    write_integer(struct buf *, json_int_t);
static int    write_real(struct buf *, double);
static size_t utf8_seq(const unsigned char *, size_t);

int
jsonw_compact(struct buf *b, json_t *v)
{
	size_t start = b->len;
	int    rc;

	if (v == NULL)
		return (ERR_MALFORMED);
	if ((rc = write_value(b, v, 0)) != OK)
		buf_truncate(b, start);
	return (rc);
}

static int
write_value(struct buf *b, json_t *v, int depth)
{
	const char *key;
	json_t	   *m;
	void	   *it;
	size_t	    i, n;
	int	    rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth >= JSONW_MAX_DEPTH)
			return (ERR_MALFORMED);
		if ((rc = buf_append(b, "{", 1)) != OK)
			return (rc);
		n = 0;
		for (it = json_object_iter(v); it != NULL;
		     it = json_object_iter_next(v, it)) {
			key = json_object_iter_key(it);
			m = json_object_iter_value(it);
			if ((n++ > 0 && (rc = buf_append(b, ",", 1)) != OK) ||
			    (rc = write_string(
				 b, key, json_object_iter_key_len(it))) != OK ||
			    (rc = buf_append(b, ":", 1)) != OK ||
			    (rc = write_value(b, m, depth + 1)) != OK)
				return (rc);
		}
		return (buf_append(b, "}", 1));
	case JSON_ARRAY:
		if (depth >= JSONW_MAX_DEPTH)
			return (ERR_MALFORMED);
		if ((rc = buf_append(b, "[", 1)) != OK)
			return (rc);
		n = json_array_size(v);
		for (i = 0; i < n; i++)
			if ((i > 0 && (rc = buf_append(b, ",", 1)) != OK) ||
			    (rc = write_value(
				 b, json_array_get(v, i), depth + 1)) != OK)
				return (rc);
		return (buf_append(b, "]", 1));
	case JSON_STRING:
		return (write_string(
		    b, json_string_value(v), json_string_length(v)));
	case JSON_INTEGER:
		return (write_integer(b, json_integer_value(v)));
	case JSON_REAL:
		return (write_real(b, json_real_value(v)));
	case JSON_TRUE:
		return (buf_append(b, "true", 4));
	case JSON_FALSE:
		return (buf_append(b, "false", 5));
	case JSON_NULL:
		return (buf_append(b, "null", 4));
	}
	return (ERR_MALFORMED);
}

/*
 * Length of the valid UTF-8 sequence at s (n bytes left), 0 when it is not
 * one: no overlong forms, no surrogates, nothing past U+10FFFF (the rules
 * of jansson's utf8_check_full).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t	 len, i;

	if (s[0] < 0x80)
		return (1);
	if (s[0] < 0xc2)
		return (0);
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return (0);
	return (len);
}

static int
write_string(struct buf *b, const char *str, size_t len)
{
	static const char    hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	const char	    *esc;
	char		     u[6];
	size_t		     i = 0, run = 0, k;
	int		     rc;

	if ((rc = buf_reserve(b, len + 2)) != OK)
		return (rc);
	b->data[b->len++] = '"';
	while (i < len) {
		if (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' &&
		    s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0x80) {
			if ((k = utf8_seq(s + i, len - i)) == 0)
				return (ERR_MALFORMED);
			i += k;
			continue;
		}
		if ((rc = buf_append(b, s + run, i - run)) != OK)
			return (rc);
		switch (s[i]) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			esc = NULL;
			break;
		}
		if (esc != NULL)
			rc = buf_append(b, esc, 2);
		else {
			u[0] = '\\';
			u[1] = 'u';
			u[2] = '0';
			u[3] = '0';
			u[4] = hex[s[i] >> 4];
			u[5] = hex[s[i] & 0xf];
			rc = buf_append(b, u, sizeof(u));
		}
		if (rc != OK)
			return (rc);
		run = ++i;
	}
	if ((rc = buf_append(b, s + run, len - run)) != OK)
		return (rc);
	return (buf_append(b, "\"", 1));
}

static int
write_integer(struct buf *b, json_int_t v)
{
	char		   tmp[24];
	char		  *p = tmp + sizeof(tmp);
	unsigned long long u;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	return (buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p)));
}

/* jansson's jsonp_dtostr at its default precision of 17. */
static int
write_real(struct buf *b, double v)
{
	char tmp[40], *e, *end, *start;
	int  n;

	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(tmp) - 3)
		return (ERR_MALFORMED);
	if (strchr(tmp, '.') == NULL && strchr(tmp, 'e') == NULL) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	if ((e = strchr(tmp, 'e')) != NULL) {
		start = e + 1;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(tmp + n - end) + 1);
			n -= (int)(end - start);
		}
	}
	return (buf_append(b, tmp, (size_t)n));
}
