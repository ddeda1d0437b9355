/*
 * Private to the read routes of recordings' points: query.c (the routes,
 * raw points, buckets, chart, channels, and the answer's write buffer),
 * query_export.c (the CSV and EDF exports) and export_links.c (the GDPR
 * export's pages of a recording's points).
 */
#ifndef BIOMETRICS_QUERY_INT_H
#define BIOMETRICS_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "biometrics/biometrics_int.h"
#include "core/buf.h"
#include "resource/resource.h"

struct request;
struct principal;
struct tx;

#define RQ_OUT_MAX (512u * 1024 * 1024) /* ceiling of one answer */
#define RQ_CHUNK   (64 * 1024)

enum rq_kind {
	RQ_POINTS, /* raw, or buckets when nbuckets > 0 */
	RQ_CHANNELS,
	RQ_CSV,
	RQ_EDF,
	RQ_SVG
};

/* One read request (malloc'd: it carries the channel table). */
struct rq {
	struct request	   *req;
	struct principal   *who;
	const char	   *id;
	enum rq_kind	    kind;
	enum scope	    scope;
	const char	   *channel;  /* ?channel=, or NULL */
	int64_t		    from, to; /* the window, ms */
	int		    has_from, has_to;
	long		    nbuckets;
	struct bio_rec	    rec;
	struct channel_info ch[BLOCKS_CHANNELS_MAX];
	size_t		    nch;
	const char	   *format;	  /* for the audit record */
	const char	   *read_channel; /* the one read, or NULL */
	int64_t		    points;	  /* samples read */
	const char	   *ctype;
	struct buf	    out;
	/* A small write buffer in front of out. */
	char   w[RQ_CHUNK];
	size_t wn;
	int    wrc;
};

/* query.c */
/* The channel asked for (?channel=), or the recording's only one; a
 * problem answered otherwise. */
int rq_channel_pick(struct rq *, struct channel_info **out);
/* Default the window to the channels' whole time range; 422 when the
 * window is empty. */
int rq_window(struct rq *, const struct channel_info *, size_t n);
/* 422 TOO_MANY_POINTS (past max samples; 0: the answer's size). */
int rq_too_many(struct rq *, size_t max);
/* The answer's write buffer: room for n bytes at once (ERR_NOMEM), then
 * appends that record the first failure in q->wrc; flush at the end. */
int  rq_reserve(struct rq *, size_t n);
void rq_flush(struct rq *);
void rq_mem(struct rq *, const char *, size_t);
void rq_str(struct rq *, const char *);
void rq_i64(struct rq *, int64_t);
void rq_tus(struct rq *, int64_t t_us); /* microseconds as ms.uuu */
void rq_dbl(struct rq *, double);	/* %.12g; null when not finite */

/* query_export.c */
/* ?channel= or every channel over the window, as CSV / as EDF. */
int rq_csv_answer(struct rq *, struct tx *);
int rq_edf_answer(struct rq *, struct tx *);
/* The CSV's first line, and its rows of one channel's samples (counted
 * in q->points). */
#define RQ_CSV_HEAD "channel,t_ms,count,value\n"
int rq_csv_rows(struct rq *, const char *channel, const struct series *);

#endif
