/*
 * Points in: POST /v1/recordings/{id}/points, and the finish action.
 *
 *	recording --finish successful--> successful
 *	recording --finish failed------> failed, its points discarded
 *
 * A batch comes in the binary format (application/vnd.carebase.points),
 * JSON or CSV (text/csv, with ?seq=&rate=&t0=), see docs/POINTS_FORMAT.md;
 * it is parsed and its digest taken before any transaction: the
 * BLAKE2b-256 of the batch in the binary format, which is canonical (a
 * binary body is hashed as it is; a JSON or CSV batch as
 * points_write_binary_cb writes what was parsed). So the digest covers
 * everything that shapes the batch, the CSV query string's seq, rate and
 * t0 included, and not how it was spelt. Then one write transaction,
 * serialised per recording, checks access, the batch seq (seen with the
 * same digest: 200 {"duplicate": true}, nothing stored; with another: 409
 * BATCH_CONFLICT), the status (only recording takes points: 409
 * RECORDING_CLOSED), consent, the channel names and the number of
 * channels (at most BLOCKS_CHANNELS_MAX a recording: 422
 * TOO_MANY_CHANNELS), and stores the blocks and the batch row together: a
 * batch is durable once acknowledged. Writes by staff are audited (never
 * the values).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/points.h"
#include "core/err.h"
#include "core/util.h"
#include "http/http.h"
#include "module.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/store.h"

/* One ingest request, run by store_run (retried whole when busy). */
struct ingest {
	struct request	    *req;
	struct principal    *who;
	const char	    *id;
	enum scope	     update, read;
	struct points_batch *batch;
	uint8_t		     digest[BLOCKS_DIGEST_LEN];
	int		     duplicate;
};

/* The finish action. */
struct finish {
	struct request	 *req;
	struct principal *who;
	const char	 *id;
	const char	 *to;
	enum scope	  update, read;
	int64_t		  discarded;
	json_t		 *row;
};

static int write_access(struct request *, struct tx *, const struct bio_rec *,
    const struct principal *, enum scope, enum scope);
static int finish_tx(struct tx *, void *);
static int media_format(const char *, enum points_format *);
static int rate_parse(const char *, uint32_t *);
static int csv_args(struct request *, uint64_t *, uint32_t *, int64_t *);
static int channels_check(
    struct request *, const struct bio_rec *, const struct points_batch *);
static int channels_cap(
    struct request *, struct tx *, const char *, const struct points_batch *);
static int digest_put(void *, const void *, size_t);
static int batch_digest(enum points_format, const struct request *,
    const struct points_batch *, uint8_t *);
static int ingest_tx(struct tx *, void *);

/*
 * The write access of an action: OK within the update scope; a row the
 * caller only reads answers 403, one they cannot see 404.
 */
static int
write_access(struct request *req, struct tx *tx, const struct bio_rec *r,
    const struct principal *who, enum scope update, enum scope read)
{
	int rc;

	if ((rc = bio_rec_covers(tx, r, who, update)) != ERR_NOT_FOUND)
		return (rc);
	if ((rc = bio_rec_covers(tx, r, who, read)) == OK) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "Only the person "
		    "recorded or an admin changes a recording.");
		return (ERR_FORBIDDEN);
	}
	return (rc);
}

/* Finish */

