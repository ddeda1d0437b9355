/*
 * The PostgreSQL backend (libpq). Statements are named prepared
 * statements ("s<N>", one set per connection) created on first use;
 * parameters go as text, blobs as binary; results come back as text and
 * each statement holds its own PGresult, so several can be open at once.
 *
 * A transaction's BEGIN is not sent on its own: it waits for the first
 * statement and goes with it (and with the statement's PREPARE when the
 * connection has not made it yet) in one flight, libpq's pipeline mode,
 * so that the server is waited for once, not two or three times. A
 * transaction that runs no statement sends nothing. A read-only one
 * (not SERIALIZABLE: its end cannot fail) is ended without waiting: its
 * COMMIT or ROLLBACK is sent and its answer read when the connection is
 * next taken from the pool (pg_end_wait).
 *
 * The connections are non-blocking and every wait on the server is
 * pg_await's, bounded (db_wait_timeout_ms; PG_END_WAIT_MS for such an
 * end): a server gone silent fails the request (503 UNAVAILABLE) and
 * its connection is closed, rather than holding a thread for ever.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"
#include "store/store_int.h"

/* clang-format off */
#define PG_SESSION_SETUP \
	"SET TIME ZONE 'UTC'; SET statement_timeout = %d; SET bytea_output = 'hex'"
/* clang-format on */
/* The server's own bound on a statement (ms), below db_wait_timeout_ms. */
#define PG_STATEMENT_TIMEOUT_MS 30000

/*
 * A connection's TCP settings (the pool's and the listener's), unless
 * the URL, the environment or a service file sets its own
 * (pg_conn_params): a peer gone silent (a network dropped, a server gone
 * without a reset) is found by the kernel's keepalives while the
 * connection is idle, and by tcp_user_timeout (ms) while data it sent
 * waits unacknowledged; without them the next borrower waits on it for
 * as long as TCP retransmits (15 minutes and more). connect_timeout
 * bounds a (re)connection likewise. What no TCP setting sees (a relay
 * that keeps TCP alive and passes nothing on) is pg_await's.
 */
static const char *const pg_conn_defaults[][2] = {
	{ "connect_timeout", "10" },
	{ "keepalives", "1" },
	{ "keepalives_idle", "30" },
	{ "keepalives_interval", "10" },
	{ "keepalives_count", "3" },
	{ "tcp_user_timeout", "30000" },
};
#define PG_CONN_NDEFAULTS                                                      \
	(sizeof(pg_conn_defaults) / sizeof(pg_conn_defaults[0]))

/*
 * The answer to a read-only transaction's end (pg_end_wait) at most. A
 * COMMIT or ROLLBACK of a read does no work; not back by then, the server
 * or the path to it is gone (a relay or pooler can accept bytes and keep
 * TCP alive while passing nothing on, which no keepalive sees), and the
 * connection is dropped rather than waited on.
 */
#define PG_END_WAIT_MS 5000

struct pg_conn {
	struct conn c; /* first */
	PGconn	   *pg;
	/* The BEGIN not sent yet ("": none), and whether SET LOCAL
	 * plan_cache_mode follows it (STORE_TX_CUSTOM_PLANS). */
	char begin[80];
	int  custom_plans;
	int  no_incremental_sort; /* STORE_TX_NO_INCREMENTAL_SORT */
	int  ro;		  /* the transaction may end without waiting */
	int  reads; /* it is READ ONLY: its COMMIT changes nothing */
	int unsent; /* pg_query's last statement never went (the send failed) */
	int ending; /* its end sent, the answer not read yet */
};

struct pg_stmt {
	struct stmt    s;    /* first */
	char	      *text; /* with $n placeholders */
	char	       name[16];
	int	       prepared;
	int	       nparams;
	char	     **values;
	int	      *lengths;
	int	      *formats;
	PGresult      *res;
	int	       executed;
	int	       row; /* current row, -1 before the first */
	int	       nrows;
	int	       err;
	int64_t	       changes;
	unsigned char *blob; /* decoded bytea of the last col_blob */
	size_t	       blobcap;
};

#define PCONN(c) ((struct pg_conn *)(c))
#define PSTMT(s) ((struct pg_stmt *)(s))

static void    pg_notice(void *, const char *);
static int     pg_result_status(struct conn *, PGresult *, const char *);
static int64_t pg_deadline(struct conn *);
static int     pg_await(struct conn *, int64_t, const char *);
static int     pg_next(struct conn *, int64_t, const char *, PGresult **);
static int     pg_query(struct conn *, const char *, const char *, PGresult **);
static int     pg_commit_marked(struct conn *, int *, PGresult **);
static int     pg_simple(struct conn *, const char *, const char *);
static int     pg_session(struct conn *);
static int     pg_begin_now(struct conn *);
static int     pg_end_sent(struct conn *, const char *);
static void    pg_end_wait(struct conn *);
static int64_t mono_ms(void);
static int     pg_send(struct conn *, struct pg_stmt *);
static int     pg_flight(struct conn *, struct pg_stmt *);
static int     pg_conn_open(struct store *, struct conn **);
static void    pg_conn_close(struct conn *);
static int     pg_conn_check(struct conn *);
static int     pg_begin(struct conn *, int);
static int     pg_commit(struct conn *, int, int *);
static void    pg_rollback(struct conn *);
static int     pg_exec(struct conn *, const char *);
static struct stmt *pg_stmt_new(struct conn *, const char *);
static void	    pg_stmt_free(struct stmt *);
static void	    pg_stmt_reset(struct stmt *);
static int	    pg_bind_set(struct stmt *, int, const void *, size_t, int);
static void	    pg_bind_text(struct stmt *, int, const char *, size_t);
static void	    pg_bind_int64(struct stmt *, int, int64_t);
static void	    pg_bind_double(struct stmt *, int, double);
static void	    pg_bind_blob(struct stmt *, int, const void *, size_t);
static void	    pg_bind_null(struct stmt *, int);
static int	    pg_step(struct stmt *);
static int64_t	    pg_changes(struct stmt *);
static int	    pg_col_count(struct stmt *);
static const char  *pg_col_name(struct stmt *, int);
static int	    pg_col_is_null(struct stmt *, int);
static const char  *pg_col_text(struct stmt *, int);
static int64_t	    pg_col_int64(struct stmt *, int);
static double	    pg_col_double(struct stmt *, int);
static const void  *pg_col_blob(struct stmt *, int, size_t *);
static void	    hex_tab_init(void);

