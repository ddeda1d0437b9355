/*
 * Unit tests for src/biometrics/blocks.c on SQLite (a temp folder): small
 * batches that continue a segment fill its last block up to
 * CODEC_BLOCK_DEFAULT; a batch that does not continue it starts a new
 * segment; irregular channels; times read back equal points_time_us;
 * overlapping blocks read back in time order; new channels counted;
 * batch states; discarding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "biometrics/biometrics_int.h"
#include "biometrics/codec.h"
#include "biometrics/points.h"
#include "core/err.h"
#include "store/store.h"
#include "testdb.h"

#define T0  1772359200000LL /* 2026-03-01T10:00:00Z */
#define RID "01a229c5-0000-7000-8000-000000000001"

static const char schema[] =
    "CREATE TABLE recording_blocks (recording_id TEXT NOT NULL, channel "
    "TEXT NOT NULL, seq BIGINT NOT NULL, t0_ms BIGINT NOT NULL, rate_mhz "
    "BIGINT NOT NULL, first_index BIGINT NOT NULL, t_first_ms BIGINT NOT "
    "NULL, t_last_ms BIGINT NOT NULL, count INTEGER NOT NULL, v_min INTEGER "
    "NOT NULL, v_max INTEGER NOT NULL, v_sum BIGINT NOT NULL, codec INTEGER "
    "NOT NULL, payload BLOB NOT NULL, timestamps BLOB, PRIMARY KEY "
    "(recording_id, channel, seq));"
    "CREATE TABLE recording_batches (recording_id TEXT NOT NULL, seq BIGINT "
    "NOT NULL, digest BLOB NOT NULL, points BIGINT NOT NULL, received_at "
    "BIGINT NOT NULL, PRIMARY KEY (recording_id, seq));";

struct fx {
	char	      dir[64];
	struct store *db;
};

