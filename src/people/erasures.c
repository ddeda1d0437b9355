/*
 * The erasure journal: erasure that reaches backups.
 *
 * A person's data key lives in the database beside their sealed data, so
 * a backup holds both: restoring one taken before an erasure would bring
 * the person back, readable and able to sign in. So every erasure also
 * appends the person's id and its time, and nothing else, to a file kept
 * outside the database (erasure_journal_file; by default erasure.journal
 * beside the master key, backed up with it, never with the database):
 *
 *	# carebase erasure journal ...
 *	01a23dc4-4b27-7a5a-85e9-7aa53b39bd9c 2026-12-03T21:16:44.507Z
 *
 * The line is written with one write(2) on a descriptor opened O_APPEND
 * (so processes appending at once never interleave) and fsynced, as the
 * last step of the erasure's transaction: an erasure that cannot be
 * journalled is not made. Before each line the descriptor is checked to
 * still name the file at the path (a journal renamed or replaced while
 * carebase runs is opened again, with the checks of start-up).
 *
 * An erasure journalled whose transaction then fails (its COMMIT) is
 * settled (people_erasures_settle, from gdpr.c): unless a fresh look finds
 * the person erased after all, it is withdrawn with a revocation naming
 * the same id and time:
 *
 *	01a23dc4-4b27-7a5a-85e9-7aa53b39bd9c 2026-12-03T21:16:44.507Z revoked
 *
 * A person counts as erased when some erasure line of theirs is not
 * followed by a revocation of the same id and time; lines without the
 * suffix are erasures, so older journals read as before. Every attempt of
 * one erasure (store_run retries busy transactions) writes the same line,
 * and its revocation withdraws them all; an erasure of the same person
 * made later, here or in a journal concatenated to this one, has its own
 * time and is not withdrawn by it.
 *
 * Replay (people_erasures_replay; `serve` and `worker` before anything
 * else, `carebase restore` and `carebase erasures replay`): every
 * journalled person the database still holds (a users row not erased, or
 * a data key) is erased again, and every erased person the database
 * holds that the journal lacks (erasures from before the journal) is
 * appended. A journal that is missing stops start-up in production (in
 * development an empty one is made); one that cannot be read, or that
 * group or others may read or write, stops it always. A journal naming
 * anyone is not replayed into a database with migrations pending (the
 * erasure runs with this binary's schema): migrate first.
 *
 * A line that does not end with an id and a time is skipped with a
 * warning; text before them on a line (a write cut short by a crash,
 * which then never committed) is ignored.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "people/people.h"
#include "people/people_int.h"
#include "store/migrate.h"
#include "store/store.h"

#define JOURNAL_NAME	    "erasure.journal"
#define JOURNAL_MAX	    ((size_t)1024 * 1024 * 1024)
#define JOURNAL_BATCH	    100 /* ids per presence query */
#define JOURNAL_ISO_LEN	    24	/* "2026-11-22T03:05:36.123Z" */
#define JOURNAL_LINE_LEN    (UUID_STR_LEN - 1 + 1 + JOURNAL_ISO_LEN)
#define JOURNAL_REVOKED	    " revoked"
#define JOURNAL_REVOKED_LEN (sizeof(JOURNAL_REVOKED) - 1)
#define JOURNAL_HEADER                                                         \
	"# carebase erasure journal: one erased user id and time a line "      \
	"(\"revoked\" after them withdraws that erasure). "                    \
	"Keep it and back it up with the master key, apart from database "     \
	"backups; carebase replays it at start-up.\n"

/* One line of the journal. */
struct event {
	char	id[UUID_STR_LEN];
	int64_t at;
	size_t	lineno;
	int	revoked;
};

struct journal {
	struct event *ev; /* every record, while reading */
	size_t	      nev;
	size_t	      evcap;
	char (*ids)[UUID_STR_LEN]; /* erased: sorted, unique */
	size_t n;
};