const struct store_ops store_pg_ops = {
	.conn_open = pg_conn_open,
	.conn_close = pg_conn_close,
	.conn_check = pg_conn_check,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.stmt_new = pg_stmt_new,
	.stmt_free = pg_stmt_free,
	.stmt_reset = pg_stmt_reset,
	.bind_text = pg_bind_text,
	.bind_int64 = pg_bind_int64,
	.bind_double = pg_bind_double,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.changes = pg_changes,
	.col_count = pg_col_count,
	.col_name = pg_col_name,
	.col_is_null = pg_col_is_null,
	.col_text = pg_col_text,
	.col_int64 = pg_col_int64,
	.col_double = pg_col_double,
	.col_blob = pg_col_blob,
	.backup = NULL,
	.checkpoint = NULL,
};

static void
pg_notice(void *arg, const char *msg)
{
	char q[256];

	log_debug(
	    "event=db_notice db=postgres msg=%s", log_quote(q, sizeof(q), msg));
}

/*
 * Map a result to our status: 40001/40P01 are retryable, class 23 is a
 * conflict, the rest is logged (never returned) as ERR_DB.
 */
static int
pg_result_status(struct conn *c, PGresult *res, const char *what)
{
	const char *state = NULL, *msg = NULL;
	char	    q[256];

	switch (res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return (OK);
	default:
		break;
	}
	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (msg == NULL)
		msg = PQerrorMessage(PCONN(c)->pg);
	/* The connection went under the statement (a server restarted,
	 * a backend terminated, a path closed): the server is lost to the
	 * request, which answers 503 (store_lost_take), not 500. */
	if (PQstatus(PCONN(c)->pg) != CONNECTION_OK) {
		c->broken = 1;
		store_lost_set(STORE_LOST_WAIT);
	}
	if (msg == NULL)
		msg = "unknown";
	/* Cancelled on the server's statement_timeout (pg_session): the
	 * server was too slow for the wait, so the request answers 503
	 * as when carebase's own wait runs out; the connection is good. */
	if (state != NULL && strcmp(state, "57014") == 0)
		store_lost_set(STORE_LOST_WAIT);
	if (state != NULL &&
	    (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
		log_debug(
		    "event=db_busy db=postgres op=%s sqlstate=%s", what, state);
		return (ERR_BUSY);
	}
	/* A column a pending migration adds (store_tx_no_column). */
	if (state != NULL && strcmp(state, "42703") == 0)
		c->tx.no_column = 1;
	/* A table a pending migration makes (store_tx_no_table). */
	if (state != NULL && strcmp(state, "42P01") == 0)
		c->tx.no_table = 1;
	if (state != NULL && strncmp(state, "23", 2) == 0) {
		log_debug("event=db_conflict db=postgres op=%s sqlstate=%s "
			  "msg=%s",
		    what, state, log_quote(q, sizeof(q), msg));
		return (ERR_CONFLICT);
	}
	log_error("event=db_error db=postgres op=%s sqlstate=%s msg=%s", what,
	    state != NULL ? state : "-", log_quote(q, sizeof(q), msg));
	return (ERR_DB);
}

/* When a statement sent now must be answered by (db_wait_timeout_ms). */
static int64_t
pg_deadline(struct conn *c)
{
	return (mono_ms() + c->store->opts.wait_timeout_ms);
}

/*
 * Every wait on the server, in one place: until what was sent on c has
 * gone out and its next result can be read without blocking (PQgetResult
 * will not wait), deadline (mono_ms) at most. The connection is
 * non-blocking (pg_session), so no libpq call waits on its own; a
 * connection that failed is for PQgetResult to report. Past the
 * deadline the server or the path to it is taken for gone (a relay or
 * pooler can keep TCP alive and pass nothing on, which no keepalive
 * sees): c is broken, closed rather than pooled (its answer may still
 * come), and ERR_DB is the answer (said in the log as what,
 * unless NULL).
 */
static int
pg_await(struct conn *c, int64_t deadline, const char *what)
{
	PGconn	     *pg = PCONN(c)->pg;
	struct pollfd pfd;
	int64_t	      left;
	int	      f;

	for (;;) {
		/* -1: the send failed; the server's last words or the
		 * failure itself come as input, read below like any. */
		if ((f = PQflush(pg)) <= 0 && !PQisBusy(pg))
			return (OK);
		if ((left = deadline - mono_ms()) <= 0)
			break;
		if ((pfd.fd = PQsocket(pg)) < 0)
			goto gone;
		pfd.events = f == 1 ? POLLIN | POLLOUT : POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left) <
			0 &&
		    errno != EINTR)
			break;
		if (PQconsumeInput(pg) == 0)
			goto gone;
	}
	c->broken = 1;
	store_lost_set(STORE_LOST_WAIT);
	if (what != NULL)
		log_warn("event=db_wait_timeout db=postgres op=%s ms=%d", what,
		    c->store->opts.wait_timeout_ms);
	goto failed;
gone:
	/* The connection closed under the wait (a server restarted, a
	 * backend terminated): no answer is coming, as above. */
	c->broken = 1;
	store_lost_set(STORE_LOST_WAIT);
	if (what != NULL) {
		char q[256];

		log_warn("event=db_connection_lost db=postgres op=%s msg=%s",
		    what, log_quote(q, sizeof(q), PQerrorMessage(pg)));
	}
failed:
	/* A failed statement to its callers, as before the waits were
	 * bounded (ERR_UNAVAILABLE means a missing schema or an
	 * unreachable server to some): the request's answer is 503 all
	 * the same (store_lost_take). */
	return (ERR_DB);
}

/* The next result of what was sent (NULL: no more of it), waited for
 * until deadline at most (pg_await). */
static int
pg_next(struct conn *c, int64_t deadline, const char *what, PGresult **res)
{
	int rc;

	*res = NULL;
	if ((rc = pg_await(c, deadline, what)) != OK)
		return (rc);
	*res = PQgetResult(PCONN(c)->pg);
	return (OK);
}

/*
 * sql (a simple query: one statement or several) sent and all its
 * results read, db_wait_timeout_ms at most: the first failure, or OK
 * and, when last is not NULL, the last result there (the caller's).
 */
static int
pg_query(struct conn *c, const char *sql, const char *what, PGresult **last)
{
	PGresult *res, *keep = NULL;
	int64_t	  deadline = pg_deadline(c);
	int	  rc = OK;

	if (last != NULL)
		*last = NULL;
	atomic_fetch_add(&c->store->round_trips, 1);
	if ((PCONN(c)->unsent = PQsendQuery(PCONN(c)->pg, sql) != 1))
		return (pg_result_status(c, NULL, what));
	for (;;) {
		if (pg_next(c, deadline, what, &res) != OK) {
			PQclear(keep);
			return (ERR_DB);
		}
		if (res == NULL)
			break;
		if (rc == OK)
			rc = pg_result_status(c, res, what);
		PQclear(keep);
		keep = res;
	}
	if (rc == OK && keep == NULL)
		rc = pg_result_status(c, NULL, what);
	if (rc == OK && last != NULL) {
		*last = keep;
		keep = NULL;
	}
	PQclear(keep);
	return (rc);
}

