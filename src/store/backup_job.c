/*
 * The scheduled backup (see backup.h): backup_cron registers the
 * "backup.run" job's schedule; each run writes a backup into backup_dir
 * with backup_write, deletes the oldest past backup_keep, logs and counts
 * itself for /metrics.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backup.h"
#include "store/jobs.h"
#include "store/store.h"

#define BACKUP_PREFIX "carebase-"

static _Atomic uint64_t backup_runs, backup_failures;
static _Atomic int64_t	backup_last_ok_ms = -1; /* this process's */

static int mkdirs(const char *);
static int dir_usable(const char *, char *, size_t);
static int is_backup_name(const char *);
static int name_cmp(const void *, const void *);
static int prune(const char *, int64_t, int *);

/* mkdir -p, each folder made 0700. */
static int
mkdirs(const char *dir)
{
	char *d, *p;
	int   rc = OK;

	if ((d = strdup(dir)) == NULL)
		return (ERR_NOMEM);
	for (p = d + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(d, 0700) == -1 && errno != EEXIST) {
			rc = ERR_IO;
			break;
		}
		*p = '/';
	}
	if (rc == OK && mkdir(d, 0700) == -1 && errno != EEXIST)
		rc = ERR_IO;
	free(d);
	return (rc);
}

/* backup_dir made when missing (0700), a folder carebase can write in:
 * a file made there and removed. */
static int
dir_usable(const char *dir, char *err, size_t errlen)
{
	struct stat sb;
	char	    probe[PATH_MAX];
	int	    fd;

	if (mkdirs(dir) != OK || stat(dir, &sb) == -1) {
		snprintf(err, errlen, "backup_dir %.256s cannot be made: %s",
		    dir, strerror(errno));
		return (ERR_CONFIG);
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(
		    err, errlen, "backup_dir %.256s is not a directory", dir);
		return (ERR_CONFIG);
	}
	if ((size_t)snprintf(probe, sizeof(probe), "%s/.carebase-probe-XXXXXX",
		dir) >= sizeof(probe) ||
	    (fd = mkstemp(probe)) == -1) {
		snprintf(err, errlen,
		    "backup_dir %.256s cannot be written in: %s", dir,
		    strerror(errno));
		return (ERR_CONFIG);
	}
	close(fd);
	unlink(probe);
	return (OK);
}

static struct job_schedule backup_sched = { "backup", NULL, "backup.run",
	NULL };

int
backup_schedule(struct store *db, char *err, size_t errlen)
{
	struct cron c;
	int	    rc;

	if (config.backup_cron[0] == '\0')
		return (OK);
	if (store_dialect(db) != STORE_SQLITE) {
		snprintf(err, errlen,
		    "backup_cron schedules SQLite backups; on PostgreSQL leave "
		    "it empty and schedule pg_dump (README, Backups)");
		return (ERR_CONFIG);
	}
	if (cron_parse(config.backup_cron, &c) != OK ||
	    cron_next(&c, time_now_ms()) < 0) {
		snprintf(err, errlen,
		    "backup_cron \"%.64s\" is not a schedule: five fields, "
		    "minute hour day-of-month month day-of-week (UTC), e.g. "
		    "\"30 2 * * *\"",
		    config.backup_cron);
		return (ERR_CONFIG);
	}
	/* What the first run would find wrong, found now. */
	if ((rc = dir_usable(config.backup_dir, err, errlen)) != OK)
		return (rc);
	if (config.backup_key_file[0] != '\0') {
		unsigned char key[BACKUP_KEY_LEN];

		rc = backup_key_load(config.backup_key_file, key, err, errlen);
		sodium_memzero(key, sizeof(key));
		if (rc != OK)
			return (ERR_CONFIG);
	}
	backup_sched.cron = config.backup_cron;
	if ((rc = jobs_schedule_register(&backup_sched)) != OK &&
	    rc != ERR_CONFLICT) {
		snprintf(err, errlen, "backup_cron: cannot schedule it (%s)",
		    err_code(rc));
		return (rc);
	}
	return (OK);
}

/*
 * carebase-YYYYMMDDTHHMMSSmmmZ.db, .db.gz or .db.enc: what the job
 * writes, and nothing else (a copy made by hand, the database itself)
 * is pruned.
 */