struct presence {
	char (*ids)[UUID_STR_LEN]; /* borrowed */
	size_t n;
	char (*found)[UUID_STR_LEN]; /* out, n at most */
	size_t nfound;
};

struct settle {
	const char *user_id;
	int64_t	    at;
	int	    outcome;
};

struct erased_rows {
	const struct journal *j;
	size_t		      recorded;
	int		      failed;
};

static char journal_path[4096];
static int  journal_fd = -1;
/* Serve's threads: the descriptor, its reopening, and each line. */
static pthread_mutex_t journal_mu = PTHREAD_MUTEX_INITIALIZER;

static int  journal_open(char *, size_t);
static void journal_close(void);
static int  journal_current(void);
static int  journal_write(const char *, int64_t, int);
static int  path_resolve(char *, size_t);
static int  journal_create(const char *, char *, size_t);
static int  journal_read(struct journal *);
static int  journal_line(const char *, size_t, size_t, struct journal *);
static int  journal_erased(struct journal *);
static int  event_cmp(const void *, const void *);
static int  id_cmp(const void *, const void *);
static int  settle_tx(struct tx *, void *);
static int  presence_tx(struct tx *, void *);
static int  reconcile_tx(struct tx *, void *);
static void journal_free(struct journal *);

int
people_erasures_open(char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&journal_mu);
	rc = journal_open(err, errlen);
	pthread_mutex_unlock(&journal_mu);
	return (rc);
}

void
people_erasures_close(void)
{
	pthread_mutex_lock(&journal_mu);
	journal_close();
	pthread_mutex_unlock(&journal_mu);
}

const char *
people_erasures_path(void)
{
	return (journal_path);
}