static int
finish_tx(struct tx *tx, void *arg)
{
	struct finish	   *f = arg;
	struct resource_ctx ctx;
	struct bio_rec	    r;
	struct stmt	   *st;
	json_t		   *changes;
	int64_t		    now = time_now_ms();
	int		    rc, failed = strcmp(f->to, "failed") == 0;

	json_decref(f->row);
	f->row = NULL;
	f->discarded = 0;
	if ((rc = bio_lock(tx, f->id)) != OK ||
	    (rc = bio_rec_load(tx, f->id, &r)) != OK)
		return (rc);
	if ((rc = write_access(f->req, tx, &r, f->who, f->update, f->read)) !=
	    OK)
		goto out;
	if (strcmp(r.status, "recording") != 0) {
		http_problem(f->req, ERR_CONFLICT, "RECORDING_CLOSED",
		    "The "
		    "recording is %s already.",
		    r.status);
		rc = ERR_CONFLICT;
		goto out;
	}
	st = store_prepare(tx, "SELECT points FROM recordings WHERE id = ?");
	store_bind_text(st, 1, f->id);
	if ((rc = store_step(st)) == STORE_ROW)
		f->discarded = failed ? store_col_int64(st, 0) : 0;
	store_finalize(st);
	if (rc != STORE_ROW)
		goto out;
	if (failed && (rc = blocks_discard(tx, f->id)) != OK)
		goto out;
	st = store_prepare(tx,
	    failed ? "UPDATE recordings SET status = ?, "
		     "ended_at = COALESCE(ended_at, ?), points = 0, updated_at "
		     "= ?, "
		     "updated_by = ? WHERE id = ? AND status = 'recording'"
		   : "UPDATE recordings SET status = ?, ended_at = "
		     "COALESCE(ended_at, "
		     "?), updated_at = ?, updated_by = ? WHERE id = ? AND "
		     "status = "
		     "'recording'");
	store_bind_text(st, 1, f->to);
	store_bind_int64(st, 2, now);
	store_bind_int64(st, 3, now);
	store_bind_text(st, 4, f->who->user_id);
	store_bind_text(st, 5, f->id);
	rc = store_step(st);
	rc = rc == STORE_DONE ? (store_changes(st) == 1 ? OK : ERR_CONFLICT)
			      : rc;
	store_finalize(st);
	if (rc != OK)
		goto out;
	changes = json_pack("{s:[s,s],s:s,s:I}", "fields", "status", "ended_at",
	    "status", f->to, "points_discarded", (json_int_t)f->discarded);
	rc = audit_append(tx, f->who, f->req, "recordings.finish", "recordings",
	    f->id, changes);
	json_decref(changes);
	if (rc != OK)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = f->req;
	ctx.tx = tx;
	ctx.res = &recordings_resource;
	ctx.who = f->who;
	ctx.scope = f->read > f->update ? f->read : f->update;
	rc = resource_load(&ctx, f->id, &f->row);
out:
	bio_rec_free(&r);
	return (rc);
}

void
bio_finish(struct request *req)
{
	struct finish f;
	json_t	     *s;
	int	      rc;

	memset(&f, 0, sizeof(f));
	f.req = req;
	f.who = req->caller;
	if (bio_recording_id(req, &f.id) != OK)
		return;
	s = json_object_get(req->json, "status");
	if (!json_is_object(req->json) || json_object_size(req->json) != 1 ||
	    !json_is_string(s) ||
	    (strcmp(json_string_value(s), "successful") != 0 &&
		strcmp(json_string_value(s), "failed") != 0)) {
		http_problem_ext(req, ERR_INVALID, NULL,
		    json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "field",
			"status", "code", "invalid_choice", "detail",
			"the body is {\"status\": "
			"\"successful\" or \"failed\"}"),
		    "The finish is not valid.");
		return;
	}
	f.to = json_string_value(s);
	f.update = resource_scope(req->db, f.who, "recordings", "update");
	f.read = resource_scope(req->db, f.who, "recordings", "read");
	rc = store_run(req->db, STORE_TX_WRITE, finish_tx, &f);
	if (rc != OK) {
		json_decref(f.row);
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such recording."
						: "The recording cannot be "
						  "finished.");
		return;
	}
	http_json(req, 200, f.row);
}

/* Ingest */

/* The batch format from the Content-Type (parameters ignored). */
static int
media_format(const char *ct, enum points_format *out)
{
	static const struct {
		const char	  *type;
		enum points_format format;
	} types[] = {
		{ "application/vnd.carebase.points", POINTS_BINARY },
		{ "application/json", POINTS_JSON },
		{ "text/csv", POINTS_CSV },
	};
	size_t i, n;

	if (ct == NULL)
		return (ERR_MEDIA_TYPE);
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; ");
	for (i = 0; i < NELEM(types); i++)
		if (strlen(types[i].type) == n &&
		    strncasecmp(ct, types[i].type, n) == 0) {
			*out = types[i].format;
			return (OK);
		}
	return (ERR_MEDIA_TYPE);
}

