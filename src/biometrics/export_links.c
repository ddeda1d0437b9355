/*
 * The biometrics module's part of a person's GDPR export. A recording's
 * points can be billions, too many for the document, so the export
 * (records.recording_points, a GDPR hook's export_links) names each of
 * the person's recordings with its samples a channel and a link,
 *
 *	GET /v1/exports/{export_id}/recordings/{id}/points.csv[?cursor=]
 *
 * that answers all of them as CSV (channel,t_ms,count,value, as
 * export.csv) a page at a time: about points_page_max samples (whole
 * blocks: up to one block more), channel by channel in name order, each
 * channel's blocks by their first time, each page in time order (so the
 * whole in time order, unless batches overlapped in time), with
 * 'Link: <...?cursor=...>; rel="next"' while there is more. Every sample
 * is in exactly one page, however many there are.
 *
 * Who: {export_id} must be the id of an export of the recording's person
 * made through the caller's session (resource_export_owns), so a link
 * serves the session that made the export alone, while it lasts: the
 * person's other sessions, other people and admins find nothing (404),
 * and once the session ends (sign-out, idle, its absolute end) the
 * dispatcher answers 401. What made the export must still hold when a
 * link is followed: a link of someone else's export (an admin's, or a
 * role's granted users:export:all) needs users:export:all at that time
 * too, so revoking the permission, or a role change that drops it, ends
 * the links at once (403); the person's own links need nothing more.
 * Each page is audited as a read of points
 * (recordings.points.read, format export_csv). A recording still being
 * recorded may change between pages: page through a finished one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/points.h"
#include "biometrics/query_int.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "resource/audit.h"
#include "resource/hooks.h"
#include "resource/resource.h"
#include "store/store.h"

#define CURSOR_MAX (POINTS_NAME_MAX + 48) /* "<channel>:<t>:<seq>" */

/* One page's request and what it found. */
struct page {
	struct rq  *q;
	const char *export_id;
	const char *cursor; /* as given, or NULL */
	char	    channel[POINTS_NAME_MAX + 1];
	int64_t	    t_first_ms, seq;  /* where the page starts */
	char	    next[CURSOR_MAX]; /* the next page's cursor, or "" */
	int	    export_all; /* the caller holds users:export:all now */
};

static int  links_export(struct tx *, const char *, const char *, json_t *);
static int  cursor_parse(struct page *);
static int  channel_cmp(const void *, const void *);
static int  page_tx(struct tx *, void *);
static int  page_fill(struct page *, struct tx *);
static int  page_audit_tx(struct tx *, void *);
static void link_path(char *, size_t, const char *, const char *);

/* What links_export writes (the export's records.recording_points). */
const struct gdpr_hook bio_gdpr_hook = {
	.name = "recording_points",
	.export_links = links_export,
	.schema = "{\"type\":\"object\",\"required\":[\"recording_id\","
		  "\"points\",\"channels\",\"csv\"],\"properties\":{"
		  "\"recording_id\":{\"type\":\"string\",\"format\":"
		  "\"uuid\"},\"points\":{\"type\":\"integer\","
		  "\"description\":\"samples in all\"},\"channels\":{"
		  "\"type\":\"array\",\"items\":{\"type\":\"object\","
		  "\"required\":[\"name\",\"points\"],\"properties\":{"
		  "\"name\":{\"type\":\"string\"},\"points\":{\"type\":"
		  "\"integer\"}},\"additionalProperties\":false}},\"csv\":{"
		  "\"type\":\"string\",\"format\":\"uri-reference\","
		  "\"description\":\"GET it (the export's session alone) for "
		  "the points as CSV, a page at a time\"}},"
		  "\"additionalProperties\":false}",
};

static void
link_path(char *out, size_t len, const char *export_id, const char *rid)
{
	snprintf(out, len, "/v1/exports/%s/recordings/%s/points.csv", export_id,
	    rid);
}

/*
 * Every recording of the person (failed and empty ones too), with its
 * samples in all and a channel, and its link: at most
 * RESOURCE_EXPORT_MAX, as many as records.recordings holds.
 */
static int
links_export(
    struct tx *tx, const char *user_id, const char *export_id, json_t *rows)
{
	struct stmt *st;
	json_t	    *row = NULL, *chans = NULL;
	const char  *rid, *ch;
	char	     last[37] = "", path[160];
	size_t	     n = 0;
	int	     rc;