/* Open the journal at its path, or refuse it; journal_mu held. */
static int
journal_open(char *err, size_t errlen)
{
	struct stat sb;
	int	    rc;

	journal_close();
	if ((rc = path_resolve(journal_path, sizeof(journal_path))) != OK) {
		snprintf(err, errlen, "erasure journal: the path is too long");
		return (rc);
	}
	journal_fd =
	    open(journal_path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (journal_fd == -1 && errno == ENOENT) {
		if (config_is_production()) {
			snprintf(err, errlen,
			    "erasure journal: %s is missing. It records every "
			    "erasure so that a restored backup cannot bring "
			    "an erased person back, and is backed up with the "
			    "master key: restore it from there. A deployment "
			    "that never had one starts it empty (install -m "
			    "600 /dev/null %s); carebase then records in it "
			    "every erasure the database holds",
			    journal_path, journal_path);
			return (ERR_CONFIG);
		}
		return (journal_create(journal_path, err, errlen));
	}
	if (journal_fd == -1) {
		snprintf(err, errlen, "erasure journal: cannot open %s: %s",
		    journal_path, strerror(errno));
		return (ERR_CONFIG);
	}
	if (fstat(journal_fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0) {
		snprintf(err, errlen,
		    "erasure journal: %s must be a file that only its owner "
		    "may read and write (chmod 600)",
		    journal_path);
		journal_close();
		return (ERR_CONFIG);
	}
	return (OK);
}

static void
journal_close(void)
{
	if (journal_fd != -1)
		close(journal_fd);
	journal_fd = -1;
}

/*
 * The descriptor still names the file at the path, or is opened again
 * (renamed, replaced, or unlinked while carebase runs); journal_mu held.
 */
static int
journal_current(void)
{
	struct stat fsb, psb;
	char	    err[1024], q[1100];
	int	    rc;

	if (journal_path[0] == '\0')
		return (ERR_CONFIG); /* never opened */
	if (journal_fd != -1 && fstat(journal_fd, &fsb) == 0 &&
	    fsb.st_nlink > 0 && stat(journal_path, &psb) == 0 &&
	    fsb.st_dev == psb.st_dev && fsb.st_ino == psb.st_ino)
		return (OK);
	if ((rc = journal_open(err, sizeof(err))) != OK) {
		log_error("event=erasure_journal_reopen_failed msg=%s",
		    log_quote(q, sizeof(q), err));
		return (rc);
	}
	log_warn("event=erasure_journal_reopened path=%s", journal_path);
	return (OK);
}

/* erasure_journal_file, or erasure.journal beside the master key. */
static int
path_resolve(char *out, size_t len)
{
	const char *key = config.master_key_file, *slash;
	int	    n;

	if (config.erasure_journal_file[0] != '\0')
		n = snprintf(out, len, "%s", config.erasure_journal_file);
	else if ((slash = strrchr(key, '/')) == NULL)
		n = snprintf(out, len, "%s", JOURNAL_NAME);
	else
		n = snprintf(
		    out, len, "%.*s/%s", (int)(slash - key), key, JOURNAL_NAME);
	return (n < 0 || (size_t)n >= len ? ERR_TOO_LARGE : OK);
}

/* Development: an empty journal (its folder too), durable before use. */
static int
journal_create(const char *path, char *err, size_t errlen)
{
	char  dir[4096];
	char *slash;
	int   dfd;

	strlcpy_cb(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			goto fail;
	} else
		strlcpy_cb(dir, ".", sizeof(dir));
	journal_fd = open(path,
	    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (journal_fd == -1 ||
	    write(journal_fd, JOURNAL_HEADER, strlen(JOURNAL_HEADER)) !=
		(ssize_t)strlen(JOURNAL_HEADER) ||
	    fsync(journal_fd) == -1)
		goto fail;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	log_warn("event=erasure_journal_created path=%s msg=\"back it up with "
		 "the master key; production requires it\"",
	    path);
	return (OK);
fail:
	snprintf(err, errlen, "erasure journal: cannot create %s: %s", path,
	    strerror(errno));
	journal_close();
	return (ERR_CONFIG);
}

int
people_erasures_append(const char *user_id, int64_t at)
{
	return (journal_write(user_id, at, 0));
}

int
people_erasures_settle(
    struct store *db, const char *user_id, int64_t at, int rc)
{
	static const char *const names[] = { "unknown", "made", "withdrawn",
		"kept" };
	struct settle		 s;

	memset(&s, 0, sizeof(s));
	s.user_id = user_id;
	s.at = at;
	if (store_run(db, STORE_TX_WRITE, settle_tx, &s) != OK)
		s.outcome = PEOPLE_ERASE_UNKNOWN;
	if (s.outcome == PEOPLE_ERASE_UNKNOWN || s.outcome == PEOPLE_ERASE_KEPT)
		log_error("event=erasure_pending user_id=%s rc=%s outcome=%s "
			  "msg=\"journalled: made at the next start-up, or "
			  "by carebase erasures replay\"",
		    user_id, err_code(rc), names[s.outcome]);
	else
		log_warn("event=erasure_commit_failed user_id=%s rc=%s "
			 "outcome=%s",
		    user_id, err_code(rc), names[s.outcome]);
	return (s.outcome);
}

/*
 * Under the person's lock (the write transaction on SQLite), so that an
 * erasure of them made meanwhile has committed, or failed and withdrawn
 * its own line (of another time), before this looks.
 */
static int
settle_tx(struct tx *tx, void *arg)
{
	struct settle *s = arg;
	struct stmt   *st;
	int	       rc;

	s->outcome = PEOPLE_ERASE_UNKNOWN;
	if ((rc = people_user_lock(tx, s->user_id)) != OK)
		return (rc);
	st = store_prepare(tx,
	    "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NOT NULL "
	    "AND audit_ref IS NULL");
	store_bind_text(st, 1, s->user_id);
	rc = store_step(st);
	store_finalize(st);
	if (rc == STORE_ROW)
		s->outcome = PEOPLE_ERASE_MADE;
	else if (rc == STORE_DONE)
		s->outcome = journal_write(s->user_id, s->at, 1) == OK
		    ? PEOPLE_ERASE_WITHDRAWN
		    : PEOPLE_ERASE_KEPT;
	else
		return (rc);
	return (OK);
}

/* One line, "<id> <time>[ revoked]", in one write(2), fsynced. */
static int
journal_write(const char *user_id, int64_t at, int revoked)
{
	char	ts[ISO_TIME_LEN], line[128];
	ssize_t w;
	size_t	want;
	int	n, rc = OK;

	n = snprintf(line, sizeof(line), "%s %s%s\n", user_id,
	    time_format_iso(at, ts), revoked ? JOURNAL_REVOKED : "");
	want = JOURNAL_LINE_LEN + 1 + (revoked ? JOURNAL_REVOKED_LEN : 0);
	if (n < 0 || (size_t)n != want)
		return (ERR_INVALID);
	pthread_mutex_lock(&journal_mu);
	if ((rc = journal_current()) != OK) {
		log_error("event=erasure_journal_closed user_id=%s", user_id);
		goto out;
	}
	do
		w = write(journal_fd, line, (size_t)n);
	while (w == -1 && errno == EINTR);
	if (w != n || fdatasync(journal_fd) == -1) {
		log_error("event=erasure_journal_write_failed path=%s "
			  "user_id=%s revoked=%d errno=%d",
		    journal_path, user_id, revoked, errno);
		rc = ERR_IO;
	}
out:
	pthread_mutex_unlock(&journal_mu);
	return (rc);
}

/* Every id the journal holds erased, sorted and unique. */
static int
journal_read(struct journal *j)
{
	struct buf  b;
	char	    chunk[65536];
	const char *p, *nl;
	ssize_t	    r;
	size_t	    lineno = 0;
	int	    rc = OK;

	memset(j, 0, sizeof(*j));
	buf_init(&b, JOURNAL_MAX);
	if (lseek(journal_fd, 0, SEEK_SET) == -1)
		rc = ERR_IO;
	while (rc == OK) {
		if ((r = read(journal_fd, chunk, sizeof(chunk))) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r == 0 ? OK : ERR_IO;
			break;
		}
		rc = buf_append(&b, chunk, (size_t)r);
	}
	for (p = b.data; rc == OK && p != NULL && p < b.data + b.len;
	     p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(b.data + b.len - p))) ==
		    NULL)
			nl = b.data + b.len;
		rc = journal_line(p, (size_t)(nl - p), ++lineno, j);
	}
	buf_free(&b);
	if (rc == OK)
		rc = journal_erased(j);
	if (rc != OK) {
		log_error("event=erasure_journal_unreadable path=%s rc=%s",
		    journal_path, err_code(rc));
		journal_free(j);
		return (rc);
	}
	return (OK);
}

