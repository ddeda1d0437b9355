/*
 * The migrations runner. Each migration runs in its own transaction with
 * its schema_migrations row, so a failing one leaves no trace and stops
 * the batch. Several processes may migrate at once: on PostgreSQL each
 * transaction first takes an advisory lock and re-checks what is applied;
 * on SQLite the write transaction (BEGIN IMMEDIATE) serializes them.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/embedded.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/migrate.h"
#include "store/store.h"

#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(7262917388)"
/* The same lock's shared form, tried (migrate_lock_shared): 1 if taken. */
#define MIGRATE_LOCK_SHARED_SQL                                                \
	"SELECT CASE WHEN pg_try_advisory_xact_lock_shared(7262917388) "       \
	"THEN 1 ELSE 0 END"
/* clang-format off */
#define MIGRATE_TABLE_SQL \
	"CREATE TABLE IF NOT EXISTS schema_migrations (" \
	"name TEXT PRIMARY KEY, batch INTEGER NOT NULL, " \
	"applied_at BIGINT NOT NULL)"
/* clang-format on */

struct applied {
	char   *name;
	int64_t batch;
	int64_t at;
};

struct applied_set {
	struct applied *rows;
	size_t		n;
};

struct step_ctx {
	const struct migration *m;
	int64_t			batch; /* 0 until chosen */
	int			done;  /* 1 if this run changed it */
};

static void		     migrations_build(int idx, const char *dir);
static void		     build_sqlite(void);
static void		     build_postgres(void);
static int		     migration_cmp(const void *, const void *);
static int		     migrate_lock(struct tx *);
static int		     ensure_fn(struct tx *, void *);
static int		     load_fn(struct tx *, void *);
static void		     applied_free(struct applied_set *);
static int		     applied_load(struct store *, struct applied_set *);
static const struct applied *applied_find(
    const struct applied_set *, const char *);
static int up_fn(struct tx *, void *);
static int down_fn(struct tx *, void *);

static pthread_once_t	 once_sqlite = PTHREAD_ONCE_INIT;
static pthread_once_t	 once_postgres = PTHREAD_ONCE_INIT;
static struct migration *lists[2];
static size_t		 counts[2];

static int
migration_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct migration *)a)->name,
	    ((const struct migration *)b)->name));
}

/* Gather migrations/<dir>/NAME.{up,down}.sql into lists[idx], sorted. */
static void
migrations_build(int idx, const char *dir)
{
	const struct embedded_file *f;
	struct migration	   *list = NULL, *nl, *m;
	char			    prefix[64];
	const char		   *rest, *suffix;
	size_t			    n = 0, plen, nlen, i;
	int			    up;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "migrations/%s/", dir);
	for (f = embedded_files; f->path != NULL; f++) {
		if (strncmp(f->path, prefix, plen) != 0)
			continue;
		rest = f->path + plen;
		nlen = strlen(rest);
		if (nlen > 7 && strcmp(rest + nlen - 7, ".up.sql") == 0) {
			up = 1;
			suffix = rest + nlen - 7;
		} else if (nlen > 9 &&
		    strcmp(rest + nlen - 9, ".down.sql") == 0) {
			up = 0;
			suffix = rest + nlen - 9;
		} else
			continue;
		nlen = (size_t)(suffix - rest);
		for (m = NULL, i = 0; i < n; i++)
			if (strlen(list[i].name) == nlen &&
			    strncmp(list[i].name, rest, nlen) == 0)
				m = &list[i];
		if (m == NULL) {
			if ((nl = realloc(list, (n + 1) * sizeof(*nl))) == NULL)
				goto fail;
			list = nl;
			m = &list[n];
			memset(m, 0, sizeof(*m));
			if ((m->name = strndup(rest, nlen)) == NULL)
				goto fail;
			n++;
		}
		if (up)
			m->up = f->data;
		else
			m->down = f->data;
	}
	for (i = 0; i < n; i++)
		if (list[i].up == NULL) {
			log_error(
			    "event=migration_without_up name=%s", list[i].name);
			goto fail;
		}
	if (n > 0)
		qsort(list, n, sizeof(*list), migration_cmp);
	lists[idx] = list;
	counts[idx] = n;
	return;