static int
pg_simple(struct conn *c, const char *sql, const char *what)
{
	return (pg_query(c, sql, what, NULL));
}

/* A connection made or remade: non-blocking (pg_await does the
 * waiting), then the session's settings. */
static int
pg_session(struct conn *c)
{
	char sql[128];

	if (PQsetnonblocking(PCONN(c)->pg, 1) != 0)
		return (pg_result_status(c, NULL, "setup"));
	snprintf(sql, sizeof(sql), PG_SESSION_SETUP,
	    pg_statement_timeout(c->store->opts.wait_timeout_ms));
	return (pg_simple(c, sql, "setup"));
}

/*
 * The statement_timeout a connection gets for a wait of wait_ms
 * (db_wait_timeout_ms): 30 s, or 6/7 of the wait when that is less (35 s
 * and up: 30 s). The server ends a slow statement and answers before
 * the wait runs out, so a slow statement fails alone and its connection
 * is kept; a wait at or below the server's bound would give a good
 * connection up as silent (pg_await) first.
 */
int
pg_statement_timeout(int wait_ms)
{
	int ms = wait_ms - wait_ms / 7;

	return (ms < PG_STATEMENT_TIMEOUT_MS ? (ms > 0 ? ms : 1)
					     : PG_STATEMENT_TIMEOUT_MS);
}

/*
 * The keys and values to connect to url with, into keys and vals (n
 * entries each, NULL-terminated; 8 are enough): pg_conn_defaults, but
 * those the environment (PGCONNECT_TIMEOUT) or the PGSERVICE service
 * file gives (PQconndefaults says which), then url as "dbname", whose
 * own keys come last and so win. A service named in url itself is not
 * looked into: url can set the keys it wants beside it.
 */
int
pg_conn_params(const char *url, const char **keys, const char **vals, size_t n)
{
	PQconninfoOption *env, *o;
	size_t		  i, k = 0;
	int		  given;

	if (n < PG_CONN_NDEFAULTS + 2)
		return (ERR_INVALID);
	env = PQconndefaults(); /* NULL (no memory): the defaults all */
	for (i = 0; i < PG_CONN_NDEFAULTS; i++) {
		given = 0;
		for (o = env; o != NULL && o->keyword != NULL; o++)
			if (strcmp(o->keyword, pg_conn_defaults[i][0]) == 0 &&
			    o->val != NULL && o->val[0] != '\0')
				given = 1;
		if (given)
			continue;
		keys[k] = pg_conn_defaults[i][0];
		vals[k++] = pg_conn_defaults[i][1];
	}
	PQconninfoFree(env);
	keys[k] = "dbname";
	vals[k++] = url;
	keys[k] = vals[k] = NULL;
	return (OK);
}

/* The last failed connection's reason, for the line that says the
 * database cannot be opened (see store_open). */
static char connect_why[320];

const char *
pg_connect_why(void)
{
	return (connect_why);
}

static int
pg_conn_open(struct store *s, struct conn **out)
{
	const char *keys[PG_CONN_NDEFAULTS + 2], *vals[PG_CONN_NDEFAULTS + 2];
	struct pg_conn *pc;
	char		q[256];
	size_t		i;
	int		rc;

	*out = NULL;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return (ERR_NOMEM);
	pc->c.store = s;
	pg_conn_params(s->target, keys, vals, PG_CONN_NDEFAULTS + 2);
	/* Bounded by connect_timeout, unless a deployment said otherwise. */
	if ((pc->pg = PQconnectdbParams(keys, vals, 1)) == NULL) {
		free(pc);
		return (ERR_NOMEM);
	}
	if (PQstatus(pc->pg) != CONNECTION_OK) {
		/* libpq's message names host and user, never the password. */
		log_error("event=db_connect_failed db=postgres msg=%s",
		    log_quote(q, sizeof(q), PQerrorMessage(pc->pg)));
		snprintf(connect_why, sizeof(connect_why),
		    "cannot connect to PostgreSQL: %s", PQerrorMessage(pc->pg));
		for (i = 0; connect_why[i] != '\0'; i++)
			if (connect_why[i] == '\n' || connect_why[i] == '\t')
				connect_why[i] = ' ';
		while (i > 0 && connect_why[i - 1] == ' ')
			connect_why[--i] = '\0';
		rc = ERR_UNAVAILABLE;
		goto fail;
	}
	PQsetNoticeProcessor(pc->pg, pg_notice, NULL);
	if ((rc = pg_session(&pc->c)) != OK)
		goto fail;
	*out = &pc->c;
	return (OK);
fail:
	PQfinish(pc->pg);
	free(pc);
	return (rc);
}

static void
pg_conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	store_conn_clear_cache(c);
	PQfinish(PCONN(c)->pg);
	free(c);
}

/*
 * A connection that dropped is reset; its prepared statements are gone.
 * One whose end was not answered in time (pg_end_wait) is given up: the
 * pool closes it, and a reset would wait on the same silence.
 */
static int
pg_conn_check(struct conn *c)
{
	PGconn *pg = PCONN(c)->pg;
	int	lost = store_lost_peek(), rc;

	pg_end_wait(c);
	PCONN(c)->begin[0] = '\0';
	/* ERR_DB, a failed statement to the borrower, as pool_get says. */
	if (c->broken && PQstatus(pg) == CONNECTION_OK)
		return (ERR_DB);
	if (PQstatus(pg) == CONNECTION_OK) {
		if (PQtransactionStatus(pg) != PQTRANS_IDLE)
			pg_simple(c, "ROLLBACK", "rollback");
		/* A ROLLBACK not answered in time (pg_await) broke it. */
		return (c->broken ? ERR_DB : OK);
	}
	log_warn("event=db_reconnect db=postgres");
	store_conn_clear_cache(c);
	PQreset(pg);
	if (PQstatus(pg) != CONNECTION_OK)
		return (ERR_DB);
	c->broken = 0;
	if ((rc = pg_session(c)) == OK)
		/* Mended: the loss found on the way (pg_end_wait) is not
		 * the borrower's. */
		store_lost_restore(lost);
	return (rc);
}

#define PG_CUSTOM_PLANS "SET LOCAL plan_cache_mode = force_custom_plan"
/* STORE_TX_NO_INCREMENTAL_SORT (store.h). */
#define PG_NO_INCREMENTAL_SORT "SET LOCAL enable_incremental_sort = off"

/*
 * BEGIN as kind asks: the isolation level, READ ONLY for a read, and
 * with STORE_TX_CUSTOM_PLANS the plan cache mode for the transaction
 * alone (SET LOCAL ends with it). Kept, not sent: the first statement
 * takes it along (pg_send), or pg_exec sends it first.
 */
