/*
 * The audit log from outside: `carebase audit verify` and the staff read
 * endpoint GET /v1/audit-log (permission audit_log:read:all). The log is
 * append-only: there is no route that creates, changes or deletes a row;
 * records are appended by the writes they describe (resource/audit.c).
 *
 * GET /v1/audit-log answers newest first, {"data": [...], "next_cursor":
 * ...}; filters entity_type, entity_id, actor_ref, action, ip (the rows
 * that keep that address as a blind index: staff acting on others' data,
 * requests by no one in particular), from and to
 * (ISO 8601, from inclusive, to exclusive), limit (1 to 200, default 50) and cursor
 * (the next_cursor of the page before: resource_page_parse, PAGE_SEQ_DESC).
 * Bad parameters answer 422 VALIDATION_FAILED with an entry each. An
 * action in either spelling of cancelled finds both: the log keeps the
 * actions written before migration 0026 ("therapy_sessions.canceled") as
 * they were, and "canceled" asked for is the deprecated input spelling,
 * read as "cancelled" as everywhere else.
 *
 * Each row's ip and user_agent are what audit_details_json shows: opened
 * when sealed (null once the person is erased), null with ip_index and
 * user_agent_index beside when kept as a blind index (staff acting on
 * others' data: rows from one address share the index), as they were in
 * rows written before migration 0035.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "people/gdpr.h"
#include "people/people.h"
#include "people/people_int.h"
#include "resource/audit.h"
#include "resource/resource.h"
#include "store/jobs.h"
#include "store/store.h"

#define AUDIT_LIST_MAX	 200
#define AUDIT_FILTER_MAX 128 /* bytes of a text filter */

static json_t	  *audit_row(struct stmt *);
static const char *action_respelled(struct request *, const char *);

int
people_cli_audit(struct store *db, int argc, char **argv)
{
	struct audit_anchor anchor, head;
	int64_t		    bad = 0;
	int		    i, have = 0;

	if (argc >= 1 && strcmp(argv[0], "head") == 0 && argc == 1) {
		if (audit_head(db, &head) != OK) {
			fprintf(stderr, "audit: cannot read the log\n");
			return (ERR_DB);
		}
		printf("%" PRId64 ":%s\n", head.seq, head.hash);
		return (OK);
	}
	if (argc < 1 || strcmp(argv[0], "verify") != 0)
		goto usage;
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--anchor=", 9) != 0 ||
		    audit_anchor_parse(argv[i] + 9, &anchor) != OK)
			goto usage;
		have = 1;
	}
	return (
	    audit_verify_anchor(db, stdout, &bad, have ? &anchor : NULL, NULL));
usage:
	fprintf(stderr,
	    "usage: carebase audit verify [--anchor=SEQ:HASH]\n"
	    "       carebase audit head\n");
	return (ERR_USAGE);
}

/* Job audit.anchor: log the head of the chain (event=audit_anchor). */
int
people_audit_anchor_job(struct store *db, const struct job *job, char *err)
{
	struct audit_anchor head;
	int		    rc;

	(void)job;
	if ((rc = audit_head(db, &head)) != OK) {
		snprintf(err, JOB_ERR_LEN, "cannot read the audit log head");
		return (rc);
	}
	log_info("event=audit_anchor seq=%" PRId64 " hash=%s anchor=%" PRId64
		 ":%s",
	    head.seq, head.hash, head.seq, head.hash);
	return (OK);
}

/*
 * The other spelling of an action that holds "canceled" or "cancelled"
 * (its first), in the request's arena; NULL when it holds neither.
 */
static const char *
action_respelled(struct request *req, const char *a)
{
	const char *p;

	if ((p = strstr(a, "cancelled")) != NULL)
		return (arena_printf(
		    req->arena, "%.*scanceled%s", (int)(p - a), a, p + 9));
	if ((p = strstr(a, "canceled")) != NULL)
		return (arena_printf(
		    req->arena, "%.*scancelled%s", (int)(p - a), a, p + 8));
	return (NULL);
}

static json_t *
audit_row(struct stmt *st)
{
	json_t	   *o, *changes;
	const char *names[] = { "actor_ref", "actor_role", "action",
		"entity_type", "entity_id", "ip", "user_agent", "request_id",
		"prev_hash", "hash" };
	int	    cols[] = { 3, 4, 5, 6, 7, 9, 10, 11, 12, 13 };
	size_t	    i;

	if ((changes = json_loads(store_col_text(st, 8), 0, NULL)) == NULL)
		changes = json_string(store_col_text(st, 8));
	o = json_pack("{s:I,s:s,s:o,s:o}", "seq",
	    (json_int_t)store_col_int64(st, 0), "id", store_col_text(st, 1),
	    "at", people_json_time(0, store_col_int64(st, 2)), "changes",
	    changes);
	if (o == NULL)
		return (NULL);
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		json_object_set_new(o, names[i],
		    store_col_is_null(st, cols[i])
			? json_null()
			: json_string(store_col_text(st, cols[i])));
	return (o);
}