/* "360", "0.5", "1000.125" Hz (at most 3 decimals) in millihertz. */
static int
rate_parse(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	int	 frac = -1, digits = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.' && frac < 0 && digits > 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 3 || v > POINTS_RATE_MAX)
			return (ERR_INVALID);
		v = v * 10 + (uint64_t)(*s - '0');
		digits++;
		if (frac >= 0)
			frac++;
	}
	if (digits == 0 || frac == 0)
		return (ERR_INVALID);
	for (frac = frac < 0 ? 0 : frac; frac < 3; frac++)
		v *= 10;
	if (v > POINTS_RATE_MAX)
		return (ERR_INVALID);
	*out = (uint32_t)v;
	return (OK);
}

/* CSV rows carry no seq or rate: ?seq=N&rate=HZ&t0=TIME (rate 0 or
 * absent: the first column holds times in ms, every channel irregular). */
static int
csv_args(struct request *req, uint64_t *seq, uint32_t *rate, int64_t *t0)
{
	json_t	   *errs = json_array();
	const char *s;
	int64_t	    n;

	*seq = 0;
	*rate = 0;
	*t0 = 0;
	if ((s = http_query(req, "seq")) == NULL ||
	    parse_int64(s, 0, INT64_MAX, &n) != 0)
		bio_err(errs, "seq", "required",
		    "?seq= takes the batch "
		    "number, 0 or more");
	else
		*seq = (uint64_t)n;
	if ((s = http_query(req, "rate")) != NULL && strcmp(s, "0") != 0) {
		if (rate_parse(s, rate) != OK || *rate == 0)
			bio_err(errs, "rate", "invalid_format",
			    "?rate= takes "
			    "the sample rate in Hz (up to 3 decimals), or 0 "
			    "for a first column of times");
		else if (bio_time_arg(http_query(req, "t0"), t0) != OK)
			bio_err(errs, "t0", "required",
			    "?t0= takes the time "
			    "of the first row (ISO 8601 or ms) when a rate is "
			    "given");
	}
	return (bio_errs_answer(req, errs, "The CSV batch"));
}

/* Every channel of the batch must be one of the data type's (if named). */
static int
channels_check(
    struct request *req, const struct bio_rec *r, const struct points_batch *b)
{
	json_t *v;
	size_t	i, j;

	if (json_array_size(r->channels) == 0)
		return (OK);
	for (i = 0; i < b->nchannels; i++) {
		json_array_foreach(r->channels, j, v)
			if (strcmp(json_string_value(v), b->ch[i].name) == 0)
				break;
		if (j == json_array_size(r->channels)) {
			http_problem(req, ERR_INVALID, "UNKNOWN_CHANNEL",
			    "Channel %s is not one of the %s data type's.",
			    b->ch[i].name, r->data_type);
			return (ERR_INVALID);
		}
	}
	return (OK);
}

/* A recording holds at most BLOCKS_CHANNELS_MAX channels (all are read). */
static int
channels_cap(struct request *req, struct tx *tx, const char *id,
    const struct points_batch *b)
{
	size_t fresh, held;
	int    rc;

	if ((rc = blocks_channels_fresh(tx, id, b, &fresh, &held)) != OK)
		return (rc);
	if (fresh == 0 || held + fresh <= BLOCKS_CHANNELS_MAX)
		return (OK);
	http_problem(req, ERR_INVALID, "TOO_MANY_CHANNELS",
	    "The recording "
	    "holds %zu channels and the batch adds %zu: a recording holds at "
	    "most %d.",
	    held, fresh, BLOCKS_CHANNELS_MAX);
	return (ERR_INVALID);
}

static int
digest_put(void *arg, const void *p, size_t n)
{
	return (crypto_generichash_update(arg, p, n) == 0 ? OK : ERR_INTERNAL);
}

/* The batch's digest (see the top of the file); out has
 * BLOCKS_DIGEST_LEN bytes. */