static int
pg_begin(struct conn *c, int kind)
{
	struct pg_conn *pc = PCONN(c);
	int		ro;

	pg_end_wait(c);
	pc->begin[0] = '\0';
	ro = (kind & STORE_TX_READ) && !(kind & STORE_TX_WRITE);
	pc->ro = ro && !(kind & STORE_TX_SERIALIZABLE);
	pc->reads = ro;
	if (ro && (kind & STORE_TX_AUTOCOMMIT) &&
	    !(kind &
		(STORE_TX_SERIALIZABLE | STORE_TX_SNAPSHOT |
		    STORE_TX_CUSTOM_PLANS | STORE_TX_NO_INCREMENTAL_SORT)))
		return (OK);
	snprintf(pc->begin, sizeof(pc->begin), "BEGIN%s%s",
	    (kind & STORE_TX_SERIALIZABLE) ? " ISOLATION LEVEL SERIALIZABLE"
		: (kind & STORE_TX_SNAPSHOT)
		? " ISOLATION LEVEL REPEATABLE READ"
		: "",
	    ro ? " READ ONLY" : "");
	pc->custom_plans = (kind & STORE_TX_CUSTOM_PLANS) != 0;
	pc->no_incremental_sort = (kind & STORE_TX_NO_INCREMENTAL_SORT) != 0;
	return (OK);
}

/* The kept BEGIN, on its own (one simple query with its SET LOCAL). */
static int
pg_begin_now(struct conn *c)
{
	struct pg_conn *pc = PCONN(c);
	char		sql[256];

	if (pc->begin[0] == '\0')
		return (OK);
	snprintf(sql, sizeof(sql), "%s%s%s", pc->begin,
	    pc->custom_plans ? "; " PG_CUSTOM_PLANS : "",
	    pc->no_incremental_sort ? "; " PG_NO_INCREMENTAL_SORT : "");
	pc->begin[0] = '\0';
	return (pg_simple(c, sql, "begin"));
}

/*
 * A write's COMMIT, told (mark: store.h "Writes told") when the
 * transaction wrote anything (it has an id: a row written or locked,
 * DDL): one simple query of three statements, one round trip. The first
 * notes in the session whether it wrote, the COMMIT ends it, and the
 * NOTIFY on carebase_changes runs after, in a transaction of its own: the
 * write's commit never waits on the cluster's one notification lock
 * (held from a NOTIFY's PreCommit to its end, which for a write includes
 * its flush; the NOTIFY's own transaction, which takes an id, commits
 * without waiting for its flush: synchronous_commit off, a notification
 * being no data), and a NOTIFY that fails (the queue full behind a
 * listener that stopped reading) fails alone, logged, the write
 * committed. The
 * statements after a failing one do not run (an aborted transaction:
 * its COMMIT never goes, rolled back below).
 */
#define PG_MARKED_COMMIT                                                         \
	"SELECT set_config('carebase.wrote', CASE WHEN "                         \
	"pg_current_xact_id_if_assigned() IS NULL THEN 'no' ELSE 'yes' END, "    \
	"false); COMMIT; SELECT set_config('synchronous_commit', 'off', true), " \
	"pg_notify('" STORE_CHANGES_CHANNEL "', '') "                            \
	"WHERE current_setting('carebase.wrote') = 'yes'"

/* PG_MARKED_COMMIT sent and answered: as pg_query, *res the COMMIT's
 * answer, *told whether the transaction wrote (its NOTIFY sent). */
static int
pg_commit_marked(struct conn *c, int *told, PGresult **res)
{
	PGresult   *r;
	const char *m;
	char	    q[256];
	int64_t	    deadline = pg_deadline(c);
	int	    rc = OK, i, wrote = 0, committed = 0;
	int	    lost = store_lost_peek();

	*told = 0;
	*res = NULL;
	atomic_fetch_add(&c->store->round_trips, 1);
	if ((PCONN(c)->unsent =
		    PQsendQuery(PCONN(c)->pg, PG_MARKED_COMMIT) != 1))
		return (pg_result_status(c, NULL, "commit"));
	for (i = 0;; i++) {
		if (pg_next(c, deadline, "commit", &r) != OK) {
			if (committed)
				break; /* below: the write is in */
			PQclear(*res);
			*res = NULL;
			return (ERR_DB);
		}
		if (r == NULL)
			break;
		if (i >= 2 || committed) {
			/* The NOTIFY: the write is in whatever it says. */
			if (PQresultStatus(r) != PGRES_TUPLES_OK) {
				m = PQresultErrorField(
				    r, PG_DIAG_MESSAGE_PRIMARY);
				log_warn("event=db_changes_untold db=postgres "
					 "msg=%s",
				    log_quote(
					q, sizeof(q), m != NULL ? m : ""));
			}
			PQclear(r);
			continue;
		}
		if (rc == OK)
			rc = pg_result_status(c, r, "commit");
		if (i == 0 && rc == OK && PQntuples(r) == 1)
			wrote = strcmp(PQgetvalue(r, 0, 0), "yes") == 0;
		if (i == 1) {
			*res = r; /* the COMMIT's */
			committed =
			    rc == OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
			continue;
		}
		PQclear(r);
	}
	/*
	 * The COMMIT answered, then the NOTIFY's answer lost (the server
	 * gone under it, or its wait out): the write is in, untold to the
	 * others (their TTL bounds it), told to this process (*told). The
	 * connection is not used again; the loss is not the write's.
	 */
	if (committed &&
	    (c->broken || PQstatus(PCONN(c)->pg) != CONNECTION_OK ||
		PQtransactionStatus(PCONN(c)->pg) == PQTRANS_ACTIVE)) {
		log_warn("event=db_changes_untold db=postgres "
			 "msg=\"the connection was lost after the commit\"");
		c->broken = 1;
		store_lost_restore(lost);
		*told = wrote;
		return (OK);
	}
	if (rc == OK && *res == NULL)
		rc = pg_result_status(c, NULL, "commit");
	*told = rc == OK && wrote;
	return (rc);
}