	st = store_prepare(tx,
	    "SELECT r.id, b.channel, sum(b.count) FROM recordings r "
	    "LEFT JOIN recording_blocks b ON b.recording_id = r.id "
	    "WHERE r.user_id = ? GROUP BY r.id, b.channel "
	    "ORDER BY r.id, b.channel");
	store_bind_text(st, 1, user_id);
	while ((rc = store_step(st)) == STORE_ROW) {
		rid = store_col_text(st, 0);
		if (rid == NULL || strlen(rid) >= sizeof(last))
			continue;
		if (strcmp(rid, last) != 0) {
			if (++n > RESOURCE_EXPORT_MAX)
				break;
			strlcpy_cb(last, rid, sizeof(last));
			link_path(path, sizeof(path), export_id, rid);
			if ((chans = json_array()) == NULL ||
			    (row = json_pack("{s:s,s:I,s:o,s:s}",
				 "recording_id", rid, "points", (json_int_t)0,
				 "channels", chans, "csv", path)) == NULL ||
			    json_array_append_new(rows, row) != 0) {
				rc = ERR_NOMEM;
				break;
			}
		}
		if (store_col_is_null(st, 1))
			continue; /* no points */
		ch = store_col_text(st, 1);
		if (json_array_append_new(chans,
			json_pack("{s:s,s:I}", "name", ch, "points",
			    (json_int_t)store_col_int64(st, 2))) != 0) {
			rc = ERR_NOMEM;
			break;
		}
		json_object_set_new(row, "points",
		    json_integer(
			json_integer_value(json_object_get(row, "points")) +
			store_col_int64(st, 2)));
	}
	store_finalize(st);
	return (rc == STORE_ROW || rc == STORE_DONE ? OK : rc);
}

/* ?cursor=<channel>:<first time>:<seq>, where the page starts. */
static int
cursor_parse(struct page *pg)
{
	const char *s = pg->cursor, *a, *b;
	char	    num[24];
	json_t	   *errs;

	if (s == NULL)
		return (OK);
	if ((a = strchr(s, ':')) != NULL && (b = strchr(a + 1, ':')) != NULL &&
	    a - s <= POINTS_NAME_MAX && b - a - 1 < (long)sizeof(num) &&
	    strlen(b + 1) < sizeof(num)) {
		memcpy(pg->channel, s, (size_t)(a - s));
		pg->channel[a - s] = '\0';
		memcpy(num, a + 1, (size_t)(b - a - 1));
		num[b - a - 1] = '\0';
		if (bio_channel_name_ok(pg->channel) &&
		    parse_int64(num, 0, INT64_MAX, &pg->t_first_ms) == 0 &&
		    parse_int64(b + 1, 0, INT64_MAX, &pg->seq) == 0)
			return (OK);
	}
	errs = json_array();
	bio_err(errs, "cursor", "invalid_format",
	    "the cursor of a Link rel=\"next\" header, as it came");
	return (bio_errs_answer(pg->q->req, errs, "The query"));
}

/* Channels by name, byte by byte (whatever the database's collation). */
static int
channel_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct channel_info *)a)->name,
	    ((const struct channel_info *)b)->name));
}

void
bio_export_points(struct request *req)
{
	struct page pg;
	struct rq  *q;
	char	   *body, link[320];
	size_t	    len = 0;
	int	    rc;

	memset(&pg, 0, sizeof(pg));
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	pg.q = q;
	q->req = req;
	q->kind = RQ_CSV;
	q->format = "export_csv";
	q->who = req->caller;
	buf_init(&q->out, RQ_OUT_MAX);
	pg.export_id = http_param(req, "export_id");
	pg.cursor = http_query(req, "cursor");
	if (bio_recording_id(req, &q->id) != OK || cursor_parse(&pg) != OK)
		goto out;
	/* Read now, outside the transaction (perms.c may reload them). */
	pg.export_all =
	    resource_scope(req->db, q->who, "users", "export") == SCOPE_ALL;
	if ((rc = store_run(req->db, STORE_TX_READ, page_tx, &pg)) == OK)
		rc = store_run(req->db, STORE_TX_READ, page_audit_tx, &pg);
	if (rc != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such recording."
				: rc == ERR_FORBIDDEN
				? "You may no longer export "
				  "other users' data."
				: "The points cannot be read.");
		goto out;
	}
	if (pg.next[0] != '\0') {
		link_path(link, sizeof(link), pg.export_id, q->id);
		http_header_add(req, "Link",
		    arena_printf(req->arena, "<%s?cursor=%s>; rel=\"next\"",
			link, pg.next));
	}
	http_header_add(req, "Content-Disposition",
	    arena_printf(req->arena,
		"attachment; filename=\"recording-%s-points.csv\"", q->id));
	body = buf_take(&q->out, &len);
	http_send_take(req, 200, "text/csv; charset=utf-8", body, len);
