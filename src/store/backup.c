/*
 * Backups of the SQLite database (see backup.h): copy, check, encode,
 * read back, put in place; and the other way for restore. The scheduled
 * job is backup_job.c's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>
#include <zlib.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backup.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_int.h"

#define MAGIC	     "CBBACKUP"
#define MAGIC_LEN    8
#define HEAD_LEN     12 /* magic, version, flags, two zero bytes */
#define VERSION	     1
#define FLAG_GZIP    1
#define ABYTES	     crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER    crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define IO_CHUNK     65536
#define PLAIN_MAX    (256LL * 1024 * 1024 * 1024) /* a decoded backup */
#define SQLITE_MAGIC "SQLite format 3"

/* Where encoded bytes go: a file, a running hash, or both. */
struct sink {
	int			  fd;	/* -1: none */
	crypto_generichash_state *hash; /* NULL: none */
	int64_t			  bytes;
	int64_t			  max;
};

/* The encoder: gzip (optional), then records under the key (optional). */
struct enc {
	struct sink				   *out;
	z_stream				    z;
	int					    gzip;
	int					    encrypt;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char				    head[HEAD_LEN];
	unsigned char				   *rec; /* BACKUP_RECORD */
	size_t					    nrec;
};

/* The decoder: records (when encrypted), then gunzip (when gzip). */
struct dec {
	struct sink *out;
	z_stream     z;
	int	     gzip;
	int	     gzip_done;
};

static int write_all(int, const void *, size_t);
static int read_full(int, void *, size_t, size_t *);
static int sink_put(struct sink *, const void *, size_t);
static int enc_record(struct enc *, int final);
static int enc_bytes(struct enc *, const void *, size_t);
static int enc_put(struct enc *, const void *, size_t, int finish);
static int encode(int, struct sink *, int, const unsigned char *);
static int dec_put(struct dec *, const void *, size_t);
static int decode(
    int, struct sink *, const unsigned char *, int *, int *, char *, size_t);
static int  check_copy(const char *, int, struct backup_info *, char *, size_t);
static int  hash_file(int, unsigned char[32]);
static int  temp_beside(int, const char *, const char *, char *, size_t);
static int  put_in_place(const char *, const char *, int);
static void fsync_dir(const char *);
static int  same_place(const char *, const char *);
static int  is_live(struct store *, const char *);
static void temps_set(int, const char *, const char *);
static void temps_unlink(int);

/*
 * The temporary files of the backup under way, unlinked by the signal
 * handler backup_clean_on_signal installs: a backup stopped by SIGINT or
 * SIGTERM leaves no copy behind (an encrypted backup's plain copy least
 * of all). A slot's path is written before it is marked in use, so the
 * handler never reads half of one.
 */
#define TEMP_COPY	0 /* the plain copy, and SQLite's files beside it */
#define TEMP_COPY_TMP	1
#define TEMP_COPY_JOUR	2
#define TEMP_COPY_TJOUR 3
#define TEMP_ENC	4
#define TEMPS		5
static char		     temps[TEMPS][PATH_MAX + 16];
static volatile sig_atomic_t temps_used[TEMPS];
static volatile sig_atomic_t temps_armed;

