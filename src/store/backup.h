/*
 * Backups of the SQLite database: `carebase backup`, `carebase restore`
 * and the scheduled backup job (backup_cron, backup_dir, backup_keep).
 * PostgreSQL's are pg_dump's and pg_restore's (README, Backups).
 *
 * A backup is one consistent snapshot of the database (the online backup
 * API under one read transaction, while others keep writing), checked
 * before it is kept: PRAGMA integrity_check answers "ok", and the
 * migrations it holds are read (schema_migrations). It is written as
 *
 *	plain		an SQLite database file (journal_mode DELETE: one file)
 *	gzip		that file gzip-compressed (`gunzip` gives it back)
 *	encrypted	"CBBACKUP", a version byte, a flags byte (1: gzip
 *			inside), two zero bytes, a libsodium secretstream
 *			(XChaCha20-Poly1305) header, then records: a 4-byte
 *			big-endian length and that many bytes of ciphertext,
 *			of at most BACKUP_RECORD plain bytes each, the last
 *			one tagged FINAL; the 12 bytes before the header are
 *			the additional data of every record
 *
 * under a 32-byte key given separately (a file of 64 hex characters, mode
 * 0600: never the master key, so that the backup and the key that opens
 * its personal data are not one secret). What was written is read back
 * and compared (BLAKE2b) with the copy that was checked, then put in
 * place: beside an existing file only with force (link(2): no race).
 * Every file is 0600 (main's umask).
 */
#ifndef STORE_BACKUP_H
#define STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct job;

#define BACKUP_KEY_LEN 32
#define BACKUP_RECORD  65536 /* plain bytes in an encrypted record, most */

struct backup_opts {
	int		     compress;
	const unsigned char *key;   /* BACKUP_KEY_LEN bytes; NULL = plain */
	int		     force; /* replace the file when it exists */
	/* pages left, pages in all, arg; NULL = none */
	void (*progress)(int left, int total, void *arg);
	void *arg;
};

struct backup_info {
	int64_t db_bytes;   /* the database copied */
	int64_t file_bytes; /* the file written or read */
	int	compressed, encrypted;
	int	migrations;  /* applied in the copy */
	int	pending;     /* this carebase's migrations the copy lacks */
	int	unknown;     /* the copy's migrations this carebase lacks */
	char	newest[128]; /* newest migration in the copy; "" = none */
};

/*
 * Write a checked backup of the database to path. ERR_CONFLICT when path
 * exists and not opts->force; ERR_INVALID on PostgreSQL; other failures
 * as they come. On failure err says why in one line and nothing is left
 * at path (or what was there stays).
 */
int backup_write(struct store *, const char *path, const struct backup_opts *,
    struct backup_info *, char *err, size_t errlen);

/*
 * Read the backup at path (plain, gzip or encrypted under key, told by
 * its first bytes), check it as backup_write does, refusing one that holds
 * a migration this carebase does not know, and load it into the database
 * (store_restore: ERR_CONFLICT when it holds tables and force is 0). A
 * decoded copy is made beside the database and removed after.
 */
int backup_restore(struct store *, const char *path, const unsigned char *key,
    int force, struct backup_info *, char *err, size_t errlen);

/* A backup key: the file's 64 hex characters, refused unless 0600. */
/* From now on SIGINT and SIGTERM unlink the temporary files of the
 * backup under way, then end the process as the signal would (for the
 * backup command; serve stops on them its own way). */
void backup_clean_on_signal(void);

/* 1 when the file at path is a backup carebase encrypted (its header
 * says so); 0 otherwise, or when it cannot be read. */
int backup_encrypted(const char *path);

int backup_key_load(const char *path, unsigned char key[BACKUP_KEY_LEN],
    char *err, size_t errlen);

/*
 * The scheduled backup: with backup_cron set, register its schedule
 * (job "backup.run"); refused on PostgreSQL (pg_dump's work) or for a
 * bad cron expression, saying so in err. OK and nothing when unset.
 */
int backup_schedule(struct store *, char *err, size_t errlen);
/* Job "backup.run": a backup into backup_dir, then the oldest past
 * backup_keep deleted; each run logged (event=backup_done / _failed). */
int backup_job(struct store *, const struct job *, char *err);

struct backup_stats {
	uint64_t runs;	     /* scheduled runs in this process */
	uint64_t failures;   /* of them, failed */
	int64_t	 last_ok_ms; /* newest backup in backup_dir; -1 = none */
};
void backup_stats(struct backup_stats *);

#endif