out:
	bio_rec_free(&q->rec);
	buf_free(&q->out);
	free(q);
}

static int
page_tx(struct tx *tx, void *arg)
{
	struct page *pg = arg;
	struct rq   *q = pg->q;
	int	     rc;

	/* A busy retry starts again. */
	buf_reset(&q->out);
	q->wn = 0;
	q->wrc = OK;
	q->points = 0;
	pg->next[0] = '\0';
	bio_rec_free(&q->rec);
	if ((rc = bio_rec_load(tx, q->id, &q->rec)) != OK)
		return (rc);
	/* Another session's export, another person's recording: none. */
	if (!resource_export_owns(q->who, q->rec.user_id, pg->export_id))
		return (ERR_NOT_FOUND);
	/* Someone else's: what the export needed, needed still. */
	if (strcmp(q->rec.user_id, q->who->user_id) != 0 && !pg->export_all)
		return (ERR_FORBIDDEN);
	if ((rc = blocks_channels(
		 tx, q->id, q->ch, BLOCKS_CHANNELS_MAX, &q->nch)) != OK)
		return (rc);
	qsort(q->ch, q->nch, sizeof(q->ch[0]), channel_cmp);
	if ((rc = page_fill(pg, tx)) != OK)
		return (rc);
	rq_flush(q);
	return (q->wrc == ERR_TOO_LARGE ? rq_too_many(q, 0) : q->wrc);
}

/*
 * From the cursor's channel (or the first after it, when it has gone)
 * and block on, channel by channel, while the page has room; the next
 * page's cursor where it stopped.
 */
static int
page_fill(struct page *pg, struct tx *tx)
{
	struct rq    *q = pg->q;
	struct series s;
	size_t	      i = 0, room = (size_t)config.points_page_max;
	int64_t	      t = 0, seq = 0;
	int	      more = 0, rc = OK;

	memset(&s, 0, sizeof(s));
	if (pg->cursor != NULL) {
		while (i < q->nch && strcmp(q->ch[i].name, pg->channel) < 0)
			i++;
		if (i < q->nch && strcmp(q->ch[i].name, pg->channel) == 0) {
			t = pg->t_first_ms;
			seq = pg->seq;
		}
	}
	rq_str(q, RQ_CSV_HEAD);
	for (; i < q->nch && rc == OK; i++, t = seq = 0) {
		if (room == 0) {
			snprintf(pg->next, sizeof(pg->next), "%s:0:0",
			    q->ch[i].name);
			break;
		}
		s.n = 0;
		rc = blocks_read_page(
		    tx, q->id, q->ch[i].name, &t, &seq, room, &s, &more);
		if (rc == OK)
			rc = rq_csv_rows(q, q->ch[i].name, &s);
		room -= s.n < room ? s.n : room;
		if (rc == OK && more) {
			snprintf(pg->next, sizeof(pg->next), "%s:%lld:%lld",
			    q->ch[i].name, (long long)t, (long long)seq);
			break;
		}
	}
	series_free(&s);
	return (rc);
}

static int
page_audit_tx(struct tx *tx, void *arg)
{
	struct page *pg = arg;
	json_t	    *changes;
	int	     rc;

	changes = json_pack("{s:s,s:s*,s:I}", "format", pg->q->format, "cursor",
	    pg->cursor, "points", (json_int_t)pg->q->points);
	if (changes == NULL)
		return (ERR_NOMEM);
	rc = audit_read(tx, pg->q->who, pg->q->req, "recordings.points.read",
	    "recordings", pg->q->id, changes);
	json_decref(changes);
	return (rc);
}