/*
 * One line: "<id> <time>" at its end, or "<id> <time> revoked"; anything
 * else is skipped.
 */
static int
journal_line(const char *p, size_t n, size_t lineno, struct journal *j)
{
	struct event *grown;
	char	      id[UUID_STR_LEN], ts[JOURNAL_ISO_LEN + 1];
	const char   *rec;
	int64_t	      at;
	int	      revoked = 0;

	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 0 || p[0] == '#')
		return (OK);
	if (n >= JOURNAL_REVOKED_LEN &&
	    memcmp(p + n - JOURNAL_REVOKED_LEN, JOURNAL_REVOKED,
		JOURNAL_REVOKED_LEN) == 0) {
		n -= JOURNAL_REVOKED_LEN;
		revoked = 1;
	}
	rec = p + n - (n >= JOURNAL_LINE_LEN ? JOURNAL_LINE_LEN : n);
	if (n >= JOURNAL_LINE_LEN) {
		memcpy(id, rec, UUID_STR_LEN - 1);
		id[UUID_STR_LEN - 1] = '\0';
		memcpy(ts, rec + UUID_STR_LEN, JOURNAL_ISO_LEN);
		ts[JOURNAL_ISO_LEN] = '\0';
	}
	if (n < JOURNAL_LINE_LEN || !uuid_valid(id) ||
	    rec[UUID_STR_LEN - 1] != ' ' || time_parse_iso(ts, &at) != 0) {
		log_warn("event=erasure_journal_bad_line path=%s line=%zu",
		    journal_path, lineno);
		return (OK);
	}
	if (n > JOURNAL_LINE_LEN)
		log_warn("event=erasure_journal_torn_line path=%s line=%zu "
			 "msg=\"text before the record ignored\"",
		    journal_path, lineno);
	if (j->nev == j->evcap) {
		if ((grown = reallocarray(
			 j->ev, 2 * j->evcap + 64, sizeof(*j->ev))) == NULL)
			return (ERR_NOMEM);
		j->ev = grown;
		j->evcap = 2 * j->evcap + 64;
	}
	memcpy(j->ev[j->nev].id, id, UUID_STR_LEN);
	j->ev[j->nev].at = at;
	j->ev[j->nev].lineno = lineno;
	j->ev[j->nev++].revoked = revoked;
	return (OK);
}