static int
batch_digest(enum points_format fmt, const struct request *req,
    const struct points_batch *b, uint8_t *out)
{
	crypto_generichash_state st;
	int			 rc;

	/* BLAKE2b: twice SHA-256's speed here, and collision-resistant
	 * all the same (the digest tells a retry from a different batch). */
	if (fmt == POINTS_BINARY)
		return (crypto_generichash(out, BLOCKS_DIGEST_LEN,
			    (const unsigned char *)req->body, req->body_len,
			    NULL, 0) == 0
			? OK
			: ERR_INTERNAL);
	if (crypto_generichash_init(&st, NULL, 0, BLOCKS_DIGEST_LEN) != 0)
		return (ERR_INTERNAL);
	if ((rc = points_write_binary_cb(b, digest_put, &st)) != OK)
		return (rc == ERR_INVALID ? ERR_INTERNAL : rc);
	return (crypto_generichash_final(&st, out, BLOCKS_DIGEST_LEN) == 0
		? OK
		: ERR_INTERNAL);
}

static int
ingest_tx(struct tx *tx, void *arg)
{
	struct ingest	    *in = arg;
	struct points_batch *b = in->batch;
	struct bio_rec	     r;
	struct stmt	    *st;
	enum batch_state     state;
	json_t		    *changes;
	int64_t		     now = time_now_ms();
	size_t		     i;
	int		     rc;

	in->duplicate = 0;
	if ((rc = bio_lock(tx, in->id)) != OK ||
	    (rc = bio_rec_load(tx, in->id, &r)) != OK)
		return (rc);
	if ((rc = write_access(
		 in->req, tx, &r, in->who, in->update, in->read)) != OK)
		goto out;
	if ((rc = blocks_batch_state(
		 tx, in->id, (int64_t)b->seq, in->digest, &state)) != OK)
		goto out;
	if (state == BATCH_DUPLICATE) {
		in->duplicate = 1;
		goto out;
	}
	if (state == BATCH_CONFLICT) {
		http_problem(in->req, ERR_CONFLICT, "BATCH_CONFLICT",
		    "Batch "
		    "%llu of this recording was stored with other content.",
		    (unsigned long long)b->seq);
		rc = ERR_CONFLICT;
		goto out;
	}
	if (strcmp(r.status, "recording") != 0) {
		http_problem(in->req, ERR_CONFLICT, "RECORDING_CLOSED",
		    "The "
		    "recording is %s: it takes no more points.",
		    r.status);
		rc = ERR_CONFLICT;
		goto out;
	}
	if ((rc = bio_consent(in->req, tx, r.user_id)) != OK ||
	    (rc = channels_check(in->req, &r, b)) != OK ||
	    (rc = channels_cap(in->req, tx, in->id, b)) != OK)
		goto out;
	for (i = 0; i < b->nchannels; i++)
		if ((rc = blocks_append(tx, in->id, &b->ch[i])) != OK)
			goto out;
	if ((rc = blocks_batch_add(tx, in->id, (int64_t)b->seq, in->digest,
		 (int64_t)b->total, now)) != OK)
		goto out;
	st = store_prepare(tx,
	    "UPDATE recordings SET points = points + ?, "
	    "updated_at = ? WHERE id = ?");
	store_bind_int64(st, 1, (int64_t)b->total);
	store_bind_int64(st, 2, now);
	store_bind_text(st, 3, in->id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != STORE_DONE)
		goto out;
	rc = OK;
	if (in->who->is_staff) {
		/* Every write by staff is audited (never the values). */
		changes = json_pack("{s:[s],s:I,s:I}", "fields", "points",
		    "seq", (json_int_t)b->seq, "points", (json_int_t)b->total);
		rc = audit_append(tx, in->who, in->req,
		    "recordings.points.write", "recordings", in->id, changes);
		json_decref(changes);
	}
out:
	bio_rec_free(&r);
	return (rc);
}

/*
 * From the headers, before a byte of the batch is held (the route's
 * admit check): the recording exists, the caller may write it, and the
 * batch comes in a format carebase reads. Refused as the handler would.
 */