static int
setup(void **state)
{
	struct store_opts o = { 1, 2, 5000, 1 };
	struct fx	 *fx = calloc(1, sizeof(*fx));
	const char	 *err;
	char		  url[128];

	if (fx == NULL)
		return (-1);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cb_blocks_XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	snprintf(url, sizeof(url), "sqlite:///%s/t.db", fx->dir);
	if (store_open(url, &o, &fx->db, &err) != OK ||
	    db_exec(fx->db, schema) != OK)
		return (-1);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char	   path[128];

	store_close(fx->db);
	snprintf(path, sizeof(path), "%s/t.db", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", fx->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

/* Append n samples (value = base + k) of a regular channel. */
static void
append_regular(struct store *db, const char *name, int64_t t0, uint32_t rate,
    int32_t base, size_t n)
{
	struct points_channel ch;
	struct tx	     *tx;
	size_t		      k;

	memset(&ch, 0, sizeof(ch));
	snprintf(ch.name, sizeof(ch.name), "%s", name);
	ch.t0_ms = t0;
	ch.rate_mhz = rate;
	ch.count = n;
	ch.samples = calloc(n, sizeof(*ch.samples));
	assert_non_null(ch.samples);
	for (k = 0; k < n; k++)
		ch.samples[k] = base + (int32_t)k;
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(blocks_append(tx, RID, &ch), OK);
	assert_int_equal(store_tx_commit(tx), OK);
	free(ch.samples);
}

static void
append_irregular_to(struct store *db, const char *name, const int64_t *ts,
    const int32_t *v, size_t n)
{
	struct points_channel ch;
	struct tx	     *tx;

	memset(&ch, 0, sizeof(ch));
	snprintf(ch.name, sizeof(ch.name), "%s", name);
	ch.count = n;
	ch.samples = (int32_t *)(uintptr_t)v;
	ch.ts_ms = (int64_t *)(uintptr_t)ts;
	assert_int_equal(store_tx_begin(db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(blocks_append(tx, RID, &ch), OK);
	assert_int_equal(store_tx_commit(tx), OK);
}

static void
append_irregular(
    struct store *db, const int64_t *ts, const int32_t *v, size_t n)
{
	append_irregular_to(db, "rr", ts, v, n);
}

static void
read_all(struct store *db, const char *name, int64_t from, int64_t to,
    struct series *s)
{
	struct tx *tx;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_tx_begin(db, STORE_TX_READ, &tx), OK);
	assert_int_equal(blocks_read(tx, RID, name, from, to, 1 << 20, s), OK);
	store_tx_rollback(tx);
}

static void
floor_div_rounds_down(void **state)
{
	(void)state;
	assert_int_equal(blocks_floor_div(7, 2), 3);
	assert_int_equal(blocks_floor_div(-7, 2), -4);
	assert_int_equal(blocks_floor_div(-8, 2), -4);
	assert_int_equal(blocks_floor_div(0, 1000), 0);
	assert_int_equal(blocks_floor_div(-1, 1000), -1);
}

static void
small_batches_fill_the_last_block(void **state)
{
	struct fx    *fx = *state;
	struct series s;
	int64_t	      t1, t2;
	size_t	      k;

	append_regular(fx->db, "ecg", T0, 360000, 0, 1000);
	/* The next batches start where the segment goes on, rounded to ms. */
	t1 = (points_time_us(T0, 360000, 1000) + 500) / 1000;
	append_regular(fx->db, "ecg", t1, 360000, 1000, 100);
	t2 = (points_time_us(T0, 360000, 1100) + 500) / 1000;
	append_regular(fx->db, "ecg", t2, 360000, 1100, 2000);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks"),
	    4);
	assert_int_equal(db_count(fx->db,
			     "SELECT sum(count = 1024) FROM "
			     "recording_blocks"),
	    3);
	assert_int_equal(db_count(fx->db,
			     "SELECT count FROM recording_blocks "
			     "WHERE seq = 3"),
	    3100 - 3 * 1024);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks WHERE t0_ms <> 1772359200000"),
	    0);
	assert_int_equal(db_count(fx->db,
			     "SELECT first_index FROM "
			     "recording_blocks WHERE seq = 2"),
	    2048);
	assert_int_equal(db_count(fx->db,
			     "SELECT v_max FROM recording_blocks "
			     "WHERE seq = 1"),
	    2047);
	assert_int_equal(db_count(fx->db,
			     "SELECT v_sum FROM recording_blocks "
			     "WHERE seq = 0"),
	    1023 * 1024 / 2);
	read_all(fx->db, "ecg", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 3100);
	for (k = 0; k < s.n; k++) {
		assert_int_equal(s.v[k], (int32_t)k);
		assert_int_equal(s.t_us[k], points_time_us(T0, 360000, k));
	}
	series_free(&s);
	/* A window: exactly the samples whose time lies in it. */
	read_all(fx->db, "ecg", T0 + 1000, T0 + 2001, &s);
	for (k = 0; k < s.n; k++)
		assert_true(s.t_us[k] >= (T0 + 1000) * 1000 &&
		    s.t_us[k] < (T0 + 2001) * 1000);
	assert_int_equal(s.v[0], 360);
	assert_int_equal(s.n, 360 + 1);
	series_free(&s);
}

static void
a_gap_starts_a_new_segment(void **state)
{
	struct fx    *fx = *state;
	struct series s;

	append_regular(fx->db, "eeg", T0, 256000, 0, 500);
	/* 3 ms late at 256 Hz (half a period is 1.95 ms): a new segment. */
	append_regular(fx->db, "eeg",
	    (points_time_us(T0, 256000, 500) / 1000) + 3, 256000, 500, 10);
	/* Another rate: a new segment too. */
	append_regular(fx->db, "eeg", T0 + 100000, 128000, 510, 10);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks WHERE channel = 'eeg'"),
	    3);
	assert_int_equal(
	    db_count(fx->db,
		"SELECT first_index FROM "
		"recording_blocks WHERE channel = 'eeg' AND seq = 1"),
	    0);
	assert_int_equal(
	    db_count(fx->db,
		"SELECT rate_mhz FROM "
		"recording_blocks WHERE channel = 'eeg' AND seq = 2"),
	    128000);
	read_all(fx->db, "eeg", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 520);
	assert_int_equal(s.v[519], 519);
	assert_int_equal(
	    s.t_us[500], (points_time_us(T0, 256000, 500) / 1000 + 3) * 1000);
	series_free(&s);
}