/*
 * The ids erased: those with an erasure line (id, time) that no later
 * revocation of the same id and time withdraws. The events go, sorted by
 * id, time and line.
 */
static int
journal_erased(struct journal *j)
{
	size_t i, k;
	int    erased = 0;

	if (j->nev > 1)
		qsort(j->ev, j->nev, sizeof(*j->ev), event_cmp);
	if (j->nev > 0 &&
	    (j->ids = reallocarray(NULL, j->nev, sizeof(*j->ids))) == NULL)
		return (ERR_NOMEM);
	for (i = 0; i < j->nev; i++) {
		k = i + 1;
		/* The last line of an (id, time) says what it is. */
		if (k < j->nev && j->ev[k].at == j->ev[i].at &&
		    strcmp(j->ev[k].id, j->ev[i].id) == 0)
			continue;
		erased |= !j->ev[i].revoked;
		if (k < j->nev && strcmp(j->ev[k].id, j->ev[i].id) == 0)
			continue;
		if (erased)
			memcpy(j->ids[j->n++], j->ev[i].id, UUID_STR_LEN);
		erased = 0;
	}
	free(j->ev);
	j->ev = NULL;
	j->nev = j->evcap = 0;
	return (OK);
}

static int
event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	int		    c;

	if ((c = strcmp(x->id, y->id)) != 0)
		return (c);
	if (x->at != y->at)
		return (x->at < y->at ? -1 : 1);
	return (x->lineno < y->lineno ? -1 : x->lineno > y->lineno);
}

static int
id_cmp(const void *a, const void *b)
{
	return (strcmp(a, b));
}

static void
journal_free(struct journal *j)
{
	free(j->ev);
	free(j->ids);
	memset(j, 0, sizeof(*j));
}

/* Which of ids the database still holds: a row not erased, or a key. */
static int
presence_tx(struct tx *tx, void *arg)
{
	struct presence *p = arg;
	struct stmt	*st;
	struct buf	 sql;
	size_t		 i;
	int		 rc;

	p->nfound = 0;
	buf_init(&sql, 8192);
	rc = buf_puts(&sql, "SELECT id FROM users WHERE id IN (");
	for (i = 0; rc == OK && i < p->n; i++)
		rc = buf_puts(&sql, i == 0 ? "?" : ", ?");
	if (rc == OK)
		rc = buf_puts(&sql,
		    ") AND (deleted_at IS NULL OR audit_ref IS NOT NULL) "
		    "UNION SELECT user_id FROM user_keys WHERE user_id IN (");
	for (i = 0; rc == OK && i < p->n; i++)
		rc = buf_puts(&sql, i == 0 ? "?" : ", ?");
	if (rc == OK)
		rc = buf_puts(&sql, ")");
	if (rc != OK) {
		buf_free(&sql);
		return (rc);
	}
	st = store_prepare(tx, sql.data);
	for (i = 0; i < p->n; i++) {
		store_bind_text(st, (int)i + 1, p->ids[i]);
		store_bind_text(st, (int)(p->n + i) + 1, p->ids[i]);
	}
	while ((rc = store_step(st)) == STORE_ROW)
		if (p->nfound < p->n && store_col_text(st, 0) != NULL)
			strlcpy_cb(p->found[p->nfound++], store_col_text(st, 0),
			    UUID_STR_LEN);
	store_finalize(st);
	buf_free(&sql);
	return (rc == STORE_DONE ? OK : rc);
}

