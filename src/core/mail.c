/*
 * Outgoing mail (see mail.h): named templates with {{ name }} slots, an
 * RFC 5322 / MIME message builder, and SMTP through libcurl.
 *
 * Template parts are looked up in config templates_dir first (NAME.subject,
 * NAME.txt, NAME.html), then in the registered built-ins.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/util.h"

#define MAIL_MAX_TEMPLATES 128
#define MAIL_MAX_NAME	   64
#define MAIL_MAX_ADDRESS   254
#define MAIL_MAX_VAR	   128
#define MAIL_MAX_MESSAGE   (4 * MAIL_MAX_BODY)
#define MAIL_QP_LINE	   76

struct mail_reader {
	const char *data;
	size_t	    len, off;
};

static int   mail_name_valid(const char *);
static char *mail_part(const char *, const char *, const char *, int *);
struct mail_raw {
	const char *body; /* {{body}}: inserted as it is */
	const char *logo; /* {{logo}}: inserted as it is */
};

static int mail_expand(
    const char *, json_t *, int, const struct mail_raw *, char **);
static int     mail_layout(json_t *, char **, char **);
static int     mail_logo(json_t *, char **);
static int     mail_put_value(struct buf *, json_t *, int);
static json_t *mail_lookup(json_t *, const char *);
static int     mail_has_crlf(const char *);
static int     mail_is_ascii(const char *);
static int     mail_put_encoded_words(struct buf *, const char *);
static int     mail_put_from(struct buf *, const char *);
static int     mail_put_date(struct buf *);
static int     mail_put_qp(struct buf *, const char *);
static int     mail_from_address(const char *, char *, size_t);
static size_t  mail_read_cb(char *, size_t, size_t, void *);
static int     mail_send_one(const struct mail_msg *, char *, size_t);

static _Atomic uint64_t mail_sent, mail_failed;

static const struct mail_template *mail_templates[MAIL_MAX_TEMPLATES];
static size_t			   mail_ntemplates;

int
mail_init(void)
{
	return (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
		? OK
		: ERR_INTERNAL);
}

void
mail_cleanup(void)
{
	curl_global_cleanup();
}

int
mail_template_register(const struct mail_template *t)
{
	size_t i;

	if (t == NULL || !mail_name_valid(t->name) || t->subject == NULL ||
	    t->text == NULL)
		return (ERR_INVALID);
	for (i = 0; i < mail_ntemplates; i++)
		if (strcmp(mail_templates[i]->name, t->name) == 0)
			return (ERR_CONFLICT);
	if (mail_ntemplates == MAIL_MAX_TEMPLATES)
		return (ERR_TOO_LARGE);
	mail_templates[mail_ntemplates++] = t;
	return (OK);
}

/* Names become file names: letters, digits, '_', '-', '.', no "..". */
static int
mail_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || strstr(s, "..") != NULL)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= MAIL_MAX_NAME)
			return (0);
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			s[i] == '-' || s[i] == '.'))
			return (0);
	}
	return (1);
}

/*
 * One part of a template as a malloc'd string, or NULL with *rc = OK when
 * there is none. builtin is the registered text for this part, or NULL.
 */
static char *
mail_part(const char *name, const char *ext, const char *builtin, int *rc)
{
	struct buf b;
	char	   path[1024], chunk[4096], *copy;
	FILE	  *f;
	size_t	   n;

	*rc = OK;
	if (config.templates_dir != NULL && config.templates_dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s.%s", config.templates_dir,
		    name, ext);
		if ((f = fopen(path, "rb")) != NULL) {
			buf_init(&b, MAIL_MAX_BODY);
			while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
				if ((*rc = buf_append(&b, chunk, n)) != OK)
					break;
			if (*rc == OK && ferror(f))
				*rc = ERR_IO;
			fclose(f);
			if (*rc != OK) {
				buf_free(&b);
				return (NULL);
			}
			return (buf_take(&b, NULL));
		}
	}
	if (builtin == NULL)
		return (NULL);
	if (strlen(builtin) > MAIL_MAX_BODY) {
		*rc = ERR_TOO_LARGE;
		return (NULL);
	}
	if ((copy = strdup(builtin)) == NULL)
		*rc = ERR_NOMEM;
	return (copy);
}