fail:
	log_error("event=migrations_build_failed dialect=%s", dir);
	for (i = 0; i < n; i++)
		free((char *)(uintptr_t)list[i].name);
	free(list);
}

static void
build_sqlite(void)
{
	migrations_build(0, "sqlite");
}

static void
build_postgres(void)
{
	migrations_build(1, "postgres");
}

const struct migration *
migrations_for(int dialect, size_t *n)
{
	if (dialect == STORE_SQLITE) {
		pthread_once(&once_sqlite, build_sqlite);
		*n = counts[0];
		return (lists[0]);
	}
	if (dialect == STORE_POSTGRES) {
		pthread_once(&once_postgres, build_postgres);
		*n = counts[1];
		return (lists[1]);
	}
	*n = 0;
	return (NULL);
}

/*
 * Reading a migration's SQL for the columns it adds (migration_adds_column):
 * tokens of the script, as both dialects read it. Skipped: white space,
 * "--" and (nested, as PostgreSQL reads them) slash-star comments, '...'
 * strings ('' inside; E'...' with backslash escapes) and $tag$...$tag$
 * bodies, so that no word inside one is taken for a statement's. A token
 * is a word (letters, digits, _ and $ after the first: lower-cased), a
 * "..." identifier ("" inside; kept as written: PostgreSQL tells "Users"
 * from users), or one other character.
 */
enum sql_tok { SQL_END = 0, SQL_WORD, SQL_QUOTED, SQL_OTHER };

#define SQL_WORD_CHAR(c)                                                       \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') ||           \
	    ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '$')

/* Past the white space, comments, strings and dollar-quoted bodies at s. */
static const char *
sql_skip(const char *s)
{
	const char *e;
	size_t	    tag;
	int	    depth, esc;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
		    *s == '\f' || *s == '\v')
			s++;
		if (s[0] == '-' && s[1] == '-') {
			while (*s != '\0' && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			for (depth = 1, s += 2; *s != '\0' && depth > 0;) {
				if (s[0] == '/' && s[1] == '*') {
					depth++;
					s += 2;
				} else if (s[0] == '*' && s[1] == '/') {
					depth--;
					s += 2;
				} else
					s++;
			}
		} else if (*s == '\'' ||
		    ((*s == 'e' || *s == 'E') && s[1] == '\'')) {
			/* A string, '' inside it; an E'' one: \x too. */
			esc = *s != '\'';
			for (s += esc ? 2 : 1; *s != '\0'; s++) {
				if (esc && *s == '\\' && s[1] != '\0')
					s++;
				else if (*s == '\'' && s[1] == '\'')
					s++;
				else if (*s == '\'')
					break;
			}
			if (*s == '\'')
				s++;
		} else if (*s == '$') {
			/* $$ or $tag$ (a tag is not a $1 parameter). */
			for (tag = 1; s[tag] != '\0' && s[tag] != '$' &&
			     SQL_WORD_CHAR(s[tag]) &&
			     !(tag == 1 && s[tag] >= '0' && s[tag] <= '9');
			     tag++)
				;
			if (s[tag] != '$')
				return (s);
			tag++; /* the opening, both $ */
			for (e = s + tag; *e != '\0'; e++)
				if (*e == '$' && strncmp(e, s, tag) == 0)
					break;
			s = *e != '\0' ? e + tag : e;
		} else
			return (s);
	}
}

/*
 * The next token of a script from *p into w (len bytes): its kind, or
 * SQL_END at the end. A word or identifier too long for w is "" (no name
 * is empty, so it matches none).
 */