int
bio_points_admit(struct request *req)
{
	struct bio_rec	   r;
	struct tx	  *tx;
	enum points_format fmt;
	const char	  *id;
	enum scope	   update, read;
	int		   rc;

	if ((rc = bio_recording_id(req, &id)) != OK)
		return (rc);
	if (media_format(http_header(req, "Content-Type"), &fmt) != OK) {
		http_problem(req, ERR_MEDIA_TYPE, NULL,
		    "Points are sent as "
		    "application/vnd.carebase.points, application/json or "
		    "text/csv.");
		return (ERR_MEDIA_TYPE);
	}
	update = resource_scope(req->db, req->caller, "recordings", "update");
	read = resource_scope(req->db, req->caller, "recordings", "read");
	if ((rc = http_read_tx(req, &tx)) != OK)
		return (rc);
	memset(&r, 0, sizeof(r));
	if ((rc = bio_rec_load(tx, id, &r)) == OK)
		rc = write_access(req, tx, &r, req->caller, update, read);
	bio_rec_free(&r);
	if (rc == ERR_NOT_FOUND)
		http_problem(req, rc, NULL, "No such recording.");
	return (rc);
}

void
bio_points_post(struct request *req)
{
	struct ingest	     in;
	struct points_batch *b;
	enum points_format   fmt;
	uint64_t	     seq = 0;
	uint32_t	     rate = 0;
	int64_t		     t0 = 0;
	char		     err[256];
	int		     rc;

	memset(&in, 0, sizeof(in));
	in.req = req;
	in.who = req->caller;
	if (bio_recording_id(req, &in.id) != OK)
		return;
	if (media_format(http_header(req, "Content-Type"), &fmt) != OK) {
		http_problem(req, ERR_MEDIA_TYPE, NULL,
		    "Points are sent as "
		    "application/vnd.carebase.points, application/json or "
		    "text/csv.");
		return;
	}
	if (req->body == NULL || req->body_len == 0) {
		http_problem(req, ERR_MALFORMED, "POINTS_MALFORMED",
		    "A batch "
		    "of points is required.");
		return;
	}
	if (fmt == POINTS_CSV && csv_args(req, &seq, &rate, &t0) != OK)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	err[0] = '\0';
	rc = points_parse(fmt, (const uint8_t *)req->body, req->body_len, seq,
	    rate, t0, b, err, sizeof(err));
	if (rc != OK) {
		http_problem(req, rc,
		    rc == ERR_TOO_LARGE	      ? "BATCH_TOO_LARGE"
			: rc == ERR_INVALID   ? "POINTS_INVALID"
			: rc == ERR_MALFORMED ? "POINTS_MALFORMED"
					      : NULL,
		    "The batch is not accepted: %s",
		    err[0] != '\0' ? err : "unreadable");
		goto out;
	}
	if (b->seq > INT64_MAX) {
		http_problem(req, ERR_INVALID, "POINTS_INVALID",
		    "The batch "
		    "seq is above 2^63 - 1.");
		goto out;
	}
	if ((rc = batch_digest(fmt, req, b, in.digest)) != OK) {
		http_problem(req, rc, NULL, "The points cannot be stored.");
		goto out;
	}
	in.batch = b;
	in.update = resource_scope(req->db, in.who, "recordings", "update");
	in.read = resource_scope(req->db, in.who, "recordings", "read");
	rc = store_run(req->db, STORE_TX_WRITE, ingest_tx, &in);
	if (rc != OK) {
		if (!req->responded)
			http_problem(req, rc, NULL,
			    rc == ERR_NOT_FOUND ? "No such recording."
						: "The points cannot be "
						  "stored.");
		goto out;
	}
	http_json(req, in.duplicate ? 200 : 201,
	    json_pack("{s:s,s:I,s:I,s:I,"
		      "s:b}",
		"recording_id", in.id, "seq", (json_int_t)b->seq, "points",
		(json_int_t)b->total, "channels", (json_int_t)b->nchannels,
		"duplicate", in.duplicate));
out:
	points_batch_free(b);
	free(b);
}