const struct mail_template *
mail_template_at(size_t i)
{
	return (i < mail_ntemplates ? mail_templates[i] : NULL);
}

int
mail_render(
    const char *name, json_t *vars, char **subject, char **text, char **html)
{
	const struct mail_template *t = NULL;
	struct mail_raw		    raw;
	char			   *src[3] = { NULL, NULL, NULL };
	char			   *logo = NULL;
	size_t			    i;
	int			    rc;

	*subject = *text = *html = NULL;
	if (!mail_name_valid(name))
		return (ERR_INVALID);
	for (i = 0; i < mail_ntemplates; i++)
		if (strcmp(mail_templates[i]->name, name) == 0)
			t = mail_templates[i];
	if ((src[0] = mail_part(name, "subject", t ? t->subject : NULL, &rc)) ==
		NULL &&
	    rc != OK)
		goto out;
	if ((src[1] = mail_part(name, "txt", t ? t->text : NULL, &rc)) ==
		NULL &&
	    rc != OK)
		goto out;
	if ((src[2] = mail_part(name, "html", t ? t->html : NULL, &rc)) ==
		NULL &&
	    rc != OK)
		goto out;
	rc = ERR_NOT_FOUND;
	if (src[0] == NULL || src[1] == NULL)
		goto out;
	/* a subject file usually ends with a newline */
	src[0][strcspn(src[0], "\r\n")] = '\0';
	/* the layout on its own (a preview) draws its logo as around a
	 * message */
	memset(&raw, 0, sizeof(raw));
	if (strcmp(name, "layout") == 0 && (rc = mail_logo(vars, &logo)) != OK)
		goto out;
	raw.logo = logo;
	if ((rc = mail_expand(src[0], vars, 0, NULL, subject)) != OK ||
	    (rc = mail_expand(src[1], vars, 0, NULL, text)) != OK ||
	    (src[2] != NULL &&
		(rc = mail_expand(src[2], vars, 1, &raw, html)) != OK))
		goto out;
	if (strcmp(name, "layout") != 0 &&
	    (rc = mail_layout(vars, text, html)) != OK)
		goto out;
	if (mail_has_crlf(*subject)) {
		log_warn("event=mail_render_failed template=%s "
			 "reason=subject_has_line_break",
		    name);
		rc = ERR_INVALID;
	}
out:
	free(logo);
	for (i = 0; i < 3; i++)
		free(src[i]);
	if (rc != OK) {
		free(*subject);
		free(*text);
		free(*html);
		*subject = *text = *html = NULL;
	}
	return (rc);
}

/*
 * Wrap the rendered text and html (replaced) in the layout, when there
 * is one; a message with no HTML of its own gets the text, escaped, as
 * its HTML body.
 */
static int
mail_layout(json_t *vars, char **text, char **html)
{
	const struct mail_template *t = NULL;
	struct mail_raw		    raw;
	struct buf		    b;
	char   *lt = NULL, *lh = NULL, *t2 = NULL, *h2 = NULL;
	char   *logo = NULL, *plain = NULL;
	json_t *v = NULL;
	size_t	i;
	int	rc;

	for (i = 0; i < mail_ntemplates; i++)
		if (strcmp(mail_templates[i]->name, "layout") == 0)
			t = mail_templates[i];
	if ((lt = mail_part("layout", "txt", t ? t->text : NULL, &rc)) == NULL)
		return (rc);
	if ((lh = mail_part("layout", "html", t ? t->html : NULL, &rc)) ==
		NULL &&
	    rc != OK)
		goto out;
	memset(&raw, 0, sizeof(raw));
	raw.body = *text;
	if ((rc = mail_expand(lt, vars, 0, &raw, &t2)) != OK)
		goto out;
	if (lh != NULL) {
		if (*html == NULL) {
			/* the text, escaped, keeping its lines */
			rc = ERR_NOMEM;
			if ((v = json_string(*text)) == NULL)
				goto out;
			buf_init(&b, MAIL_MAX_BODY);
			if ((rc = buf_puts(&b,
				 "<p style=\"white-space:pre-line\">")) != OK ||
			    (rc = mail_put_value(&b, v, 1)) != OK ||
			    (rc = buf_puts(&b, "</p>")) != OK ||
			    (plain = buf_take(&b, NULL)) == NULL) {
				rc = rc == OK ? ERR_NOMEM : rc;
				buf_free(&b);
				goto out;
			}
			buf_free(&b);
		}
		if ((rc = mail_logo(vars, &logo)) != OK)
			goto out;
		raw.body = *html != NULL ? *html : plain;
		raw.logo = logo;
		if ((rc = mail_expand(lh, vars, 1, &raw, &h2)) != OK)
			goto out;
	}
	free(*text);
	*text = t2;
	t2 = NULL;
	if (h2 != NULL) {
		free(*html);
		*html = h2;
		h2 = NULL;
	}
out:
	json_decref(v);
	free(lt);
	free(lh);
	free(t2);
	free(h2);
	free(logo);
	free(plain);
	return (rc);
}