static enum sql_tok
sql_token(const char **p, char *w, size_t len)
{
	const char  *s = sql_skip(*p);
	enum sql_tok kind;
	size_t	     n = 0;
	int	     over = 0;

	if (*s == '\0') {
		*p = s;
		w[0] = '\0';
		return (SQL_END);
	}
	if (*s == '"') {
		kind = SQL_QUOTED;
		for (s++; *s != '\0'; s++) {
			if (*s == '"' && s[1] != '"')
				break;
			if (*s == '"')
				s++; /* "" is one " */
			if (n + 1 < len)
				w[n++] = *s;
			else
				over = 1;
		}
		if (*s == '"')
			s++;
	} else if (SQL_WORD_CHAR(*s) && *s != '$') {
		kind = SQL_WORD;
		for (; SQL_WORD_CHAR(*s); s++)
			if (n + 1 < len)
				w[n++] = (char)(*s >= 'A' && *s <= 'Z'
					? *s - 'A' + 'a'
					: *s);
			else
				over = 1;
	} else {
		kind = SQL_OTHER;
		w[n++] = *s++;
	}
	w[over ? 0 : n] = '\0';
	*p = s;
	return (kind);
}

/* 1 if the next token from *p is the word kw (then past it), else 0. */
static int
sql_keyword(const char **p, const char *kw)
{
	const char *s = *p;
	char	    w[16];

	if (sql_token(&s, w, sizeof(w)) != SQL_WORD || strcmp(w, kw) != 0)
		return (0);
	*p = s;
	return (1);
}

/* 1 if token w of kind names name: a word without regard to case, a
 * quoted identifier exactly. */
static int
sql_names(enum sql_tok kind, const char *w, const char *name)
{
	if (kind == SQL_WORD)
		return (w[0] != '\0' && strcasecmp(w, name) == 0);
	return (kind == SQL_QUOTED && w[0] != '\0' && strcmp(w, name) == 0);
}

/*
 * After ALTER at *p: TABLE [IF EXISTS] [ONLY] [schema.]table [*], then its
 * actions, each ADD [COLUMN] [IF NOT EXISTS] column ... or another, up to
 * the statement's end: 1 if one adds col to table.
 */
static int
sql_alter_adds(const char *p, const char *table, const char *col)
{
	static const char *const not_column[] = { "constraint", "primary",
		"unique", "check", "foreign", "exclude", NULL };
	enum sql_tok		 kind;
	const char		*s;
	char			 w[128];
	size_t			 i;
	int			 depth, named;

	if (!sql_keyword(&p, "table"))
		return (0);
	if (sql_keyword(&p, "if") && !sql_keyword(&p, "exists"))
		return (0);
	sql_keyword(&p, "only");
	kind = sql_token(&p, w, sizeof(w));
	named = sql_names(kind, w, table);
	s = p;
	/* A schema's name before it: public.users, "main"."users". */
	if (kind != SQL_OTHER && sql_token(&s, w, sizeof(w)) == SQL_OTHER &&
	    w[0] == '.') {
		p = s;
		kind = sql_token(&p, w, sizeof(w));
		named = sql_names(kind, w, table);
	}
	if (!named)
		return (0);
	s = p;
	if (sql_token(&s, w, sizeof(w)) == SQL_OTHER && w[0] == '*')
		p = s;
	for (;;) {
		/* One action. */
		if (sql_keyword(&p, "add")) {
			s = p;
			kind = sql_token(&s, w, sizeof(w));
			if (kind == SQL_WORD && strcmp(w, "column") == 0)
				p = s;
			else
				for (i = 0;
				     kind == SQL_WORD && not_column[i] != NULL;
				     i++)
					if (strcmp(w, not_column[i]) == 0)
						kind = SQL_END;
			if (kind != SQL_END) {
				s = p;
				if (sql_keyword(&s, "if") &&
				    sql_keyword(&s, "not") &&
				    sql_keyword(&s, "exists"))
					p = s;
				kind = sql_token(&p, w, sizeof(w));
				if (sql_names(kind, w, col))
					return (1);
			}
		}
		/* To its end: a comma between actions, or the statement's. */
		for (depth = 0;;) {
			kind = sql_token(&p, w, sizeof(w));
			if (kind == SQL_END)
				return (0);
			if (kind != SQL_OTHER)
				continue;
			if (w[0] == '(')
				depth++;
			else if (w[0] == ')' && depth > 0)
				depth--;
			else if (w[0] == ';' && depth == 0)
				return (0);
			else if (w[0] == ',' && depth == 0)
				break;
		}
	}
}