static int
pg_commit(struct conn *c, int mark, int *told)
{
	PGresult *res;
	int	  rc;

	*told = 0;
	/* No statement ran: no BEGIN went, nothing to end. */
	PCONN(c)->begin[0] = '\0';
	/* STORE_TX_AUTOCOMMIT: each statement committed already. */
	if (PQstatus(PCONN(c)->pg) == CONNECTION_OK &&
	    PQtransactionStatus(PCONN(c)->pg) == PQTRANS_IDLE)
		return (OK);
	if (pg_end_sent(c, "COMMIT"))
		return (OK);
	/* Gone before the COMMIT went: nothing was applied, the server is
	 * lost (pg_result_status marks it). */
	if (PQstatus(PCONN(c)->pg) != CONNECTION_OK) {
		pg_result_status(c, NULL, "commit");
		return (ERR_DB);
	}
	if (mark)
		rc = pg_commit_marked(c, told, &res);
	else
		rc = pg_query(c, "COMMIT", "commit", &res);
	/*
	 * Sent, and no answer came (the wait ran out, or the connection
	 * went): the server may have applied it, so the caller must not
	 * take it for a clean failure and write again blindly. Not when
	 * the send itself failed (nothing went: pg_query says so with no
	 * round trip's wait), nor for a READ ONLY transaction, which has
	 * nothing to apply.
	 */
	if (rc != OK && !PCONN(c)->unsent && !PCONN(c)->reads &&
	    (c->broken || PQstatus(PCONN(c)->pg) != CONNECTION_OK)) {
		log_warn("event=db_commit_outcome_unknown db=postgres");
		store_lost_set(STORE_LOST_COMMIT);
	}
	/* COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
	if (rc == OK && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		log_error("event=db_error db=postgres op=commit "
			  "msg=\"transaction was aborted\"");
		rc = ERR_DB;
	}
	PQclear(res);
	/* Not answered in time (broken): nothing more is sent on it. */
	if (c->broken || PQstatus(PCONN(c)->pg) != CONNECTION_OK)
		c->broken = 1;
	else if (PQtransactionStatus(PCONN(c)->pg) != PQTRANS_IDLE)
		pg_simple(c, "ROLLBACK", "rollback");
	return (rc);
}

static void
pg_rollback(struct conn *c)
{
	PGconn *pg = PCONN(c)->pg;

	PCONN(c)->begin[0] = '\0';
	/* A statement not answered in time left it broken: closed, not
	 * waited on again for a ROLLBACK. */
	if (c->broken || PQstatus(pg) != CONNECTION_OK) {
		c->broken = 1;
		return;
	}
	if (PQtransactionStatus(pg) != PQTRANS_IDLE &&
	    !pg_end_sent(c, "ROLLBACK"))
		pg_simple(c, "ROLLBACK", "rollback");
}

/*
 * End a read-only transaction in good standing without waiting: sql
 * (COMMIT or ROLLBACK) is sent, its answer read by pg_end_wait. 0 when
 * it is not such a transaction, or the send failed (then the caller
 * ends it as usual, and sees the connection's state).
 */
static int
pg_end_sent(struct conn *c, const char *sql)
{
	struct pg_conn *pc = PCONN(c);

	if (!pc->ro || PQstatus(pc->pg) != CONNECTION_OK ||
	    PQtransactionStatus(pc->pg) != PQTRANS_INTRANS)
		return (0);
	if (PQsendQuery(pc->pg, sql) != 1)
		return (0);
	pc->ending = 1;
	return (1);
}

/*
 * The answer to an end pg_end_sent sent (waited for only if it has not
 * come yet), PG_END_WAIT_MS at most: past it the connection is broken
 * (c->broken), for the pool to close. A connection left in a transaction
 * is pg_conn_check's.
 */
static void
pg_end_wait(struct conn *c)
{
	struct pg_conn *pc = PCONN(c);
	PGresult       *res;
	int64_t		deadline = mono_ms() + PG_END_WAIT_MS;

	if (!pc->ending)
		return;
	pc->ending = 0;
	/* A round trip only when the answer is not in yet. */
	if (PQconsumeInput(pc->pg) == 1 && PQisBusy(pc->pg))
		atomic_fetch_add(&c->store->round_trips, 1);
	for (;;) {
		if (pg_next(c, deadline, NULL, &res) != OK) {
			log_warn("event=db_end_timeout db=postgres ms=%d",
			    PG_END_WAIT_MS);
			return;
		}
		if (res == NULL)
			break;
		pg_result_status(c, res, "end");
		PQclear(res);
	}
	if (PQstatus(pc->pg) != CONNECTION_OK)
		c->broken = 1;
}

static int
pg_exec(struct conn *c, const char *sql)
{
	int rc;

	/* A simple query may hold several statements: BEGIN first. */
	if ((rc = pg_begin_now(c)) != OK)
		return (rc);
	return (pg_simple(c, sql, "exec"));
}

static struct stmt *
pg_stmt_new(struct conn *c, const char *sql)
{
	struct pg_stmt *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return (NULL);
	if ((ps->text = store_pg_translate(sql, &ps->nparams)) == NULL)
		goto fail;
	if (ps->nparams > 0) {
		ps->values = calloc((size_t)ps->nparams, sizeof(*ps->values));
		ps->lengths = calloc((size_t)ps->nparams, sizeof(*ps->lengths));
		ps->formats = calloc((size_t)ps->nparams, sizeof(*ps->formats));
		if (ps->values == NULL || ps->lengths == NULL ||
		    ps->formats == NULL)
			goto fail;
	}
	snprintf(ps->name, sizeof(ps->name), "s%u", ++c->nextid);
	ps->row = -1;
	return (&ps->s);
fail:
	log_error("event=db_error db=postgres op=prepare msg=nomem");
	free(ps->values);
	free(ps->lengths);
	free(ps->formats);
	free(ps->text);
	free(ps);
	return (NULL);
}

static void
pg_stmt_reset(struct stmt *st)
{
	struct pg_stmt *ps = PSTMT(st);
	int		i;

	PQclear(ps->res);
	ps->res = NULL;
	for (i = 0; i < ps->nparams; i++) {
		free(ps->values[i]);
		ps->values[i] = NULL;
		ps->lengths[i] = 0;
		ps->formats[i] = 0;
	}
	ps->executed = 0;
	ps->row = -1;
	ps->nrows = 0;
	ps->err = OK;
	ps->changes = 0;
}

static void
pg_stmt_free(struct stmt *st)
{
	struct pg_stmt *ps = PSTMT(st);

	if (st == NULL)
		return;
	pg_stmt_reset(st);
	free(ps->values);
	free(ps->lengths);
	free(ps->formats);
	free(ps->text);
	free(ps->blob);
	free(st->sql);
	free(ps);
}

/* Store a copy of one parameter (NUL-terminated for text). */
static int
pg_bind_set(struct stmt *st, int i, const void *v, size_t n, int binary)
{
	struct pg_stmt *ps = PSTMT(st);
	char	       *copy = NULL;

	if (i < 1 || i > ps->nparams || n > INT32_MAX) {
		log_error("event=db_error db=postgres op=bind param=%d", i);
		ps->err = ERR_DB;
		return (ERR_DB);
	}
	if (v != NULL) {
		if ((copy = malloc(n + 1)) == NULL) {
			ps->err = ERR_NOMEM;
			return (ERR_NOMEM);
		}
		memcpy(copy, v, n);
		copy[n] = '\0';
	}
	free(ps->values[i - 1]);
	ps->values[i - 1] = copy;
	ps->lengths[i - 1] = (int)n;
	ps->formats[i - 1] = binary;
	return (OK);
}

static void
pg_bind_text(struct stmt *st, int i, const char *v, size_t n)
{
	/* Text parameters end at the first NUL, as PostgreSQL text does. */
	pg_bind_set(st, i, v, strnlen(v, n), 0);
}

