/*
 * The webhook inbox: every inbound webhook body that passes its source's
 * credentials check is kept (table webhook_inbox) with its outcome,
 * refused ones too, so a failed one can be replayed after a fix
 * (`carebase webhooks replay ID`). A call whose credentials fail keeps
 * only a row of metadata, at most webhook_refused_max_per_address per
 * client address (inbox_refused.c): anyone can send one.
 *
 *	pending    stored, not yet handled (or the process died meanwhile)
 *	processed  the handler ran and its transaction committed
 *	refused    the body will not do: bad signature, too large, malformed
 *		   or invalid (a 4xx answer); nothing else changed
 *	failed     a dependency or our side failed (a 5xx answer): the sender
 *		   should retry, and `webhooks replay` may run it again
 *
 * A source (the CMS, the booking system) plugs in with a struct
 * inbox_source: how to check the request's credentials, which headers to
 * keep, and how to handle a body, in two steps: prepare, outside any
 * transaction (parse, validate, fetch what the body points to: network
 * calls belong here), then process, inside the write transaction that
 * also records the outcome. Replay runs the same two steps on the stored
 * body; a body whose signature failed is never replayed.
 *
 * Bodies are sealed at rest under the system key (booking bodies carry
 * email addresses); headers kept are the source's harmless few, never
 * Authorization or signatures.
 *
 * Privacy: a source ties a row to a person by setting r->user_id (the
 * user it resolved) and r->email_index (the blind index of the address
 * the body names, even when no user has it). Erasing that person removes
 * the body of every row tied to them (user_id, or email_index equal to
 * their current address's) and clears email_index; the outcome stays. A
 * row tied to a user already erased loses its body as soon as its outcome
 * is recorded. Rows that name nobody (bodies that did not parse) cannot
 * be tied: webhook_inbox_retention_days bounds them, as every row. The webhooks.prune job (hourly; also `carebase
 * webhooks prune`) deletes rows received longer ago than that, whatever
 * their outcome: a failed row not replayed by then is deleted too (the
 * sender retries 5xx answers on its own; the log line counts them).
 */
#ifndef OPS_INBOX_H
#define OPS_INBOX_H

#include <stddef.h>
#include <stdio.h>

#include <stdint.h>

#include <jansson.h>

#include "core/util.h"

struct request;
struct store;
struct tx;

#define INBOX_SOURCE_MAX  8   /* sources registered at once */
#define INBOX_ERROR_MAX	  512 /* bytes of an error kept */
#define INBOX_OUTCOME_LEN 16  /* "processed", "refused", "failed" */

/*
 * What a step reports. On OK, out (owned, an object) holds the answer's
 * members besides "inbox_id" and "outcome" (inbox_receive). On
 * failure: rc is the status (its HTTP class decides refused or failed),
 * code the stable problem code ("" = err_code(rc)), error one line for
 * the caller and the inbox row (never a secret or personal data), errors
 * (owned, may be NULL) one {field, code, detail} per bad field.
 * Whatever the outcome, user_id (the user the body concerns, when the
 * handler resolved one) and email_index (keyring_email_index of the
 * address the body names) tie the row to a person for erasure; "" when
 * none. email_index set by prepare is kept through process.
 */
struct inbox_result {
	int	rc;
	char	code[48];
	char	error[INBOX_ERROR_MAX];
	json_t *errors;
	json_t *out;
	char	user_id[UUID_STR_LEN];
	char	email_index[65];
};

struct inbox_source {
	const char *name; /* "storyblok": the inbox's source column */
	/* Request headers kept with the body (NULL-terminated; may be NULL). */
	const char *const *keep_headers;
	/*
	 * Check the request's credentials against the raw body: OK, or a
	 * status (ERR_UNAUTHORIZED; ERR_UNAVAILABLE when not configured)
	 * with r->code and r->error set. The row is kept as refused.
	 */
	int (*verify)(struct request *, const char *body, size_t len,
	    struct inbox_result *r);
	/*
	 * Outside any transaction: parse and validate body, fetch what it
	 * refers to. *work (owned by the inbox afterwards) is handed to
	 * process. May be NULL.
	 */
	int (*prepare)(const char *body, size_t len, json_t **work,
	    struct inbox_result *r);
	/* Inside the write transaction: apply it. Set r->out on OK. */
	int (*process)(struct tx *, const char *body, size_t len, json_t *work,
	    struct inbox_result *r);
};