int
migration_sql_adds_column(const char *sql, const char *table, const char *col)
{
	enum sql_tok kind;
	const char  *p = sql;
	char	     w[128];

	while ((kind = sql_token(&p, w, sizeof(w))) != SQL_END)
		if (kind == SQL_WORD && strcmp(w, "alter") == 0 &&
		    sql_alter_adds(p, table, col))
			return (1);
	return (0);
}

int
migration_adds_column(int dialect, int num, const char *table, const char *col)
{
	const struct migration *m;
	char			prefix[16];
	size_t			i, n;

	snprintf(prefix, sizeof(prefix), "%04d_", num);
	m = migrations_for(dialect, &n);
	for (i = 0; i < n; i++)
		if (strncmp(m[i].name, prefix, strlen(prefix)) == 0)
			return (migration_sql_adds_column(m[i].up, table, col));
	return (0);
}

/* PostgreSQL: one migrator at a time, until this transaction ends. */
static int
migrate_lock(struct tx *tx)
{
	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK);
	return (store_exec(tx, MIGRATE_LOCK_SQL));
}

int
migrate_lock_shared(struct tx *tx)
{
	/* Tried every 50 ms rather than waited for: a wait ends only at
	 * statement_timeout (30 s, then a 500), and a lock_timeout's failure
	 * would end the transaction's use. */
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct stmt    *st;
	int64_t		deadline;
	int		rc, taken;

	/* SQLite: a write transaction (BEGIN IMMEDIATE) already keeps every
	 * migration (each a write transaction) out until it ends. */
	if (store_tx_dialect(tx) != STORE_POSTGRES)
		return (OK);
	deadline = time_mono_ns() / 1000000 + MIGRATE_LOCK_WAIT_MS;
	for (;;) {
		if ((st = store_prepare(tx, MIGRATE_LOCK_SHARED_SQL)) == NULL)
			return (ERR_DB);
		taken = 0;
		if ((rc = store_step(st)) == STORE_ROW) {
			taken = store_col_int64(st, 0) == 1;
			rc = OK;
		} else if (rc == STORE_DONE)
			rc = ERR_DB;
		store_finalize(st);
		if (rc != OK || taken)
			return (rc);
		if (time_mono_ns() / 1000000 >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	log_warn("event=migration_lock_wait waited_ms=%d "
		 "msg=\"a migration is being applied\"",
	    MIGRATE_LOCK_WAIT_MS);
	return (ERR_UNAVAILABLE);
}

static int
ensure_fn(struct tx *tx, void *arg)
{
	int rc;

	if ((rc = migrate_lock(tx)) != OK)
		return (rc);
	return (store_exec(tx, MIGRATE_TABLE_SQL));
}

static int
load_fn(struct tx *tx, void *arg)
{
	struct applied_set *set = arg;
	struct applied	   *nr;
	struct stmt	   *st;
	const char	   *name;
	int		    rc = ERR_DB;

	applied_free(set);
	st = store_prepare(tx,
	    "SELECT name, batch, applied_at "
	    "FROM schema_migrations ORDER BY name");
	while ((rc = store_step(st)) == STORE_ROW) {
		if ((nr = realloc(set->rows, (set->n + 1) * sizeof(*nr))) ==
		    NULL) {
			rc = ERR_NOMEM;
			goto out;
		}
		set->rows = nr;
		name = store_col_text(st, 0);
		if ((nr[set->n].name = strdup(name != NULL ? name : "")) ==
		    NULL) {
			rc = ERR_NOMEM;
			goto out;
		}
		nr[set->n].batch = store_col_int64(st, 1);
		nr[set->n].at = store_col_int64(st, 2);
		set->n++;
	}
	if (rc == STORE_DONE)
		rc = OK;
out:
	store_finalize(st);
	return (rc);
}

static void
applied_free(struct applied_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->rows[i].name);
	free(set->rows);
	set->rows = NULL;
	set->n = 0;
}

/* Create schema_migrations if missing and read it. */
static int
applied_load(struct store *s, struct applied_set *set)
{
	int rc;

	set->rows = NULL;
	set->n = 0;
	if ((rc = store_run(s, STORE_TX_WRITE, ensure_fn, NULL)) != OK)
		return (rc);
	if ((rc = store_run(s, STORE_TX_READ, load_fn, set)) != OK)
		applied_free(set);
	return (rc);
}

static const struct applied *
applied_find(const struct applied_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->rows[i].name, name) == 0)
			return (&set->rows[i]);
	return (NULL);
}