static int
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t		     w;

	while (n > 0) {
		if ((w = write(fd, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return (ERR_IO);
		}
		b += w;
		n -= (size_t)w;
	}
	return (OK);
}

/* Read up to n bytes (fewer only at the end of the file) into *got. */
static int
read_full(int fd, void *p, size_t n, size_t *got)
{
	unsigned char *b = p;
	ssize_t	       r;

	*got = 0;
	while (*got < n) {
		if ((r = read(fd, b + *got, n - *got)) == -1) {
			if (errno == EINTR)
				continue;
			return (ERR_IO);
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return (OK);
}

static int
sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->max > 0 && s->bytes + (int64_t)n > s->max)
		return (ERR_TOO_LARGE);
	s->bytes += (int64_t)n;
	if (s->hash != NULL)
		crypto_generichash_update(s->hash, p, n);
	return (s->fd != -1 ? write_all(s->fd, p, n) : OK);
}

/* One record: its length (4 bytes, big-endian), then its ciphertext. */
static int
enc_record(struct enc *e, int final)
{
	unsigned char	  *c, len[4];
	unsigned long long clen;
	int		   rc;

	if ((c = malloc(e->nrec + ABYTES)) == NULL)
		return (ERR_NOMEM);
	crypto_secretstream_xchacha20poly1305_push(&e->st, c, &clen, e->rec,
	    e->nrec, e->head, HEAD_LEN,
	    final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
	len[0] = (unsigned char)(clen >> 24);
	len[1] = (unsigned char)(clen >> 16);
	len[2] = (unsigned char)(clen >> 8);
	len[3] = (unsigned char)clen;
	if ((rc = sink_put(e->out, len, 4)) == OK)
		rc = sink_put(e->out, c, (size_t)clen);
	free(c);
	e->nrec = 0;
	return (rc);
}

/* Bytes after gzip: straight out, or gathered into records. */
static int
enc_bytes(struct enc *e, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t		     take;
	int		     rc;

	if (!e->encrypt)
		return (sink_put(e->out, p, n));
	while (n > 0) {
		take = BACKUP_RECORD - e->nrec;
		if (take > n)
			take = n;
		memcpy(e->rec + e->nrec, b, take);
		e->nrec += take;
		b += take;
		n -= take;
		if (e->nrec == BACKUP_RECORD && (rc = enc_record(e, 0)) != OK)
			return (rc);
	}
	return (OK);
}

/* Plain bytes in; with finish, the gzip trailer and the final record. */
static int
enc_put(struct enc *e, const void *p, size_t n, int finish)
{
	unsigned char out[IO_CHUNK];
	int	      zrc, rc;

	if (!e->gzip) {
		if ((rc = enc_bytes(e, p, n)) != OK)
			return (rc);
	} else {
		e->z.next_in = (Bytef *)(uintptr_t)p;
		e->z.avail_in = (uInt)n;
		do {
			e->z.next_out = out;
			e->z.avail_out = sizeof(out);
			zrc = deflate(&e->z, finish ? Z_FINISH : Z_NO_FLUSH);
			if (zrc == Z_STREAM_ERROR)
				return (ERR_INTERNAL);
			if ((rc = enc_bytes(
				 e, out, sizeof(out) - e->z.avail_out)) != OK)
				return (rc);
		} while (
		    e->z.avail_out == 0 || (finish && zrc != Z_STREAM_END));
	}
	if (finish && e->encrypt)
		return (enc_record(e, 1));
	return (OK);
}

/* The plain file at in (read from its start) encoded into out. */
static int
encode(int in, struct sink *out, int gzip, const unsigned char *key)
{
	unsigned char buf[IO_CHUNK], sshead[SS_HEADER];
	struct enc    e;
	size_t	      got;
	int	      rc = OK;

	memset(&e, 0, sizeof(e));
	e.out = out;
	e.gzip = gzip;
	e.encrypt = key != NULL;
	if (gzip &&
	    deflateInit2(&e.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		Z_OK)
		return (ERR_NOMEM);
	if (e.encrypt) {
		memcpy(e.head, MAGIC, MAGIC_LEN);
		e.head[8] = VERSION;
		e.head[9] = gzip ? FLAG_GZIP : 0;
		crypto_secretstream_xchacha20poly1305_init_push(
		    &e.st, sshead, key);
		if ((e.rec = malloc(BACKUP_RECORD)) == NULL ||
		    (rc = sink_put(out, e.head, HEAD_LEN)) != OK ||
		    (rc = sink_put(out, sshead, SS_HEADER)) != OK)
			goto out;
	}
	if (lseek(in, 0, SEEK_SET) == -1) {
		rc = ERR_IO;
		goto out;
	}
	do {
		if ((rc = read_full(in, buf, sizeof(buf), &got)) != OK ||
		    (rc = enc_put(&e, buf, got, got < sizeof(buf))) != OK)
			goto out;
	} while (got == sizeof(buf));
out:
	if (gzip)
		deflateEnd(&e.z);
	if (e.rec != NULL) {
		sodium_memzero(e.rec, BACKUP_RECORD);
		free(e.rec);
	}
	sodium_memzero(&e.st, sizeof(e.st));
	return (rc);
}

static int
dec_put(struct dec *d, const void *p, size_t n)
{
	unsigned char out[IO_CHUNK];
	int	      zrc, rc;

	if (!d->gzip)
		return (sink_put(d->out, p, n));
	if (n > 0 && d->gzip_done)
		return (ERR_MALFORMED); /* bytes after the gzip stream */
	d->z.next_in = (Bytef *)(uintptr_t)p;
	d->z.avail_in = (uInt)n;
	while (d->z.avail_in > 0 && !d->gzip_done) {
		d->z.next_out = out;
		d->z.avail_out = sizeof(out);
		zrc = inflate(&d->z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			return (ERR_MALFORMED);
		if ((rc = sink_put(
			 d->out, out, sizeof(out) - d->z.avail_out)) != OK)
			return (rc);
		if (zrc == Z_STREAM_END)
			d->gzip_done = 1;
	}
	return (d->z.avail_in > 0 ? ERR_MALFORMED : OK);
}

/*
 * The backup at in decoded into out. *gzip and *encrypted say what it
 * was; a file that is none of the three, cut short, changed, or under
 * another key is refused, err saying which.
 */
static int
decode(int in, struct sink *out, const unsigned char *key, int *gzip,
    int *encrypted, char *err, size_t errlen)
{
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char head[HEAD_LEN + SS_HEADER], len[4], *c = NULL, *m = NULL;
	unsigned char buf[IO_CHUNK], tag = 0;
	unsigned long long mlen;
	struct dec	   d;
	size_t		   got, clen;
	int		   rc;

	memset(&d, 0, sizeof(d));
	d.out = out;
	*gzip = *encrypted = 0;
	if ((rc = read_full(in, head, sizeof(head), &got)) != OK)
		return (rc);
	if (got >= HEAD_LEN && memcmp(head, MAGIC, MAGIC_LEN) == 0)
		*encrypted = 1;
	else if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		*gzip = 1;
	else if (got < 16 || memcmp(head, SQLITE_MAGIC, 16) != 0) {
		snprintf(err, errlen,
		    "it is not a backup carebase wrote (neither an SQLite "
		    "database, nor gzip, nor encrypted by carebase)");
		return (ERR_INVALID);
	}
	if (*encrypted) {
		if (key == NULL) {
			snprintf(err, errlen,
			    "it is encrypted: give its key (--key-file=KEYFILE "
			    "or backup_key_file)");
			return (ERR_USAGE);
		}
		if (got < sizeof(head) || head[8] != VERSION ||
		    (head[9] & ~FLAG_GZIP) != 0) {
			snprintf(err, errlen,
			    "its header is not one this carebase reads");
			return (ERR_INVALID);
		}
		*gzip = (head[9] & FLAG_GZIP) != 0;
		if (crypto_secretstream_xchacha20poly1305_init_pull(
			&st, head + HEAD_LEN, key) != 0) {
			snprintf(err, errlen, "its header is damaged");
			return (ERR_INVALID);
		}
	}
	d.gzip = *gzip;
	if (d.gzip && inflateInit2(&d.z, 15 + 16) != Z_OK)
		return (ERR_NOMEM);
	if (!*encrypted) {
		/* What was read to tell the kind is the start of the data. */
		if ((rc = dec_put(&d, head, got)) != OK)
			goto bad;
		do {
			if ((rc = read_full(in, buf, sizeof(buf), &got)) !=
				OK ||
			    (rc = dec_put(&d, buf, got)) != OK)
				goto bad;
		} while (got == sizeof(buf));
		rc = d.gzip && !d.gzip_done ? ERR_MALFORMED : OK;
		goto bad;
	}
	if ((c = malloc(BACKUP_RECORD + ABYTES)) == NULL ||
	    (m = malloc(BACKUP_RECORD)) == NULL) {
		rc = ERR_NOMEM;
		goto out;
	}
	while (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		if ((rc = read_full(in, len, 4, &got)) != OK)
			goto out;
		clen = (size_t)len[0] << 24 | (size_t)len[1] << 16 |
		    (size_t)len[2] << 8 | len[3];
		if (got != 4 || clen < ABYTES ||
		    clen > BACKUP_RECORD + ABYTES) {
			snprintf(err, errlen, "it is cut short or damaged");
			rc = ERR_INVALID;
			goto out;
		}
		if ((rc = read_full(in, c, clen, &got)) != OK)
			goto out;
		if (got != clen ||
		    crypto_secretstream_xchacha20poly1305_pull(
			&st, m, &mlen, &tag, c, clen, head, HEAD_LEN) != 0) {
			snprintf(err, errlen,
			    "it does not open under this key (another key, or "
			    "the file was changed or cut short)");
			rc = ERR_INVALID;
			goto out;
		}
		if ((rc = dec_put(&d, m, (size_t)mlen)) != OK)
			goto bad;
	}
	if ((rc = read_full(in, len, 1, &got)) != OK)
		goto out;
	if (got != 0) {
		snprintf(err, errlen,
		    "it has bytes after its final record (it was changed)");
		rc = ERR_INVALID;
		goto out;
	}
	rc = d.gzip && !d.gzip_done ? ERR_MALFORMED : OK;
bad:
	if (rc == ERR_MALFORMED)
		snprintf(err, errlen,
		    "it is damaged (its gzip data does not "
		    "decompress, or is cut short)");
	else if (rc == ERR_TOO_LARGE)
		snprintf(err, errlen, "it decodes to more than %lld bytes",
		    (long long)out->max);
	rc = rc == ERR_MALFORMED ? ERR_INVALID : rc;
out:
	if (d.gzip)
		inflateEnd(&d.z);
	if (m != NULL) {
		sodium_memzero(m, BACKUP_RECORD);
		free(m);
	}
	free(c);
	sodium_memzero(&st, sizeof(st));
	return (rc);
}

/*
 * The checks of a copy: PRAGMA integrity_check answers "ok", and its
 * migrations against this carebase's. writable: the copy is ours, made
 * one self-contained file (journal_mode DELETE) first.
 */
static int
check_copy(const char *path, int writable, struct backup_info *bi, char *err,
    size_t errlen)
{
	const struct migration *known;
	sqlite3		       *db = NULL;
	sqlite3_stmt	       *st = NULL;
	const char	       *t;
	size_t			nknown, i;
	int			rc = ERR_INVALID, src, matched = 0;

	if (sqlite3_open_v2(path, &db,
		writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY,
		NULL) != SQLITE_OK ||
	    (writable &&
		sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL,
		    NULL) != SQLITE_OK) ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen,
		    "it cannot be read as an SQLite database "
		    "(%s)",
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	if ((t = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(t, "ok") != 0) {
		snprintf(err, errlen, "its integrity check fails: %.200s",
		    t != NULL ? t : "");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	known = migrations_for(STORE_SQLITE, &nknown);
	bi->migrations = bi->unknown = 0;
	bi->newest[0] = '\0';
	src = sqlite3_prepare_v2(db,
	    "SELECT name FROM schema_migrations ORDER BY name", -1, &st, NULL);
	while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t = (const char *)sqlite3_column_text(st, 0)) == NULL)
			continue;
		bi->migrations++;
		snprintf(bi->newest, sizeof(bi->newest), "%s", t);
		for (i = 0; i < nknown && strcmp(known[i].name, t) != 0; i++)
			;
		if (i < nknown)
			matched++;
		else
			bi->unknown++;
		src = SQLITE_OK;
	}
	/* No schema_migrations: a database never migrated, nothing applied. */
	bi->pending = (int)nknown - matched;
	rc = OK;
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return (rc);
}

/* BLAKE2b-256 of the file at fd, read from its start. */
static int
hash_file(int fd, unsigned char out[32])
{
	crypto_generichash_state h;
	unsigned char		 buf[IO_CHUNK];
	size_t			 n;
	int			 rc;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return (ERR_IO);
	crypto_generichash_init(&h, NULL, 0, 32);
	do {
		if ((rc = read_full(fd, buf, sizeof(buf), &n)) != OK)
			return (rc);
		crypto_generichash_update(&h, buf, n);
	} while (n == sizeof(buf));
	crypto_generichash_final(&h, out, 32);
	return (OK);
}

/*
 * A new private file named .BASE.WHAT-XXXXXX beside path (mkstemp),
 * named in temps[slot] (slot -1: none) with SIGINT and SIGTERM held
 * meanwhile: a signal between the two left the file behind.
 */
static int
temp_beside(
    int slot, const char *path, const char *what, char *out, size_t outlen)
{
	sigset_t held, old;
	char	*copy, *copy2;
	int	 fd;

	if ((copy = strdup(path)) == NULL || (copy2 = strdup(path)) == NULL) {
		free(copy);
		return (-1);
	}
	if ((size_t)snprintf(out, outlen, "%s/.%s.%s-XXXXXX", dirname(copy),
		basename(copy2), what) >= outlen)
		fd = -1;
	else {
		sigemptyset(&held);
		sigaddset(&held, SIGINT);
		sigaddset(&held, SIGTERM);
		sigprocmask(SIG_BLOCK, &held, &old);
		if ((fd = mkstemp(out)) != -1 && slot >= 0)
			temps_set(slot, out, "");
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	free(copy);
	free(copy2);
	return (fd);
}

static void
fsync_dir(const char *path)
{
	char *copy;
	int   fd;

	if ((copy = strdup(path)) == NULL)
		return;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* 1 when a and b name one file: the same inode when both exist, else
 * the same path once their folders are resolved. */
static int
same_place(const char *a, const char *b)
{
	struct stat sa, sb;
	char	    ra[PATH_MAX], rb[PATH_MAX], *ca = NULL, *cb = NULL;
	char	   *da = NULL, *db = NULL;
	int	    same = 0;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
	if ((ca = strdup(a)) == NULL || (cb = strdup(b)) == NULL ||
	    (da = strdup(a)) == NULL || (db = strdup(b)) == NULL)
		goto out;
	if (realpath(dirname(da), ra) != NULL &&
	    realpath(dirname(db), rb) != NULL && strcmp(ra, rb) == 0 &&
	    strcmp(basename(ca), basename(cb)) == 0)
		same = 1;
out:
	free(ca);
	free(cb);
	free(da);
	free(db);
	return (same);
}

/* 1 when path is the live database or one of SQLite's files beside it:
 * a backup written there would replace what serve is writing to. */
static int
is_live(struct store *db, const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char			 f[PATH_MAX];
	size_t			 i;

	if (db->memory)
		return (0);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if ((size_t)snprintf(f, sizeof(f), "%s%s", db->target, sfx[i]) <
			sizeof(f) &&
		    same_place(path, f))
			return (1);
	return (0);
}

static void
temps_set(int slot, const char *path, const char *suffix)
{
	if (!temps_armed)
		return;
	temps_used[slot] = 0;
	if (path == NULL || path[0] == '\0')
		return;
	snprintf(temps[slot], sizeof(temps[slot]), "%s%s", path, suffix);
	temps_used[slot] = 1;
}

static void
temps_unlink(int sig)
{
	int i;

	for (i = 0; i < TEMPS; i++)
		if (temps_used[i])
			unlink(temps[i]); /* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

void
backup_clean_on_signal(void)
{
	struct sigaction sa;

	temps_armed = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = temps_unlink;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The finished file from at to path: beside nothing (link), or over what
 * is there with force (rename). ERR_CONFLICT when path exists. */
static int
put_in_place(const char *from, const char *path, int force)
{
	struct stat sb;

	if (force) {
		if (rename(from, path) == -1)
			return (ERR_IO);
	} else if (link(from, path) == 0)
		unlink(from);
	else if (errno == EEXIST)
		return (ERR_CONFLICT);
	else if (lstat(path, &sb) == 0)
		return (ERR_CONFLICT);
	else if (rename(from, path) == -1) /* a file system without links */
		return (ERR_IO);
	fsync_dir(path);
	return (OK);
}

int
backup_write(struct store *db, const char *path, const struct backup_opts *o,
    struct backup_info *bi, char *err, size_t errlen)
{
	crypto_generichash_state h;
	unsigned char		 want[32], got[32];
	struct sink		 out;
	struct stat		 sb;
	char			 plain[PATH_MAX], enc[PATH_MAX];
	int			 pfd = -1, efd = -1, rc, encoded;

	memset(bi, 0, sizeof(*bi));
	plain[0] = enc[0] = '\0';
	if (store_dialect(db) != STORE_SQLITE) {
		snprintf(err, errlen,
		    "backup copies SQLite databases; for PostgreSQL use "
		    "pg_dump (README, Backups)");
		return (ERR_INVALID);
	}
	if (is_live(db, path)) {
		snprintf(err, errlen,
		    "%s is the database itself (or its -wal, -shm or "
		    "-journal file): give a file elsewhere",
		    path);
		return (ERR_USAGE);
	}
	if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen,
		    "%s is a directory: give a file name (in it, or "
		    "elsewhere)",
		    path);
		return (ERR_USAGE);
	}
	if (!o->force && lstat(path, &sb) == 0) {
		snprintf(err, errlen,
		    "%s exists: give another name, or --force to replace it",
		    path);
		return (ERR_CONFLICT);
	}
	/* Encoded, the plain copy is made beside the database, in its
	 * folder, never beside the encrypted file: nothing plain is left
	 * where the backups go. Plain, it is the backup, put in place. */
	encoded = o->compress || o->key != NULL;
	if ((pfd = temp_beside(TEMP_COPY,
		 encoded && !db->memory ? db->target : path, "copy", plain,
		 sizeof(plain))) == -1) {
		snprintf(err, errlen, "cannot write beside %s: %s",
		    encoded && !db->memory ? db->target : path,
		    strerror(errno));
		return (ERR_IO);
	}
	temps_set(TEMP_COPY_TMP, plain, ".tmp");
	temps_set(TEMP_COPY_JOUR, plain, "-journal");
	temps_set(TEMP_COPY_TJOUR, plain, ".tmp-journal");
	close(pfd);
	pfd = -1;
	if ((rc = store_backup_watch(db, plain, o->progress, o->arg)) != OK) {
		if (rc == ERR_IO)
			snprintf(err, errlen, "the copy failed: %s",
			    strerror(errno));
		else
			snprintf(err, errlen,
			    "the copy failed (%s; the log says more)",
			    err_code(rc));
		goto out;
	}
	if ((rc = check_copy(plain, 1, bi, err, errlen)) != OK)
		goto out;
	if (bi->migrations == 0) {
		snprintf(err, errlen,
		    "nothing to back up: the database holds no carebase schema "
		    "(run carebase migrate)");
		rc = ERR_INVALID;
		goto out;
	}
	if ((pfd = open(plain, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(pfd, &sb) == -1) {
		rc = ERR_IO;
		snprintf(err, errlen, "cannot read the copy back: %s",
		    strerror(errno));
		goto out;
	}
	bi->db_bytes = (int64_t)sb.st_size;
	bi->compressed = o->compress;
	bi->encrypted = o->key != NULL;
	if (o->compress || o->key != NULL) {
		/* Encode, hashing the plain bytes on the way ... */
		if ((efd = temp_beside(
			 TEMP_ENC, path, "enc", enc, sizeof(enc))) == -1) {
			rc = ERR_IO;
			snprintf(err, errlen, "cannot write beside %s: %s",
			    path, strerror(errno));
			goto out;
		}
		memset(&out, 0, sizeof(out));
		out.fd = efd;
		if ((rc = encode(pfd, &out, o->compress, o->key)) != OK ||
		    fsync(efd) == -1) {
			rc = rc == OK ? ERR_IO : rc;
			snprintf(err, errlen, "cannot write %s: %s", enc,
			    strerror(errno));
			goto out;
		}
		/* ... and read it back: it must decode to the copy checked. */
		if ((rc = hash_file(pfd, want)) != OK) {
			snprintf(err, errlen, "cannot read the copy back");
			goto out;
		}
		memset(&out, 0, sizeof(out));
		out.fd = -1;
		out.hash = &h;
		crypto_generichash_init(&h, NULL, 0, sizeof(got));
		if (lseek(efd, 0, SEEK_SET) == -1 ||
		    (rc = decode(efd, &out, o->key, &bi->compressed,
			 &bi->encrypted, err, errlen)) != OK) {
			rc = rc == OK ? ERR_IO : rc;
			goto out;
		}
		crypto_generichash_final(&h, got, sizeof(got));
		if (sodium_memcmp(want, got, sizeof(want)) != 0) {
			snprintf(err, errlen,
			    "what was written does not read "
			    "back as the copy checked");
			rc = ERR_IO;
			goto out;
		}
		close(efd);
		efd = -1;
		unlink(plain);
		plain[0] = '\0';
	} else if (fsync(pfd) == -1) {
		rc = ERR_IO;
		goto out;
	}
	switch ((rc = put_in_place(enc[0] ? enc : plain, path, o->force))) {
	case OK:
		enc[0] = plain[0] = '\0';
		break;
	case ERR_CONFLICT:
		snprintf(err, errlen,
		    "%s exists: give another name, or --force to replace it",
		    path);
		goto out;
	default:
		snprintf(err, errlen, "cannot put the backup at %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (stat(path, &sb) == 0)
		bi->file_bytes = (int64_t)sb.st_size;
out:
	if (pfd != -1)
		close(pfd);
	if (efd != -1)
		close(efd);
	if (enc[0] != '\0')
		unlink(enc);
	if (plain[0] != '\0') {
		unlink(plain);
		if ((size_t)snprintf(enc, sizeof(enc), "%s-journal", plain) <
		    sizeof(enc))
			unlink(enc);
	}
	for (pfd = 0; pfd < TEMPS; pfd++)
		temps_set(pfd, NULL, NULL);
	return (rc);
}

int
backup_restore(struct store *db, const char *path, const unsigned char *key,
    int force, struct backup_info *bi, char *err, size_t errlen)
{
	struct sink out;
	struct stat sb;
	char	    plain[PATH_MAX];
	int	    in = -1, pfd = -1, rc;

	memset(bi, 0, sizeof(*bi));
	plain[0] = '\0';
	if (store_dialect(db) != STORE_SQLITE || db->memory) {
		snprintf(err, errlen,
		    "restore loads SQLite backups; for PostgreSQL use "
		    "pg_restore, then `carebase erasures replay` (README, "
		    "Backups)");
		return (ERR_INVALID);
	}
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(in, &sb) == -1) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	bi->file_bytes = (int64_t)sb.st_size;
	/* Decoded beside the database, where it is going. */
	if ((pfd = temp_beside(
		 -1, db->target, "restore", plain, sizeof(plain))) == -1) {
		snprintf(err, errlen, "cannot write beside the database: %s",
		    strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	memset(&out, 0, sizeof(out));
	out.fd = pfd;
	out.max = PLAIN_MAX;
	if ((rc = decode(in, &out, key, &bi->compressed, &bi->encrypted, err,
		 errlen)) != OK)
		goto out;
	bi->db_bytes = out.bytes;
	if (fsync(pfd) == -1) {
		snprintf(err, errlen, "cannot write the decoded copy: %s",
		    strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	close(pfd);
	pfd = -1;
	if ((rc = check_copy(plain, 1, bi, err, errlen)) != OK)
		goto out;
	if (bi->unknown > 0) {
		snprintf(err, errlen,
		    "it holds %d migration%s this carebase does not know (the "
		    "newest %s): it was made by a newer carebase; restore it "
		    "with that one",
		    bi->unknown, bi->unknown == 1 ? "" : "s", bi->newest);
		rc = ERR_INVALID;
		goto out;
	}
	if (bi->migrations == 0) {
		snprintf(err, errlen,
		    "it holds no carebase schema (no applied migration)");
		rc = ERR_INVALID;
		goto out;
	}
	switch ((rc = store_restore(db, plain, force))) {
	case OK:
		break;
	case ERR_CONFLICT:
		snprintf(err, errlen,
		    "the database holds tables already: restore into an empty "
		    "one, or over it with --force (stop every carebase process "
		    "first)");
		break;
	default:
		snprintf(err, errlen,
		    "loading it failed (%s; the log says more)", err_code(rc));
		break;
	}
out:
	if (in != -1)
		close(in);
	if (pfd != -1)
		close(pfd);
	if (plain[0] != '\0')
		unlink(plain);
	return (rc);
}

int
backup_encrypted(const char *path)
{
	char   head[MAGIC_LEN];
	size_t got = 0;
	int    fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	if (read_full(fd, head, sizeof(head), &got) != OK)
		got = 0;
	close(fd);
	return (got == MAGIC_LEN && memcmp(head, MAGIC, MAGIC_LEN) == 0);
}

int
backup_key_load(const char *path, unsigned char key[BACKUP_KEY_LEN], char *err,
    size_t errlen)
{
	char	    hex[2 * BACKUP_KEY_LEN + 3];
	struct stat sb;
	size_t	    got, len;
	int	    fd, rc = ERR_CONFIG;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "backup key: cannot read %s: %s%s", path,
		    strerror(errno),
		    errno == ENOENT ? " (make one: umask 077; od -An -tx1 "
				      "-N32 /dev/urandom | tr -d ' \\n' > "
				      "KEYFILE; keep it apart from the "
				      "backups)"
				    : "");
		return (ERR_CONFIG);
	}
	if (fstat(fd, &sb) == -1 || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen,
		    "backup key: %s must be readable by its owner only (chmod "
		    "600)",
		    path);
		goto out;
	}
	if (read_full(fd, hex, sizeof(hex) - 1, &got) != OK)
		got = 0;
	hex[got] = '\0';
	while (got > 0 && (hex[got - 1] == '\n' || hex[got - 1] == '\r'))
		hex[--got] = '\0';
	if (got != 2 * BACKUP_KEY_LEN ||
	    hex_decode(hex, key, BACKUP_KEY_LEN, &len) != 0 ||
	    len != BACKUP_KEY_LEN) {
		snprintf(err, errlen,
		    "backup key: %s must hold 64 hex characters", path);
		goto out;
	}
	rc = OK;
out:
	sodium_memzero(hex, sizeof(hex));
	if (rc != OK)
		sodium_memzero(key, BACKUP_KEY_LEN);
	close(fd);
	return (rc);
}