static void
odd_rates_and_late_indexes_give_exact_times(void **state)
{
	struct fx    *fx = *state;
	struct series s;
	size_t	      k;

	/* 333.333 Hz: a period of 3000.003 us, never a whole number. */
	append_regular(fx->db, "odd", T0, 333333, -50, 5000);
	read_all(fx->db, "odd", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 5000);
	for (k = 0; k < s.n; k++)
		assert_int_equal(s.t_us[k], points_time_us(T0, 333333, k));
	series_free(&s);
}

static void
irregular_channels_join_while_times_go_on(void **state)
{
	struct fx    *fx = *state;
	struct series s;
	int64_t	      ts[1500];
	int32_t	      v[1500];
	size_t	      k;

	for (k = 0; k < 1500; k++) {
		ts[k] = T0 + 800 * (int64_t)k;
		v[k] = 700 + (int32_t)(k % 300);
	}
	for (k = 0; k < 10; k++)
		append_irregular(fx->db, ts + k, v + k, 1);
	append_irregular(fx->db, ts + 10, v + 10, 1490);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks WHERE channel = 'rr'"),
	    2);
	assert_int_equal(db_count(fx->db,
			     "SELECT count FROM recording_blocks "
			     "WHERE channel = 'rr' AND seq = 0"),
	    1024);
	/* Times before the last block's: a block of its own. */
	append_irregular(fx->db, ts, v, 5);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks WHERE channel = 'rr'"),
	    3);
	read_all(fx->db, "rr", T0, T0 + 800 * 1500, &s);
	assert_int_equal(s.n, 1505);
	series_free(&s);
	read_all(fx->db, "rr", T0 + 800 * 20, T0 + 800 * 1500, &s);
	assert_int_equal(s.n, 1480);
	for (k = 0; k < s.n; k++) {
		assert_int_equal(s.t_us[k], ts[k + 20] * 1000);
		assert_int_equal(s.v[k], v[k + 20]);
	}
	series_free(&s);
}

static void
overlapping_blocks_read_back_in_time_order(void **state)
{
	struct fx    *fx = *state;
	struct series s;
	int64_t	      ts1[3] = { T0 + 10, T0 + 20, T0 + 30 };
	int64_t	      ts2[3] = { T0 + 15, T0 + 20, T0 + 30 };
	int64_t	      ts3[2] = { T0 + 20, T0 + 30 };
	int64_t	      ts4[2] = { T0 + 10, T0 + 20 };
	int32_t	      v1[3] = { 1, 2, 3 }, v2[3] = { 4, 5, 6 };
	int32_t	      v3[2] = { 7, 8 }, v4[2] = { 9, 10 };
	int32_t	      want[6] = { 1, 4, 2, 5, 3, 6 };
	size_t	      k;

	/* Two 1 kHz segments over the same half second: the samples come
	 * back by time, and at each equal time the earlier block's first. */
	append_regular(fx->db, "ecg", T0, 1000000, 0, 1000);
	append_regular(fx->db, "ecg", T0 + 500, 1000000, 5000, 1000);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks WHERE channel = 'ecg'"),
	    2);
	read_all(fx->db, "ecg", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 2000);
	for (k = 0; k < 500; k++) {
		assert_int_equal(s.v[k], (int32_t)k);
		assert_int_equal(s.t_us[k], (T0 + (int64_t)k) * 1000);
	}
	for (k = 0; k < 500; k++) {
		assert_int_equal(s.v[500 + 2 * k], (int32_t)(500 + k));
		assert_int_equal(s.v[501 + 2 * k], (int32_t)(5000 + k));
		assert_int_equal(s.t_us[500 + 2 * k], s.t_us[501 + 2 * k]);
	}
	for (k = 1500; k < 2000; k++)
		assert_int_equal(s.v[k], (int32_t)(5000 + k - 1000));
	for (k = 1; k < s.n; k++)
		assert_true(s.t_us[k - 1] <= s.t_us[k]);
	series_free(&s);

	/* Irregular: a later batch with earlier times. */
	append_irregular(fx->db, ts1, v1, 3);
	append_irregular(fx->db, ts2, v2, 3);
	read_all(fx->db, "rr", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 6);
	for (k = 0; k < 6; k++)
		assert_int_equal(s.v[k], want[k]);
	series_free(&s);
	read_all(fx->db, "rr", T0 + 15, T0 + 30, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0], 4);
	assert_int_equal(s.v[1], 2);
	assert_int_equal(s.v[2], 5);
	series_free(&s);

	/* In time order already, but a tie across blocks in the wrong seq
	 * order (the later block starts first): the earlier block's first. */
	append_irregular_to(fx->db, "ev", ts3, v3, 2);
	append_irregular_to(fx->db, "ev", ts4, v4, 2);
	read_all(fx->db, "ev", 0, INT64_MAX / 1000, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.v[0], 9);
	assert_int_equal(s.v[1], 7);
	assert_int_equal(s.v[2], 10);
	assert_int_equal(s.v[3], 8);
	series_free(&s);
}