static int
up_fn(struct tx *tx, void *arg)
{
	struct step_ctx *ctx = arg;
	struct stmt	*st = NULL;
	int		 rc;

	ctx->done = 0;
	if ((rc = migrate_lock(tx)) != OK)
		goto out;
	/* Another migrator may have applied it meanwhile. */
	st =
	    store_prepare(tx, "SELECT 1 FROM schema_migrations WHERE name = ?");
	store_bind_text(st, 1, ctx->m->name);
	if ((rc = store_step(st)) == STORE_ROW) {
		rc = OK;
		goto out;
	} else if (rc != STORE_DONE)
		goto out;
	store_finalize(st);
	if (ctx->batch == 0) {
		st = store_prepare(tx,
		    "SELECT COALESCE(MAX(batch), 0) + 1 "
		    "FROM schema_migrations");
		if ((rc = store_step(st)) != STORE_ROW)
			goto out;
		ctx->batch = store_col_int64(st, 0);
		store_finalize(st);
	}
	st = NULL;
	if ((rc = store_exec(tx, ctx->m->up)) != OK)
		goto out;
	st = store_prepare(tx,
	    "INSERT INTO schema_migrations "
	    "(name, batch, applied_at) VALUES (?, ?, ?)");
	store_bind_text(st, 1, ctx->m->name);
	store_bind_int64(st, 2, ctx->batch);
	store_bind_int64(st, 3, time_now_ms());
	if ((rc = store_step(st)) != STORE_DONE)
		goto out;
	ctx->done = 1;
	rc = OK;
out:
	store_finalize(st);
	if (rc == STORE_ROW || rc == STORE_DONE)
		rc = ERR_DB;
	return (rc);
}

static int
down_fn(struct tx *tx, void *arg)
{
	struct step_ctx *ctx = arg;
	struct stmt	*st = NULL;
	int		 rc;

	ctx->done = 0;
	if ((rc = migrate_lock(tx)) != OK)
		goto out;
	/* batch 0: the migration whichever batch applied it. */
	st = store_prepare(tx,
	    "SELECT 1 FROM schema_migrations "
	    "WHERE name = ? AND (batch = ? OR ? = 0)");
	store_bind_text(st, 1, ctx->m->name);
	store_bind_int64(st, 2, ctx->batch);
	store_bind_int64(st, 3, ctx->batch);
	if ((rc = store_step(st)) == STORE_DONE) {
		rc = OK; /* reverted by someone else */
		goto out;
	} else if (rc != STORE_ROW)
		goto out;
	store_finalize(st);
	st = NULL;
	if ((rc = store_exec(tx, ctx->m->down)) != OK)
		goto out;
	st = store_prepare(tx, "DELETE FROM schema_migrations WHERE name = ?");
	store_bind_text(st, 1, ctx->m->name);
	if ((rc = store_step(st)) != STORE_DONE)
		goto out;
	ctx->done = 1;
	rc = OK;
out:
	store_finalize(st);
	if (rc == STORE_ROW || rc == STORE_DONE)
		rc = ERR_DB;
	return (rc);
}

int
migrate_up_list(
    struct store *s, const struct migration *list, size_t n, int *applied)
{
	struct applied_set set;
	struct step_ctx	   ctx;
	size_t		   i;
	int		   rc;

	*applied = 0;
	if ((rc = applied_load(s, &set)) != OK)
		return (rc);
	memset(&ctx, 0, sizeof(ctx));
	for (i = 0; i < n; i++) {
		if (applied_find(&set, list[i].name) != NULL)
			continue;
		ctx.m = &list[i];
		if ((rc = store_run(s, STORE_TX_WRITE, up_fn, &ctx)) != OK) {
			log_error("event=migrate_failed direction=up name=%s "
				  "rc=%d",
			    list[i].name, rc);
			break;
		}
		if (ctx.done) {
			log_info("event=migrated direction=up name=%s "
				 "batch=%" PRId64,
			    list[i].name, ctx.batch);
			(*applied)++;
		}
	}
	applied_free(&set);
	return (rc);
}