static int
is_backup_name(const char *n)
{
	const char *p;
	size_t	    i;

	if (strncmp(n, BACKUP_PREFIX, strlen(BACKUP_PREFIX)) != 0)
		return (0);
	p = n + strlen(BACKUP_PREFIX);
	for (i = 0; i < 19; i++) /* YYYYMMDD T HHMMSSmmm Z */
		if (i == 8	  ? p[i] != 'T'
			: i == 18 ? p[i] != 'Z'
				  : (p[i] < '0' || p[i] > '9'))
			return (0);
	p += 19;
	return (strcmp(p, ".db") == 0 || strcmp(p, ".db.gz") == 0 ||
	    strcmp(p, ".db.enc") == 0);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Delete the oldest backups in dir past keep (names sort by time). */
static int
prune(const char *dir, int64_t keep, int *deleted)
{
	struct dirent *de;
	DIR	      *d;
	char	     **names = NULL, **nn, p[PATH_MAX];
	size_t	       n = 0, i;
	int	       rc = OK;

	*deleted = 0;
	if ((d = opendir(dir)) == NULL)
		return (ERR_IO);
	while ((de = readdir(d)) != NULL) {
		if (!is_backup_name(de->d_name))
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*nn))) == NULL ||
		    (nn[n] = strdup(de->d_name)) == NULL) {
			if (nn != NULL)
				names = nn;
			rc = ERR_NOMEM;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (rc == OK && n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; rc == OK && (int64_t)i + keep < (int64_t)n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p) == 0)
			(*deleted)++;
		else
			log_warn("event=backup_prune_failed file=%s errno=%d",
			    p, errno);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return (rc);
}

int
backup_job(struct store *db, const struct job *j, char *err)
{
	struct backup_opts o;
	struct backup_info bi;
	unsigned char	   key[BACKUP_KEY_LEN];
	struct tm	   tm;
	time_t		   secs;
	char		   path[PATH_MAX], why[512];
	int64_t		   now = time_now_ms(), t0 = time_mono_ns();
	int		   rc, pruned = 0;

	/* A run is counted once, whatever its retries. */
	if (j->attempt <= 1)
		atomic_fetch_add(&backup_runs, 1);
	memset(&o, 0, sizeof(o));
	o.compress = config.backup_compress != 0;
	why[0] = '\0';
	if (store_dialect(db) != STORE_SQLITE) {
		snprintf(why, sizeof(why),
		    "backups of PostgreSQL are pg_dump's (README, Backups)");
		*j->give_up = 1;
		rc = ERR_INVALID;
		goto out;
	}
	if (config.backup_key_file[0] != '\0') {
		if ((rc = backup_key_load(config.backup_key_file, key, why,
			 sizeof(why))) != OK) {
			*j->give_up = 1;
			goto out;
		}
		o.key = key;
	}
	if (mkdirs(config.backup_dir) != OK) {
		snprintf(why, sizeof(why), "cannot make backup_dir %s: %s",
		    config.backup_dir, strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	secs = (time_t)(now / 1000);
	gmtime_r(&secs, &tm);
	snprintf(path, sizeof(path),
	    "%s/" BACKUP_PREFIX "%04d%02d%02dT%02d%02d%02d%03dZ.db%s",
	    config.backup_dir, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000),
	    o.key != NULL    ? ".enc"
		: o.compress ? ".gz"
			     : "");
	if ((rc = backup_write(db, path, &o, &bi, why, sizeof(why))) != OK)
		goto out;
	atomic_store(&backup_last_ok_ms, time_now_ms());
	if (prune(config.backup_dir, config.backup_keep, &pruned) != OK)
		log_warn("event=backup_prune_failed dir=%s", config.backup_dir);
	log_info("event=backup_done file=%s bytes=%lld db_bytes=%lld "
		 "migrations=%d newest=%s pending=%d pruned=%d ms=%lld",
	    path, (long long)bi.file_bytes, (long long)bi.db_bytes,
	    bi.migrations, bi.newest[0] ? bi.newest : "-", bi.pending, pruned,
	    (long long)((time_mono_ns() - t0) / 1000000));
out:
	sodium_memzero(key, sizeof(key));
	if (rc != OK) {
		/* Failed once it is not tried again: given up, or its last
		 * attempt. */
		if (*j->give_up || j->attempt >= j->max_attempts)
			atomic_fetch_add(&backup_failures, 1);
		snprintf(err, JOB_ERR_LEN, "backup failed: %.480s", why);
		log_error("event=backup_failed dir=%s code=%s msg=\"%s\"",
		    config.backup_dir, err_code(rc), why);
	}
	return (rc);
}

void
backup_stats(struct backup_stats *bs)
{
	struct dirent *de;
	struct stat    sb;
	DIR	      *d;
	char	       p[PATH_MAX];

	bs->runs = atomic_load(&backup_runs);
	bs->failures = atomic_load(&backup_failures);
	/* This process's last success, kept when backup_dir cannot be
	 * read; else the newest backup on disk, whichever process wrote
	 * it: a file there was checked before it was put there. */
	bs->last_ok_ms = atomic_load(&backup_last_ok_ms);
	/* The newest backup on disk, whichever process wrote it: a file
	 * there was checked before it was put there. */
	if (config.backup_dir == NULL || config.backup_cron == NULL ||
	    config.backup_cron[0] == '\0' ||
	    (d = opendir(config.backup_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!is_backup_name(de->d_name))
			continue;
		snprintf(p, sizeof(p), "%s/%s", config.backup_dir, de->d_name);
		if (stat(p, &sb) == 0 &&
		    (int64_t)sb.st_mtime * 1000 > bs->last_ok_ms)
			bs->last_ok_ms = (int64_t)sb.st_mtime * 1000;
	}
	closedir(d);
}