static void
new_channels_of_a_batch_are_counted(void **state)
{
	struct fx	   *fx = *state;
	struct points_batch b;
	struct tx	   *tx;
	size_t		    fresh, held;

	append_regular(fx->db, "a", T0, 1000000, 0, 10);
	append_regular(fx->db, "b", T0, 1000000, 0, 10);
	memset(&b, 0, sizeof(b));
	b.nchannels = 3;
	snprintf(b.ch[0].name, sizeof(b.ch[0].name), "a");
	snprintf(b.ch[1].name, sizeof(b.ch[1].name), "c");
	snprintf(b.ch[2].name, sizeof(b.ch[2].name), "d");
	assert_int_equal(store_tx_begin(fx->db, STORE_TX_READ, &tx), OK);
	assert_int_equal(blocks_channels_fresh(tx, RID, &b, &fresh, &held), OK);
	assert_int_equal(fresh, 2);
	assert_int_equal(held, 2);
	snprintf(b.ch[1].name, sizeof(b.ch[1].name), "b");
	b.nchannels = 2;
	assert_int_equal(blocks_channels_fresh(tx, RID, &b, &fresh, &held), OK);
	assert_int_equal(fresh, 0);
	assert_int_equal(held, 0);
	store_tx_rollback(tx);
}

static void
batches_are_new_duplicate_or_conflicting(void **state)
{
	struct fx	*fx = *state;
	struct tx	*tx;
	enum batch_state st;
	uint8_t		 d1[BLOCKS_DIGEST_LEN], d2[BLOCKS_DIGEST_LEN];

	memset(d1, 1, sizeof(d1));
	memset(d2, 2, sizeof(d2));
	assert_int_equal(store_tx_begin(fx->db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(blocks_batch_state(tx, RID, 5, d1, &st), OK);
	assert_int_equal(st, BATCH_NEW);
	assert_int_equal(blocks_batch_add(tx, RID, 5, d1, 10, 0), OK);
	assert_int_equal(blocks_batch_state(tx, RID, 5, d1, &st), OK);
	assert_int_equal(st, BATCH_DUPLICATE);
	assert_int_equal(blocks_batch_state(tx, RID, 5, d2, &st), OK);
	assert_int_equal(st, BATCH_CONFLICT);
	assert_int_equal(blocks_batch_state(tx, RID, 6, d2, &st), OK);
	assert_int_equal(st, BATCH_NEW);
	assert_int_equal(store_tx_commit(tx), OK);
	append_regular(fx->db, "ecg", T0, 360000, 0, 10);
	assert_int_equal(store_tx_begin(fx->db, STORE_TX_WRITE, &tx), OK);
	assert_int_equal(blocks_discard(tx, RID), OK);
	assert_int_equal(store_tx_commit(tx), OK);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_blocks"),
	    0);
	assert_int_equal(db_count(fx->db,
			     "SELECT count(*) FROM "
			     "recording_batches"),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(floor_div_rounds_down),
		cmocka_unit_test_setup_teardown(
		    small_batches_fill_the_last_block, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_gap_starts_a_new_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    odd_rates_and_late_indexes_give_exact_times, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    irregular_channels_join_while_times_go_on, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    overlapping_blocks_read_back_in_time_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    new_channels_of_a_batch_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    batches_are_new_duplicate_or_conflicting, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