int
migrate_down_list(
    struct store *s, const struct migration *list, size_t n, int *reverted)
{
	struct applied_set	set;
	struct step_ctx		ctx;
	const struct migration *m;
	size_t			i, j;
	int64_t			batch = 0;
	int			rc;

	*reverted = 0;
	if ((rc = applied_load(s, &set)) != OK)
		return (rc);
	for (i = 0; i < set.n; i++)
		if (set.rows[i].batch > batch)
			batch = set.rows[i].batch;
	/* Rows are sorted by name: walk them backwards, newest first. */
	for (i = set.n; i-- > 0;) {
		if (set.rows[i].batch != batch)
			continue;
		for (m = NULL, j = 0; j < n; j++)
			if (strcmp(list[j].name, set.rows[i].name) == 0)
				m = &list[j];
		if (m == NULL || m->down == NULL) {
			log_error("event=migrate_failed direction=down name=%s "
				  "msg=\"no down migration\"",
			    set.rows[i].name);
			rc = ERR_INVALID;
			break;
		}
		memset(&ctx, 0, sizeof(ctx));
		ctx.m = m;
		ctx.batch = batch;
		if ((rc = store_run(s, STORE_TX_WRITE, down_fn, &ctx)) != OK) {
			log_error("event=migrate_failed direction=down name=%s "
				  "rc=%d",
			    m->name, rc);
			break;
		}
		if (ctx.done) {
			log_info("event=migrated direction=down name=%s "
				 "batch=%" PRId64,
			    m->name, batch);
			(*reverted)++;
		}
	}
	applied_free(&set);
	return (rc);
}

int
migrate_history(struct store *s, struct migrate_row **rows, size_t *n)
{
	struct applied_set set;
	size_t		   i;
	int		   rc;

	*rows = NULL;
	*n = 0;
	if ((rc = applied_load(s, &set)) != OK)
		return (rc);
	if (set.n > 0 && (*rows = calloc(set.n, sizeof(**rows))) == NULL) {
		applied_free(&set);
		return (ERR_NOMEM);
	}
	for (i = 0; i < set.n; i++) {
		(*rows)[i].name = set.rows[i].name; /* taken */
		(*rows)[i].batch = set.rows[i].batch;
		set.rows[i].name = NULL;
	}
	*n = set.n;
	applied_free(&set);
	return (OK);
}

void
migrate_history_free(struct migrate_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].name);
	free(rows);
}

int
migrate_down_names(
    struct store *s, const char *const *names, size_t nnames, int *reverted)
{
	const struct migration *list, *m;
	struct step_ctx		ctx;
	size_t			n, i, j;
	int			rc = OK;

	*reverted = 0;
	list = migrations_for(store_dialect(s), &n);
	for (i = 0; i < nnames; i++) {
		for (m = NULL, j = 0; j < n; j++)
			if (strcmp(list[j].name, names[i]) == 0)
				m = &list[j];
		if (m == NULL || m->down == NULL) {
			log_error("event=migrate_failed direction=down name=%s "
				  "msg=\"no down migration\"",
			    names[i]);
			return (ERR_INVALID);
		}
		memset(&ctx, 0, sizeof(ctx));
		ctx.m = m;
		if ((rc = store_run(s, STORE_TX_WRITE, down_fn, &ctx)) != OK) {
			log_error("event=migrate_failed direction=down name=%s "
				  "rc=%d",
			    m->name, rc);
			return (rc);
		}
		if (ctx.done) {
			log_info(
			    "event=migrated direction=down name=%s", m->name);
			(*reverted)++;
		}
	}
	return (OK);
}

int
migrate_status_list(
    struct store *s, const struct migration *list, size_t n, FILE *fp)
{
	struct applied_set    set;
	const struct applied *a;
	char		      iso[ISO_TIME_LEN];
	size_t		      i, j;
	int		      rc;