static void
pg_bind_int64(struct stmt *st, int i, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	pg_bind_set(st, i, s, strlen(s), 0);
}

static void
pg_bind_double(struct stmt *st, int i, double v)
{
	char s[40];

	if (isnan(v))
		snprintf(s, sizeof(s), "NaN");
	else if (isinf(v))
		snprintf(s, sizeof(s), "%sInfinity", v < 0 ? "-" : "");
	else
		snprintf(s, sizeof(s), "%.17g", v);
	pg_bind_set(st, i, s, strlen(s), 0);
}

static void
pg_bind_blob(struct stmt *st, int i, const void *v, size_t n)
{
	pg_bind_set(st, i, v, n, 1);
}

static void
pg_bind_null(struct stmt *st, int i)
{
	pg_bind_set(st, i, NULL, 0, 0);
}

/*
 * Run the statement: at once when it is all there is to send, else in
 * one flight with the kept BEGIN and the PREPARE it needs (pg_flight).
 * ps->res holds its result.
 */
static int
pg_send(struct conn *c, struct pg_stmt *ps)
{
	PGconn	 *pg = PCONN(c)->pg;
	PGresult *res;
	int64_t	  deadline;
	int	  sent;

	if (PCONN(c)->begin[0] != '\0' || (ps->s.cached && !ps->prepared))
		return (pg_flight(c, ps));
	deadline = pg_deadline(c);
	atomic_fetch_add(&c->store->round_trips, 1);
	if (ps->s.cached)
		sent = PQsendQueryPrepared(pg, ps->name, ps->nparams,
		    (const char *const *)ps->values, ps->lengths, ps->formats,
		    0);
	else
		sent = PQsendQueryParams(pg, ps->text, ps->nparams, NULL,
		    (const char *const *)ps->values, ps->lengths, ps->formats,
		    0);
	if (sent != 1)
		return (pg_result_status(c, NULL, "step"));
	/* One result, then the NULL that ends them. */
	for (;;) {
		if (pg_next(c, deadline, "step", &res) != OK)
			return (ERR_DB);
		if (res == NULL)
			break;
		if (ps->res == NULL)
			ps->res = res;
		else
			PQclear(res);
	}
	return (pg_result_status(c, ps->res, "step"));
}

/*
 * BEGIN, SET LOCAL, PREPARE and the statement, those of them that are
 * due, sent as a pipeline with one sync and read back in order: the
 * first failure is the answer (the server skips the rest, each
 * PGRES_PIPELINE_ABORTED), all of it db_wait_timeout_ms at most. A
 * connection that breaks on the way (or times out) is closed, not
 * pooled, as it may be left in pipeline mode.
 */
static int
pg_flight(struct conn *c, struct pg_stmt *ps)
{
	struct pg_conn *pc = PCONN(c);
	PGconn	       *pg = pc->pg;
	PGresult       *res;
	const char     *what[5];
	int64_t		deadline = pg_deadline(c);
	int		n = 0, i, rc = OK, sent = 1;

	if (PQenterPipelineMode(pg) != 1) {
		c->broken = 1;
		return (pg_result_status(c, NULL, "pipeline"));
	}
	atomic_fetch_add(&c->store->round_trips, 1);
	if (pc->begin[0] != '\0') {
		sent &= PQsendQueryParams(
		    pg, pc->begin, 0, NULL, NULL, NULL, NULL, 0);
		what[n++] = "begin";
		if (pc->custom_plans) {
			sent &= PQsendQueryParams(
			    pg, PG_CUSTOM_PLANS, 0, NULL, NULL, NULL, NULL, 0);
			what[n++] = "begin";
		}
		if (pc->no_incremental_sort) {
			sent &= PQsendQueryParams(pg, PG_NO_INCREMENTAL_SORT, 0,
			    NULL, NULL, NULL, NULL, 0);
			what[n++] = "begin";
		}
		pc->begin[0] = '\0';
	}
	if (ps->s.cached && !ps->prepared) {
		sent &= PQsendPrepare(pg, ps->name, ps->text, 0, NULL);
		what[n++] = "prepare";
	}
	if (ps->s.cached)
		sent &= PQsendQueryPrepared(pg, ps->name, ps->nparams,
		    (const char *const *)ps->values, ps->lengths, ps->formats,
		    0);
	else
		sent &= PQsendQueryParams(pg, ps->text, ps->nparams, NULL,
		    (const char *const *)ps->values, ps->lengths, ps->formats,
		    0);
	what[n++] = "step";
	if (!sent || PQpipelineSync(pg) != 1) {
		c->broken = 1;
		return (pg_result_status(c, NULL, "pipeline"));
	}
	for (i = 0; i < n; i++) {
		if (pg_next(c, deadline, "pipeline", &res) != OK)
			return (ERR_DB);
		if (res == NULL) {
			c->broken = 1;
			return (
			    rc != OK ? rc : pg_result_status(c, NULL, what[i]));
		}
		if (rc == OK &&
		    (rc = pg_result_status(c, res, what[i])) == OK &&
		    i == n - 1) {
			ps->res = res; /* the statement's: kept */
			res = NULL;
		}
		if (rc == OK && strcmp(what[i], "prepare") == 0)
			ps->prepared = 1;
		PQclear(res);
		/* Each query's results end with a NULL. */
		do {
			if (pg_next(c, deadline, "pipeline", &res) != OK)
				return (ERR_DB);
			PQclear(res);
		} while (res != NULL);
	}
	/* The sync's own result, then out of pipeline mode. */
	if (pg_next(c, deadline, "pipeline", &res) != OK)
		return (ERR_DB);
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		c->broken = 1;
	PQclear(res);
	if (!c->broken && PQexitPipelineMode(pg) != 1)
		c->broken = 1;
	if (rc == OK && c->broken)
		rc = pg_result_status(c, NULL, "pipeline");
	return (rc);
}

static int
pg_step(struct stmt *st)
{
	struct pg_stmt *ps = PSTMT(st);
	const char     *n;
	int		rc;

	if (ps->err != OK)
		return (ps->err);
	if (!ps->executed) {
		if ((rc = pg_send(st->conn, ps)) != OK)
			return (ps->err = rc);
		ps->executed = 1;
		ps->nrows = PQresultStatus(ps->res) == PGRES_TUPLES_OK
		    ? PQntuples(ps->res)
		    : 0;
		n = PQcmdTuples(ps->res);
		ps->changes = *n != '\0' ? strtoll(n, NULL, 10) : 0;
	}
	if (ps->row < ps->nrows)
		ps->row++;
	return (ps->row < ps->nrows ? STORE_ROW : STORE_DONE);
}

static int64_t
pg_changes(struct stmt *st)
{
	return (PSTMT(st)->changes);
}

static int
pg_col_count(struct stmt *st)
{
	return (PSTMT(st)->res != NULL ? PQnfields(PSTMT(st)->res) : 0);
}