void
people_audit_log_list(struct request *req)
{
	struct principal    *who;
	struct resource_page pg;
	struct audit_reader  rd;
	struct tx	    *tx = NULL;
	struct stmt	    *st;
	const char *filters[4] = { "entity_type", "entity_id", "actor_ref",
		"action" };
	const char *fv[4], *s, *alt = NULL, *ip, *changes;
	char	   *sql, detail[48], ipv[AUDIT_IP_STORED_LEN];
	json_t	   *data = NULL, *row, *errs;
	int64_t	    from = 0, to = 0;
	int	    i, nb = 0, rc, step = STORE_DONE;

	who = req->caller;
	if (resource_scope(req->db, who, "audit_log", "read") != SCOPE_ALL) {
		http_problem(req, ERR_FORBIDDEN, NULL,
		    "You may not read the audit log.");
		return;
	}
	if ((errs = json_array()) == NULL) {
		http_problem(req, ERR_NOMEM, NULL, "Out of memory.");
		return;
	}
	snprintf(detail, sizeof(detail), "1 to %d bytes", AUDIT_FILTER_MAX);
	for (i = 0; i < 4; i++)
		if ((fv[i] = http_query(req, filters[i])) != NULL &&
		    (fv[i][0] == '\0' || strlen(fv[i]) > AUDIT_FILTER_MAX))
			resource_field_err(
			    errs, filters[i], "out_of_range", detail);
	if ((ip = http_query(req, "ip")) != NULL &&
	    audit_ip_stored(ip, ipv, sizeof(ipv)) != OK)
		resource_field_err(
		    errs, "ip", "invalid_format", "an IPv4 or IPv6 address");
	if ((s = http_query(req, "from")) != NULL &&
	    time_parse_iso(s, &from) != 0)
		resource_field_err(
		    errs, "from", "invalid_format", "an ISO 8601 time");
	if ((s = http_query(req, "to")) != NULL && time_parse_iso(s, &to) != 0)
		resource_field_err(
		    errs, "to", "invalid_format", "an ISO 8601 time");
	/* Newest first: the cursor is the last seq of the page before. */
	resource_page_parse(req, AUDIT_LIST_MAX, PAGE_SEQ_DESC, &pg, errs);
	if (resource_errs_answer(req, errs, "The query") != OK)
		return;
	/* The reads this process has served are in the log it shows: their
	 * rows queued for the audit writer are written first. */
	if ((rc = audit_queue_sync()) != OK) {
		http_problem(req, rc, NULL, "The audit log is being written.");
		return;
	}
	/* An action in either spelling finds both: the log keeps what it
	 * wrote before 0026 ("therapy_sessions.canceled") beside what it
	 * writes now ("therapy_sessions.cancelled"); "canceled" asked for
	 * is the deprecated spelling (README, Deprecated). */
	if (fv[3] != NULL && (alt = action_respelled(req, fv[3])) != NULL &&
	    strstr(fv[3], "cancelled") == NULL)
		log_info("event=deprecated_spelling field=action "
			 "given=canceled read_as=cancelled");
	if ((rc = store_tx_begin(req->db, STORE_TX_READ, &tx)) != OK ||
	    (rc = audit_changes_shown(tx, &changes)) != OK)
		goto out;
	sql = arena_printf(req->arena,
	    "SELECT seq, id, at, actor_ref, "
	    "actor_role, action, entity_type, entity_id, %s, ip, user_agent, "
	    "request_id, prev_hash, hash FROM audit_log WHERE 1 = 1",
	    changes);
	for (i = 0; i < 4; i++)
		if (fv[i] != NULL)
			sql = arena_printf(req->arena,
			    i == 3 && alt != NULL ? "%s AND %s IN (?, ?)"
						  : "%s AND %s = ?",
			    sql, filters[i]);
	if (ip != NULL)
		sql = arena_printf(req->arena, "%s AND ip = ?", sql);
	if (http_query(req, "from") != NULL)
		sql = arena_printf(req->arena, "%s AND at >= ?", sql);
	if (http_query(req, "to") != NULL)
		sql = arena_printf(req->arena, "%s AND at < ?", sql);
	if (pg.after_seq > 0)
		sql = arena_printf(req->arena, "%s AND seq < ?", sql);
	sql = arena_printf(req->arena, "%s ORDER BY seq DESC LIMIT ?", sql);
	if (sql == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	st = store_prepare(tx, sql);
	for (i = 0; i < 4; i++)
		if (fv[i] != NULL)
			store_bind_text(st, ++nb, fv[i]);
	if (alt != NULL)
		store_bind_text(st, ++nb, alt);
	if (ip != NULL)
		store_bind_text(st, ++nb, ipv);
	if (http_query(req, "from") != NULL)
		store_bind_int64(st, ++nb, from);
	if (http_query(req, "to") != NULL)
		store_bind_int64(st, ++nb, to);
	if (pg.after_seq > 0)
		store_bind_int64(st, ++nb, pg.after_seq);
	store_bind_int64(st, ++nb, pg.limit + 1);
	if ((data = json_array()) == NULL)
		rc = ERR_NOMEM;
	while (rc == OK && (step = store_step(st)) == STORE_ROW &&
	    json_array_size(data) <= (size_t)pg.limit) {
		if ((row = audit_row(st)) == NULL ||
		    json_array_append_new(data, row) != 0) {
			rc = ERR_NOMEM;
			break;
		}
	}
	if (rc == OK && step != STORE_ROW && step != STORE_DONE)
		rc = step;
	store_finalize(st);
	/* The clients' details, opened where sealed (after the page is read:
	 * one statement at a time). */
	audit_reader_init(&rd);
	for (i = 0; rc == OK && (size_t)i < json_array_size(data); i++)
		rc = audit_details_json(
		    tx, &rd, json_array_get(data, (size_t)i), NULL);
	audit_reader_wipe(&rd);
out:
	store_tx_rollback(tx);
	if (rc != OK) {
		json_decref(data);
		http_problem(req, rc, NULL, "The audit log cannot be read.");
		return;
	}
	http_json(req, 200, resource_page_json(&pg, data));
}