	if ((rc = applied_load(s, &set)) != OK)
		return (rc);
	fprintf(fp, "%-40s %6s  %s\n", "name", "batch", "applied_at");
	for (i = 0; i < n; i++) {
		if ((a = applied_find(&set, list[i].name)) == NULL)
			fprintf(fp, "%-40s %6s  %s\n", list[i].name, "-",
			    "pending");
		else
			fprintf(fp, "%-40s %6" PRId64 "  %s\n", a->name,
			    a->batch, time_format_iso(a->at, iso));
	}
	for (i = 0; i < set.n; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(list[j].name, set.rows[i].name) == 0)
				break;
		if (j == n)
			fprintf(fp, "%-40s %6" PRId64 "  %s (no file)\n",
			    set.rows[i].name, set.rows[i].batch,
			    time_format_iso(set.rows[i].at, iso));
	}
	applied_free(&set);
	return (OK);
}

int
migrate_current_list(struct store *s, const struct migration *list, size_t n)
{
	struct tx   *tx;
	struct stmt *st;
	const char  *name;
	size_t	     i = 0;
	int	     rc, step, ledger = 0;

	/*
	 * Read-only, one transaction: /readyz calls this on every probe and
	 * must work on a replica. Applied names and the embedded list are both
	 * sorted, so one merge pass finds a pending migration.
	 */
	if ((rc = store_tx_begin(s, STORE_TX_READ, &tx)) != OK)
		return (ERR_DB);
	/* No schema_migrations yet means nothing is applied: asked of the
	 * catalog, so a failed read (a server gone silent) is never taken
	 * for a database not migrated. */
	if ((rc = store_table_exists(tx, "schema_migrations", &ledger)) != OK ||
	    !ledger) {
		store_tx_rollback(tx);
		return (rc != OK ? ERR_DB : n == 0 ? OK : ERR_UNAVAILABLE);
	}
	st = store_prepare(
	    tx, "SELECT name FROM schema_migrations ORDER BY name");
	while ((step = store_step(st)) == STORE_ROW) {
		name = store_col_text(st, 0);
		if (name == NULL)
			continue;
		if (i < n && strcmp(name, list[i].name) == 0)
			i++;
		else if (i < n && strcmp(name, list[i].name) > 0)
			break; /* list[i] was skipped: pending */
	}
	store_finalize(st);
	store_tx_rollback(tx);
	if (step != STORE_ROW && step != STORE_DONE)
		return (ERR_DB);
	return (i == n ? OK : ERR_UNAVAILABLE);
}

int
migrate_up(struct store *s, int *applied)
{
	const struct migration *list;
	size_t			n;

	list = migrations_for(store_dialect(s), &n);
	return (migrate_up_list(s, list, n, applied));
}

int
migrate_down(struct store *s, int *reverted)
{
	const struct migration *list;
	size_t			n;

	list = migrations_for(store_dialect(s), &n);
	return (migrate_down_list(s, list, n, reverted));
}

int
migrate_status(struct store *s, FILE *fp)
{
	const struct migration *list;
	size_t			n;

	list = migrations_for(store_dialect(s), &n);
	return (migrate_status_list(s, list, n, fp));
}

int
migrate_current(struct store *s)
{
	const struct migration *list;
	size_t			n;

	list = migrations_for(store_dialect(s), &n);
	return (migrate_current_list(s, list, n));
}

int
migrate_applied(struct store *s, const char *name)
{
	struct tx   *tx;
	struct stmt *st;
	int	     rc, step, ledger = 0;

	if ((rc = store_tx_begin(s, STORE_TX_READ, &tx)) != OK)
		return (ERR_DB);
	/* Before the first migrate there is no schema_migrations: nothing
	 * is applied (asked of the catalog, so no statement fails). */
	step = store_table_exists(tx, "schema_migrations", &ledger) == OK
	    ? STORE_ROW
	    : ERR_DB;
	if (step == STORE_ROW && ledger) {
		st = store_prepare(
		    tx, "SELECT 1 FROM schema_migrations WHERE name = ?");
		store_bind_text(st, 1, name);
		step = store_step(st);
		store_finalize(st);
		rc = step == STORE_ROW	 ? OK
		    : step == STORE_DONE ? ERR_NOT_FOUND
					 : ERR_DB;
	} else
		rc = step == STORE_ROW ? ERR_NOT_FOUND : ERR_DB;
	store_tx_rollback(tx);
	return (rc);
}