static const char *
pg_col_name(struct stmt *st, int i)
{
	return (PQfname(PSTMT(st)->res, i));
}

/* The value at column i of the current row, or NULL. */
#define PG_VALUE(ps, i)                                                        \
	((ps)->row < 0 || (ps)->row >= (ps)->nrows ||                          \
		    PQgetisnull((ps)->res, (ps)->row, (i))                     \
		? NULL                                                         \
		: PQgetvalue((ps)->res, (ps)->row, (i)))

static int
pg_col_is_null(struct stmt *st, int i)
{
	return (PG_VALUE(PSTMT(st), i) == NULL);
}

static const char *
pg_col_text(struct stmt *st, int i)
{
	return (PG_VALUE(PSTMT(st), i));
}

static int64_t
pg_col_int64(struct stmt *st, int i)
{
	const char *v = PG_VALUE(PSTMT(st), i);

	if (v == NULL)
		return (0);
	if (v[0] == 't' && v[1] == '\0') /* a real boolean column */
		return (1);
	return (strtoll(v, NULL, 10));
}

static double
pg_col_double(struct stmt *st, int i)
{
	const char *v = PG_VALUE(PSTMT(st), i);

	return (v == NULL ? 0 : strtod(v, NULL));
}

/* Hex digit values; 0xff marks a byte that is not one. */
static unsigned char hex_tab[256];

static void
hex_tab_init(void)
{
	int i;

	memset(hex_tab, 0xff, sizeof(hex_tab));
	for (i = 0; i < 10; i++)
		hex_tab['0' + i] = (unsigned char)i;
	for (i = 0; i < 6; i++) {
		hex_tab['a' + i] = (unsigned char)(10 + i);
		hex_tab['A' + i] = (unsigned char)(10 + i);
	}
}

/*
 * bytea comes back as "\x0a0b..."; decode it into the stmt's buffer.
 * Biometric blocks are read this way by the hundred per query: a table
 * lookup per digit and one check per 8 output bytes keep it cheap.
 */
static const void *
pg_col_blob(struct stmt *st, int i, size_t *len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct pg_stmt	     *ps = PSTMT(st);
	const unsigned char  *v = (const unsigned char *)PG_VALUE(ps, i);
	unsigned char	     *nb, *out, bad;
	size_t		      n, k, vlen;

	if (v == NULL)
		return (NULL);
	vlen = (size_t)PQgetlength(ps->res, ps->row, i);
	if (vlen < 2 || v[0] != '\\' || v[1] != 'x') {
		if (len != NULL)
			*len = vlen;
		return (v);
	}
	pthread_once(&once, hex_tab_init);
	if ((vlen - 2) % 2 != 0)
		return (NULL);
	v += 2;
	n = (vlen - 2) / 2;
	if (n + 1 > ps->blobcap) {
		if ((nb = realloc(ps->blob, n + 1)) == NULL)
			return (NULL);
		ps->blob = nb;
		ps->blobcap = n + 1;
	}
	out = ps->blob;
	bad = 0;
	for (k = 0; k < n; k++) {
		unsigned char hi = hex_tab[v[2 * k]],
			      lo = hex_tab[v[2 * k + 1]];

		bad |= (unsigned char)(hi | lo);
		out[k] = (unsigned char)(hi << 4 | lo);
	}
	if (bad & 0xf0) /* a digit was 0xff: not hex */
		return (NULL);
	out[n] = 0;
	if (len != NULL)
		*len = n;
	return (out);
}

/* LISTEN on a connection of its own (store_listen) */

#define LISTEN_POLL_MS	   200	 /* how soon a stop is seen */
#define LISTEN_RETRY_MS	   1000	 /* between two connection attempts */
#define LISTEN_CONNECT_MS  10000 /* a connection and its LISTEN at most */
#define LISTEN_CHANNEL_MAX 64
/* A listener's heartbeat: a notification on its own channel, told apart
 * from the channel's others (and ignored by the other listeners). */
#define LISTEN_BEAT "carebase-heartbeat"

struct store_listener {
	char *url; /* owned */
	char  channel[LISTEN_CHANNEL_MAX];
	int   heartbeat_ms;
	void (*on_note)(const char *payload, void *arg);
	void (*on_state)(int live, void *arg);
	void	  *arg;
	pthread_t  thread;
	atomic_int stop;
};

static int64_t
mono_ms(void)
{
	return (time_mono_ns() / 1000000);
}

/*
 * Wait (LISTEN_POLL_MS at most) until pg's socket is ready for events;
 * 1 ready, 0 not yet, -1 an error poll could not get past.
 */
static int
listen_poll(PGconn *pg, short events)
{
	struct pollfd pfd;
	int	      r;

	if ((pfd.fd = PQsocket(pg)) < 0)
		return (-1);
	pfd.events = events;
	pfd.revents = 0;
	if ((r = poll(&pfd, 1, LISTEN_POLL_MS)) < 0)
		return (errno == EINTR ? 0 : -1);
	return (r > 0);
}

/*
 * The command sent on pg (non-blocking) done, its results read: OK, or
 * ERR_UNAVAILABLE past deadline (or stopped), ERR_DB.
 */