/* {{logo}}: the logo as an image, or the brand's name, escaped. */
static int
mail_logo(json_t *vars, char **out)
{
	struct buf b;
	json_t	  *url = mail_lookup(vars, "brand_logo_url");
	json_t	  *name = mail_lookup(vars, "brand_name");
	int	   rc;

	buf_init(&b, MAIL_MAX_BODY);
	if (json_is_string(url) && json_string_length(url) > 0) {
		if ((rc = buf_puts(&b, "<img src=\"")) == OK &&
		    (rc = mail_put_value(&b, url, 1)) == OK &&
		    (rc = buf_puts(&b, "\" alt=\"")) == OK &&
		    (!json_is_string(name) ||
			(rc = mail_put_value(&b, name, 1)) == OK))
			rc = buf_puts(&b, "\" height=\"48\">");
	} else if (json_is_string(name))
		rc = mail_put_value(&b, name, 1);
	else
		rc = buf_puts(&b, "");
	if (rc == OK && (*out = buf_take(&b, NULL)) == NULL)
		rc = ERR_NOMEM;
	buf_free(&b);
	return (rc);
}

/* Replace each {{ name }} in src; html escapes the values; raw (NULL
 * for none) names the slots inserted as they are. */
static int
mail_expand(const char *src, json_t *vars, int html, const struct mail_raw *raw,
    char **out)
{
	struct buf  b;
	const char *p = src, *open, *close, *s, *e;
	char	    name[MAIL_MAX_VAR + 1], q[MAIL_MAX_VAR + 8];
	json_t	   *v;
	int	    rc = OK;

	buf_init(&b, MAIL_MAX_BODY);
	while ((open = strstr(p, "{{")) != NULL) {
		if ((rc = buf_append(&b, p, (size_t)(open - p))) != OK)
			goto out;
		if ((close = strstr(open + 2, "}}")) == NULL) {
			log_warn(
			    "event=mail_render_failed reason=unclosed_braces");
			rc = ERR_INVALID;
			goto out;
		}
		for (s = open + 2; s < close && (*s == ' ' || *s == '\t'); s++)
			;
		for (e = close; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e == s || (size_t)(e - s) > MAIL_MAX_VAR) {
			log_warn("event=mail_render_failed "
				 "reason=bad_variable_name");
			rc = ERR_INVALID;
			goto out;
		}
		memcpy(name, s, (size_t)(e - s));
		name[e - s] = '\0';
		if (raw != NULL && raw->body != NULL &&
		    strcmp(name, "body") == 0) {
			if ((rc = buf_puts(&b, raw->body)) != OK)
				goto out;
			p = close + 2;
			continue;
		}
		if (raw != NULL && raw->logo != NULL &&
		    strcmp(name, "logo") == 0) {
			if ((rc = buf_puts(&b, raw->logo)) != OK)
				goto out;
			p = close + 2;
			continue;
		}
		if ((v = mail_lookup(vars, name)) == NULL) {
			log_warn(
			    "event=mail_render_failed reason=unknown_variable "
			    "variable=%s",
			    log_quote(q, sizeof(q), name));
			rc = ERR_INVALID;
			goto out;
		}
		if ((rc = mail_put_value(&b, v, html)) != OK) {
			if (rc == ERR_INVALID)
				log_warn(
				    "event=mail_render_failed "
				    "reason=variable_not_scalar variable=%s",
				    log_quote(q, sizeof(q), name));
			goto out;
		}
		p = close + 2;
	}
	if ((rc = buf_puts(&b, p)) != OK)
		goto out;
	if ((*out = buf_take(&b, NULL)) == NULL)
		rc = ERR_NOMEM;
out:
	buf_free(&b);
	return (rc);
}