/* Journal every erased person the database holds and the journal lacks. */
static int
reconcile_tx(struct tx *tx, void *arg)
{
	struct erased_rows *e = arg;
	struct stmt	   *st;
	const char	   *id;
	int		    rc;

	e->recorded = 0;
	st = store_prepare(tx,
	    "SELECT id, deleted_at FROM users WHERE deleted_at IS NOT NULL "
	    "AND audit_ref IS NULL ORDER BY id");
	while ((rc = store_step(st)) == STORE_ROW) {
		id = store_col_text(st, 0);
		if (id == NULL || strlen(id) != UUID_STR_LEN - 1 ||
		    (e->j->n > 0 &&
			bsearch(id, e->j->ids, e->j->n, sizeof(*e->j->ids),
			    id_cmp) != NULL))
			continue;
		if (people_erasures_append(id, store_col_int64(st, 1)) != OK) {
			e->failed = 1;
			break;
		}
		e->recorded++;
	}
	store_finalize(st);
	if (e->failed)
		return (ERR_IO);
	return (rc == STORE_DONE ? OK : rc);
}

int
people_erasures_replay(struct store *db, struct people_replay *out)
{
	struct journal	   j;
	struct presence	   p;
	struct erased_rows e;
	char		   found[JOURNAL_BATCH][UUID_STR_LEN];
	size_t		   i, k;
	int		   rc = OK, erased, was_admin, current;

	memset(out, 0, sizeof(*out));
	if (journal_fd == -1)
		return (ERR_CONFIG);
	if ((rc = journal_read(&j)) != OK)
		return (rc);
	out->journalled = j.n;
	/* An older schema may hold personal data where this binary's erasure
	 * does not look: the journal waits for the migrations. */
	current = migrate_current(db);
	if (j.n > 0 && current != OK) {
		out->migrations_pending = current == ERR_UNAVAILABLE;
		rc = current;
	}
	for (i = 0; rc == OK && i < j.n; i += JOURNAL_BATCH) {
		memset(&p, 0, sizeof(p));
		p.ids = j.ids + i;
		p.n = j.n - i < JOURNAL_BATCH ? j.n - i : JOURNAL_BATCH;
		p.found = found;
		if ((rc = store_run(db, STORE_TX_READ, presence_tx, &p)) != OK)
			break;
		for (k = 0; rc == OK && k < p.nfound; k++) {
			if ((rc = people_erase_replayed(
				 db, found[k], &erased, &was_admin)) != OK)
				break;
			out->present++;
			out->erased += erased;
			log_warn("event=erasure_replayed user_id=%s "
				 "row_erased=%d was_admin=%d",
			    found[k], erased, was_admin);
			if (was_admin)
				log_warn(
				    "event=erasure_replayed_admin msg=\"if "
				    "no admin is left: carebase user add "
				    "--role=admin\"");
		}
	}
	if (rc == OK && current == OK) {
		memset(&e, 0, sizeof(e));
		e.j = &j;
		rc = store_run(db, STORE_TX_READ, reconcile_tx, &e);
		out->recorded = e.recorded;
	}
	journal_free(&j);
	if (rc != OK) {
		log_error("event=erasure_journal_replay_failed path=%s rc=%s",
		    journal_path, err_code(rc));
		return (rc);
	}
	if (out->present > 0)
		(void)store_checkpoint(db);
	log_info("event=erasure_journal_replayed path=%s journalled=%zu "
		 "present=%zu erased=%zu recorded=%zu",
	    journal_path, out->journalled, out->present, out->erased,
	    out->recorded);
	return (OK);
}