static int
listen_await(struct store_listener *l, PGconn *pg, int64_t deadline)
{
	PGresult *res;
	int	  f, ok = 1;

	for (;;) {
		if ((f = PQflush(pg)) < 0)
			return (ERR_DB);
		if (f == 0 && !PQisBusy(pg))
			break;
		if (atomic_load(&l->stop) || mono_ms() > deadline)
			return (ERR_UNAVAILABLE);
		if (listen_poll(pg, f == 1 ? POLLIN | POLLOUT : POLLIN) < 0 ||
		    PQconsumeInput(pg) == 0)
			return (ERR_DB);
	}
	while ((res = PQgetResult(pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			ok = 0;
		PQclear(res);
	}
	return (ok ? OK : ERR_DB);
}

/*
 * Connected and listening, or NULL (said in the log once per loss).
 * Never a blocking wait on the network (PQconnectdb's would hold a stop
 * as long as the server takes to answer, or the network to fail): the
 * connection and its LISTEN are polled, LISTEN_CONNECT_MS at most, a
 * stop seen within LISTEN_POLL_MS. TCP keepalives and tcp_user_timeout
 * (pg_conn_params, as the pool's) let the kernel find a peer gone
 * silent; the heartbeat (listen_main) finds the rest. Keys in url, the
 * environment or a service file win over these.
 */
static PGconn *
listen_connect(struct store_listener *l, int *said)
{
	const char *keys[PG_CONN_NDEFAULTS + 2], *vals[PG_CONN_NDEFAULTS + 2];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn			 *pg;
	int64_t			  deadline = mono_ms() + LISTEN_CONNECT_MS;
	char *ident, sql[LISTEN_CHANNEL_MAX * 2 + 16], q[256];
	int   r, rc;

	pg_conn_params(l->url, keys, vals, PG_CONN_NDEFAULTS + 2);
	if ((pg = PQconnectStartParams(keys, vals, 1)) == NULL)
		return (NULL);
	while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	    st != PGRES_POLLING_FAILED) {
		if (atomic_load(&l->stop) || mono_ms() > deadline)
			break;
		if ((r = listen_poll(pg,
			 st == PGRES_POLLING_READING ? POLLIN : POLLOUT)) < 0)
			break;
		if (r > 0)
			st = PQconnectPoll(pg);
	}
	if (st != PGRES_POLLING_OK || PQstatus(pg) != CONNECTION_OK) {
		if (!*said && !atomic_load(&l->stop))
			log_warn("event=db_listen_connect_failed msg=%s",
			    log_quote(q, sizeof(q),
				mono_ms() > deadline ? "timed out"
						     : PQerrorMessage(pg)));
		*said = 1;
		PQfinish(pg);
		return (NULL);
	}
	PQsetNoticeProcessor(pg, pg_notice, NULL);
	if (PQsetnonblocking(pg, 1) != 0 ||
	    (ident = PQescapeIdentifier(pg, l->channel, strlen(l->channel))) ==
		NULL) {
		PQfinish(pg);
		return (NULL);
	}
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);
	rc = PQsendQuery(pg, sql) == 1 ? listen_await(l, pg, deadline) : ERR_DB;
	if (rc != OK) {
		if (!*said && !atomic_load(&l->stop))
			log_warn("event=db_listen_failed msg=%s",
			    log_quote(q, sizeof(q),
				rc == ERR_UNAVAILABLE ? "timed out"
						      : PQerrorMessage(pg)));
		*said = 1;
		PQfinish(pg);
		return (NULL);
	}
	return (pg);
}

/* The connection is given up: said, told, closed (never blocking). */
static void
listen_lost(struct store_listener *l, PGconn *pg, const char *reason)
{
	log_warn(
	    "event=db_listen_lost channel=%s reason=%s", l->channel, reason);
	l->on_state(0, l->arg);
	PQfinish(pg);
}

/*
 * Listening: notifications to on_note, and every heartbeat_ms a
 * heartbeat, a NOTIFY of its own on the channel. A connection can die
 * with nothing said (a network gone, a server restarted without a reset,
 * a pooler in transaction mode that took the LISTEN to another server
 * connection): what it listens for would then go unheard while the
 * caller goes on trusting it. A heartbeat not back within heartbeat_ms
 * ends that: the connection is given up (on_state(0)) and made again.
 */
static void *
listen_main(void *arg)
{
	struct store_listener *l = arg;
	struct timespec	       ts;
	PGnotify	      *n;
	PGresult	      *res;
	PGconn		      *pg = NULL;
	const char	      *params[2];
	int64_t		       now, next_beat = 0, beat_sent = 0;
	int		       said = 0, waited, r, f = 0;

	params[0] = l->channel;
	params[1] = LISTEN_BEAT;
	while (!atomic_load(&l->stop)) {
		if (pg == NULL) {
			if ((pg = listen_connect(l, &said)) == NULL) {
				/* Again in a second, a stop seen sooner. */
				for (waited = 0; waited < LISTEN_RETRY_MS &&
				     !atomic_load(&l->stop);
				     waited += LISTEN_POLL_MS) {
					ts.tv_sec = 0;
					ts.tv_nsec = LISTEN_POLL_MS * 1000000L;
					nanosleep(&ts, NULL);
				}
				continue;
			}
			if (said)
				log_info("event=db_listen_resumed channel=%s",
				    l->channel);
			said = 0;
			log_info(
			    "event=db_listen_ready channel=%s", l->channel);
			beat_sent = 0;
			f = 0;
			next_beat = mono_ms() + l->heartbeat_ms;
			l->on_state(1, l->arg);
		}
		r = listen_poll(pg, f == 1 ? POLLIN | POLLOUT : POLLIN);
		if (r != 0 && PQconsumeInput(pg) == 0) {
			listen_lost(l, pg, "connection");
			pg = NULL;
			said = 1;
			continue;
		}
		/* The heartbeat's own result, when it is in. */
		while (!PQisBusy(pg) && (res = PQgetResult(pg)) != NULL)
			PQclear(res);
		while ((n = PQnotifies(pg)) != NULL) {
			if (n->extra != NULL &&
			    strcmp(n->extra, LISTEN_BEAT) == 0) {
				if (n->be_pid == PQbackendPID(pg))
					beat_sent = 0; /* back */
			} else
				l->on_note(
				    n->extra != NULL ? n->extra : "", l->arg);
			PQfreemem(n);
		}
		now = mono_ms();
		if (beat_sent != 0 && now - beat_sent > l->heartbeat_ms) {
			listen_lost(l, pg, "heartbeat");
			pg = NULL;
			said = 1;
			continue;
		}
		if (beat_sent == 0 && now >= next_beat && !PQisBusy(pg)) {
			if (PQsendQueryParams(pg, "SELECT pg_notify($1, $2)", 2,
				NULL, params, NULL, NULL, 0) != 1) {
				listen_lost(l, pg, "heartbeat_send");
				pg = NULL;
				said = 1;
				continue;
			}
			beat_sent = now > 0 ? now : 1;
			next_beat = now + l->heartbeat_ms;
		}
		if ((f = PQflush(pg)) < 0) {
			listen_lost(l, pg, "connection");
			pg = NULL;
			said = 1;
		}
	}
	if (pg != NULL) {
		l->on_state(0, l->arg);
		PQfinish(pg);
	}
	return (NULL);
}

int
pg_listen_start(struct store *s, const char *channel, const char *url,
    int heartbeat_ms, void (*on_note)(const char *payload, void *arg),
    void (*on_state)(int live, void *arg), void *arg,
    struct store_listener **out)
{
	struct store_listener *l;

	*out = NULL;
	if (strlen(channel) >= LISTEN_CHANNEL_MAX || heartbeat_ms <= 0)
		return (ERR_INVALID);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (ERR_NOMEM);
	if ((l->url = strdup(
		 url != NULL && url[0] != '\0' ? url : s->target)) == NULL) {
		free(l);
		return (ERR_NOMEM);
	}
	strlcpy_cb(l->channel, channel, sizeof(l->channel));
	l->heartbeat_ms = heartbeat_ms;
	l->on_note = on_note;
	l->on_state = on_state;
	l->arg = arg;
	atomic_init(&l->stop, 0);
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		free(l->url);
		free(l);
		return (ERR_NOMEM);
	}
	*out = l;
	return (OK);
}

void
pg_listen_stop(struct store_listener *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stop, 1);
	pthread_join(l->thread, NULL);
	free(l->url);
	free(l);
}