/* "a.b.c" walks nested objects; names are letters, digits, '_', '.'. */
static json_t *
mail_lookup(json_t *vars, const char *name)
{
	char   key[MAIL_MAX_VAR + 1];
	size_t n;

	while (vars != NULL && json_is_object(vars)) {
		n = strcspn(name, ".");
		if (n == 0 || n > MAIL_MAX_VAR)
			return (NULL);
		memcpy(key, name, n);
		key[n] = '\0';
		vars = json_object_get(vars, key);
		if (name[n] == '\0')
			return (vars);
		name += n + 1;
	}
	return (NULL);
}

static int
mail_put_value(struct buf *b, json_t *v, int html)
{
	char	    num[64];
	const char *s;
	size_t	    i, n;
	int	    rc;

	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
	} else if (json_is_integer(v)) {
		snprintf(
		    num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
		n = strlen(num);
	} else if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		s = num;
		n = strlen(num);
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "true" : "false";
		n = strlen(s);
	} else
		return (ERR_INVALID);
	if (!html)
		return (buf_append(b, s, n));
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			rc = buf_puts(b, "&amp;");
			break;
		case '<':
			rc = buf_puts(b, "&lt;");
			break;
		case '>':
			rc = buf_puts(b, "&gt;");
			break;
		case '"':
			rc = buf_puts(b, "&quot;");
			break;
		case '\'':
			rc = buf_puts(b, "&#39;");
			break;
		default:
			rc = buf_append(b, &s[i], 1);
			break;
		}
		if (rc != OK)
			return (rc);
	}
	return (OK);
}

static int
mail_has_crlf(const char *s)
{
	return (s != NULL && strpbrk(s, "\r\n") != NULL);
}

static int
mail_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return (0);
	return (1);
}

int
mail_address_valid(const char *s)
{
	const char *at = NULL, *p;
	size_t	    len;

	if (s == NULL || (len = strnlen(s, MAIL_MAX_ADDRESS + 1)) == 0 ||
	    len > MAIL_MAX_ADDRESS)
		return (0);
	for (p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f ||
		    strchr("<>,;:\"()[]\\", c) != NULL)
			return (0);
		if (c == '@') {
			if (at != NULL)
				return (0);
			at = p;
		}
	}
	if (at == NULL || at == s || at[1] == '\0' || at - s > 64)
		return (0);
	p = at + 1;
	if (p[0] == '.' || s[len - 1] == '.' || strstr(p, "..") != NULL)
		return (0);
	return (strchr(p, '.') != NULL || strcmp(p, "localhost") == 0);
}

/* RFC 2047 B encoded-words of at most 75 characters, folded. */
static int
mail_put_encoded_words(struct buf *b, const char *s)
{
	char   b64[128];
	size_t len = strlen(s), n;
	int    rc, first = 1;

	while (len > 0 || first) {
		n = len < 45 ? len : 45;
		/* never split a UTF-8 sequence */
		while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		if (n == 0 && len > 0)
			n = len < 45 ? len : 45;
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s, n,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((rc = buf_printf(b,
			 "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64)) != OK)
			return (rc);
		s += n;
		len -= n;
		first = 0;
	}
	return (OK);
}

/* "Name <addr>" with a non-ASCII name gets the name encoded. */
static int
mail_put_from(struct buf *b, const char *from)
{
	const char *lt = strrchr(from, '<');
	char	   *name;
	size_t	    n;
	int	    rc;

	if (mail_is_ascii(from) || lt == NULL)
		return (buf_puts(b, from));
	n = (size_t)(lt - from);
	while (n > 0 && from[n - 1] == ' ')
		n--;
	if ((name = strndup(from, n)) == NULL)
		return (ERR_NOMEM);
	if ((rc = mail_put_encoded_words(b, name)) == OK)
		rc = buf_printf(b, " %s", lt);
	free(name);
	return (rc);
}

static int
mail_put_date(struct buf *b)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t			 now = (time_t)(time_now_ms() / 1000);
	struct tm		 tm;

	gmtime_r(&now, &tm);
	return (buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec));
}

/* Quoted-printable (RFC 2045); any line ending becomes CRLF. */
static int
mail_put_qp(struct buf *b, const char *s)
{
	char	      tok[4];
	size_t	      col = 0, tl;
	unsigned char c;
	int	      rc, eol;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '\n' || (c == '\r' && s[1] == '\n')) {
			if (c == '\r')
				s++;
			if ((rc = buf_puts(b, "\r\n")) != OK)
				return (rc);
			col = 0;
			continue;
		}
		eol = s[1] == '\0' || s[1] == '\n' ||
		    (s[1] == '\r' && s[2] == '\n');
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol)) {
			tok[0] = (char)c;
			tl = 1;
		} else {
			snprintf(tok, sizeof(tok), "=%02X", c);
			tl = 3;
		}
		if (col + tl > MAIL_QP_LINE - 1) {
			if ((rc = buf_puts(b, "=\r\n")) != OK)
				return (rc);
			col = 0;
		}
		if ((rc = buf_append(b, tok, tl)) != OK)
			return (rc);
		col += tl;
	}
	return (buf_puts(b, "\r\n"));
}