/* Make a source known to replay (borrowed; once per name). */
int inbox_register(const struct inbox_source *);
/* A registered source by name, or NULL (borrowed). */
const struct inbox_source *inbox_source_find(const char *name);

/*
 * A webhook body as a JSON object handed to check(object, work, r), which
 * fills work with what is kept; *work is set only when check is OK. JSON
 * errors give a position only (jansson's text can quote the body).
 */
int inbox_parse_object(const char *body, size_t			      len,
    int (*check)(json_t *, json_t *, struct inbox_result *), json_t **work,
    struct inbox_result *r);
/* Set r's failure fields; returns rc. */
int inbox_fail(struct inbox_result *r, int rc, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The whole life of one inbound webhook request: bound the body
 * (webhook_body_limit), verify, store, prepare, process, record the
 * outcome, and answer: 200 with the source's result members (r->out) and
 * "inbox_id" and "outcome" side by side at the top level, as every answer
 * of the API puts its members (no "result" wrapper), when processed;
 * else a problem document carrying inbox_id and outcome at its top level
 * too (4xx only: 5xx problems carry no extras). Header
 * X-Webhook-Inbox-Id names the row in every case. The route must take
 * ROUTE_RAW_BODY.
 */
void inbox_receive(struct request *, const struct inbox_source *);

/*
 * The OpenAPI text of a webhook route's 200 answer, for the "answers"
 * object of its api text (struct route): inbox_id and outcome, and the
 * source's own members as JSON Schema properties text (props: "" or
 * starting with a comma).
 */
/* clang-format off */
#define INBOX_API_ANSWER(what, props)					\
	"\"200\":{\"description\":\"" what "\",\"schema\":{\"type\":"	\
	"\"object\",\"required\":[\"inbox_id\",\"outcome\"],"		\
	"\"properties\":{\"inbox_id\":{\"type\":\"string\",\"format\":"	\
	"\"uuid\",\"description\":\"the webhook inbox row (also in "	\
	"X-Webhook-Inbox-Id)\"},\"outcome\":{\"const\":\"processed\"}"	\
	props "}}}"
/* clang-format on */

/*
 * Run the stored body of row id again through its source (never one whose
 * signature failed: ERR_FORBIDDEN, r->code WEBHOOK_SIGNATURE_FAILED;
 * never one whose body was erased or kept truncated: ERR_CONFLICT,
 * WEBHOOK_BODY_ERASED or WEBHOOK_BODY_TRUNCATED), recording the new
 * outcome and one more attempt, audited as webhook_inbox.replay by who
 * from req (both NULL from the command line).
 * A row processed already is refused (ERR_CONFLICT,
 * WEBHOOK_ALREADY_PROCESSED) unless force is set, also when another
 * replay processed it while this one prepared (looked at again, locked,
 * in the transaction that runs it). Without the system key loaded:
 * ERR_UNAVAILABLE, SYSTEM_KEY_UNAVAILABLE. The audit row holds the
 * outcome, its status and force. *outcome (INBOX_OUTCOME_LEN; "" when it
 * did not run, or ran but its outcome could not be recorded: then the
 * store's status) and *r tell how it went; r->out and r->errors are the
 * caller's to free.
 */
struct principal;
int inbox_replay(struct store *, const struct principal *who,
    struct request *req, const char *id, int force, char *outcome,
    struct inbox_result *r);

/*
 * Delete the rows received more than webhook_inbox_retention_days ago,
 * in batches of INBOX_PRUNE_BATCH (one transaction each). *deleted and
 * *failed (of them, rows whose outcome was failed: never replayed to
 * success) may be NULL.
 */
#define INBOX_PRUNE_BATCH 500
int inbox_prune(struct store *, int64_t *deleted, int64_t *failed);

/* Register the GDPR hook (people.h); once, at start-up. */
int inbox_init(void);

/* The webhooks.prune job (store/jobs.h). */
struct job;
int inbox_prune_job(struct store *, const struct job *, char *err);

/*
 * `carebase webhooks list [--failed] | webhooks replay ID [--force] |
 * webhooks prune`.
 */
int inbox_cli(struct store *, int argc, char **argv, FILE *out);

#endif