char *
mail_build(const struct mail_msg *m, const char *from, size_t *len)
{
	struct buf    b;
	unsigned char rnd[12];
	char	      boundary[64], hex[25], id[UUID_STR_LEN];
	char	      addr[MAIL_MAX_ADDRESS + 1];
	const char   *domain;
	char	     *out = NULL;
	int	      rc;

	if (m == NULL || from == NULL || m->subject == NULL ||
	    m->text == NULL || !mail_address_valid(m->to) ||
	    mail_has_crlf(m->subject) || mail_has_crlf(from) ||
	    mail_from_address(from, addr, sizeof(addr)) != OK)
		return (NULL);
	/* Message-ID under the sender's own domain (RFC 5322 3.6.4): one
	 * the receiving side can tie to the sender, not this host's name */
	domain = strrchr(addr, '@') + 1;
	buf_init(&b, MAIL_MAX_MESSAGE);
	if ((rc = buf_puts(&b, "From: ")) != OK ||
	    (rc = mail_put_from(&b, from)) != OK ||
	    (rc = buf_printf(&b, "\r\nTo: %s\r\nSubject: ", m->to)) != OK)
		goto out;
	if (mail_is_ascii(m->subject) && strlen(m->subject) < 900)
		rc = buf_puts(&b, m->subject);
	else
		rc = mail_put_encoded_words(&b, m->subject);
	if (rc != OK || (rc = buf_puts(&b, "\r\n")) != OK ||
	    (rc = mail_put_date(&b)) != OK ||
	    (rc = buf_printf(&b,
		 "Message-ID: <%s@%s>\r\n"
		 "MIME-Version: 1.0\r\n",
		 uuid_v7(id), domain)) != OK)
		goto out;
	if (m->html == NULL) {
		if ((rc = buf_puts(&b,
			 "Content-Type: text/plain; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: "
			 "quoted-printable\r\n\r\n")) != OK ||
		    (rc = mail_put_qp(&b, m->text)) != OK)
			goto out;
	} else {
		/* "=_" cannot occur in quoted-printable output */
		random_bytes(rnd, sizeof(rnd));
		snprintf(boundary, sizeof(boundary), "=_cb_%s",
		    hex_encode(rnd, sizeof(rnd), hex));
		if ((rc = buf_printf(&b,
			 "Content-Type: multipart/alternative; "
			 "boundary=\"%s\"\r\n\r\n"
			 "This is a multi-part message in MIME format.\r\n"
			 "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			 boundary, boundary)) != OK ||
		    (rc = mail_put_qp(&b, m->text)) != OK ||
		    (rc = buf_printf(&b,
			 "--%s\r\nContent-Type: text/html; "
			 "charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			 boundary)) != OK ||
		    (rc = mail_put_qp(&b, m->html)) != OK ||
		    (rc = buf_printf(&b, "--%s--\r\n", boundary)) != OK)
			goto out;
	}
	out = buf_take(&b, len);
out:
	buf_free(&b);
	return (out);
}

/* The bare address of "Name <addr>" or "addr". */
static int
mail_from_address(const char *from, char *out, size_t outlen)
{
	const char *s = from, *e;

	if ((e = strrchr(from, '<')) != NULL) {
		s = e + 1;
		if ((e = strchr(s, '>')) == NULL)
			return (ERR_CONFIG);
	} else
		e = from + strlen(from);
	while (s < e && *s == ' ')
		s++;
	while (e > s && e[-1] == ' ')
		e--;
	if ((size_t)(e - s) + 1 > outlen)
		return (ERR_CONFIG);
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	return (mail_address_valid(out) ? OK : ERR_CONFIG);
}

static size_t
mail_read_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mail_reader *r = arg;
	size_t		    n = size * nmemb;

	if (n > r->len - r->off)
		n = r->len - r->off;
	memcpy(ptr, r->data + r->off, n);
	r->off += n;
	return (n);
}

int
mail_send(const struct mail_msg *m, char *err, size_t errlen)
{
	int rc;

	if ((rc = mail_send_one(m, err, errlen)) == OK)
		atomic_fetch_add(&mail_sent, 1);
	else
		atomic_fetch_add(&mail_failed, 1);
	return (rc);
}

void
mail_stats(uint64_t *sent, uint64_t *failed)
{
	if (sent != NULL)
		*sent = atomic_load(&mail_sent);
	if (failed != NULL)
		*failed = atomic_load(&mail_failed);
}

static int
mail_send_one(const struct mail_msg *m, char *err, size_t errlen)
{
	struct mail_reader rd;
	struct curl_slist *rcpt = NULL;
	CURL		  *c = NULL;
	CURLcode	   cc;
	char	addr[MAIL_MAX_ADDRESS + 1], bracketed[MAIL_MAX_ADDRESS + 3];
	char	rcpt_to[MAIL_MAX_ADDRESS + 3];
	char   *msg = NULL;
	long	code = 0, tls;
	int64_t t0 = time_mono_ns();
	int	rc;

	if (errlen > 0)
		err[0] = '\0';
	if (config.smtp_url == NULL || config.smtp_url[0] == '\0') {
		snprintf(err, errlen, "smtp_url is not set");
		return (ERR_UNAVAILABLE);
	}
	if (m == NULL || !mail_address_valid(m->to) || m->subject == NULL ||
	    m->text == NULL || mail_has_crlf(m->subject)) {
		snprintf(err, errlen, "invalid recipient or subject");
		return (ERR_INVALID);
	}
	if (mail_from_address(config.mail_from, addr, sizeof(addr)) != OK) {
		snprintf(err, errlen, "mail_from has no valid address");
		return (ERR_CONFIG);
	}
	rc = ERR_NOMEM;
	if ((msg = mail_build(m, config.mail_from, &rd.len)) == NULL) {
		snprintf(err, errlen, "message could not be built");
		goto out;
	}
	rd.data = msg;
	rd.off = 0;
	snprintf(bracketed, sizeof(bracketed), "<%s>", addr);
	snprintf(rcpt_to, sizeof(rcpt_to), "<%s>", m->to);
	if ((c = curl_easy_init()) == NULL ||
	    (rcpt = curl_slist_append(NULL, rcpt_to)) == NULL)
		goto out;
	if (strcmp(config.smtp_tls, "none") == 0)
		tls = CURLUSESSL_NONE;
	else
		tls = CURLUSESSL_ALL;
	curl_easy_setopt(c, CURLOPT_URL, config.smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, tls);
	if (config.smtp_ca_file != NULL && config.smtp_ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, config.smtp_ca_file);
	if (config.smtp_user != NULL && config.smtp_user[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, config.smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, config.smtp_password);
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, bracketed);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rd.len);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT, (long)config.smtp_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config.smtp_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code > 0)
			snprintf(err, errlen, "smtp: %s (reply %ld)",
			    curl_easy_strerror(cc), code);
		else
			snprintf(
			    err, errlen, "smtp: %s", curl_easy_strerror(cc));
		switch (cc) {
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
			rc = ERR_UNAVAILABLE;
			break;
		default:
			rc = ERR_IO;
			break;
		}
		log_warn("event=mail_send_failed reason=\"%s\" reply=%ld",
		    curl_easy_strerror(cc), code);
		goto out;
	}
	rc = OK;
	log_info("event=mail_sent bytes=%zu dur_ms=%lld", rd.len,
	    (long long)((time_mono_ns() - t0) / 1000000));
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(msg);
	return (rc);
}
