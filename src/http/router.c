/*
 * Router: route tables compiled into a segment trie. Each node has its
 * static children, at most one parameter child, and the routes that end
 * there indexed by method. Matching walks the trie once per request,
 * static children first, backtracking into the parameter child.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "http/http_int.h"

/* One route with its parameter names in path order. */
struct rentry {
	const struct route *route;
	char		   *names[HTTP_MAX_PARAMS];
	int		    nnames;
};

struct rnode {
	char	      *seg; /* static text; NULL for a parameter */
	size_t	       seglen;
	struct rnode **kids; /* static children */
	size_t	       nkids;
	struct rnode  *param; /* "{name}" child */
	struct rentry *by_method[HTTP_METHOD_SLOTS];
	int	       methods; /* mask of enum http_method */
	int	       id;	/* pattern id, 0 if nothing ends here */
	const char    *pattern; /* borrowed from the first route */
};

struct router {
	struct rnode *root;
	int	      npatterns;
	const char  **patterns; /* by id, [0] = "unmatched" */
};

static const char *const method_names[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE", "HEAD", "OPTIONS" };

static int	     method_slot(int);
static void	     rnode_free(struct rnode *);
static struct rnode *rnode_child(struct rnode *, const char *, size_t, int);
static int	     router_add(struct router *, const struct route *);
static int	     rnode_cmp(const void *, const void *);
static void	     rnode_sort(struct rnode *);
static const struct rnode *rnode_match(const struct rnode *, char **, int, int,
    int, const char **, int *, const struct rnode **);

static int
method_slot(int method)
{
	int i;

	for (i = 0; i < 7; i++)
		if (method == (1 << i))
			return (i);
	return (-1);
}

int
http_method_parse(const char *s)
{
	int i;

	for (i = 0; i < 7; i++)
		if (strcmp(s, method_names[i]) == 0)
			return (1 << i);
	return (0);
}

char *
http_allow_format(int methods, char *out, size_t outlen)
{
	size_t o = 0;
	int    i, n;

	if (methods & HTTP_GET)
		methods |= HTTP_HEAD;
	methods |= HTTP_OPTIONS;
	out[0] = '\0';
	for (i = 0; i < 7; i++) {
		if ((methods & (1 << i)) == 0)
			continue;
		n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
		    method_names[i]);
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
	return (out);
}

static void
rnode_free(struct rnode *n)
{
	size_t i;
	int    j, k;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		rnode_free(n->kids[i]);
	rnode_free(n->param);
	for (j = 0; j < HTTP_METHOD_SLOTS; j++) {
		if (n->by_method[j] == NULL)
			continue;
		for (k = 0; k < n->by_method[j]->nnames; k++)
			free(n->by_method[j]->names[k]);
		free(n->by_method[j]);
	}
	free(n->kids);
	free(n->seg);
	free(n);
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	rnode_free(r->root);
	free(r->patterns);
	free(r);
}

/* The child for a segment, created when missing; NULL on OOM. */
static struct rnode *
rnode_child(struct rnode *n, const char *seg, size_t len, int param)
{
	struct rnode *c, **kids;
	size_t	      i;

	if (param) {
		if (n->param == NULL)
			n->param = calloc(1, sizeof(*n->param));
		return (n->param);
	}
	for (i = 0; i < n->nkids; i++)
		if (n->kids[i]->seglen == len &&
		    memcmp(n->kids[i]->seg, seg, len) == 0)
			return (n->kids[i]);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	if ((c->seg = strndup(seg, len)) == NULL ||
	    (kids = realloc(n->kids, (n->nkids + 1) * sizeof(*kids))) == NULL) {
		rnode_free(c);
		return (NULL);
	}
	c->seglen = len;
	n->kids = kids;
	n->kids[n->nkids++] = c;
	return (c);
}

static int
router_add(struct router *r, const struct route *rt)
{
	struct rnode  *n = r->root;
	struct rentry *e = NULL;
	const char    *p, *end, **pats;
	size_t	       len, i;
	int	       slot, param;

	if (rt->pattern == NULL || rt->pattern[0] != '/' ||
	    rt->handler == NULL || (slot = method_slot(rt->method)) < 0)
		goto bad;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (ERR_NOMEM);
	e->route = rt;
	p = rt->pattern + 1;
	while (*p != '\0') {
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0)
			goto bad;
		param = p[0] == '{';
		if (param) {
			if (len < 3 || p[len - 1] != '}' ||
			    e->nnames == HTTP_MAX_PARAMS)
				goto bad;
			for (i = 1; i < len - 1; i++)
				if (strchr("{}%", p[i]) != NULL)
					goto bad;
			if ((e->names[e->nnames++] = strndup(p + 1, len - 2)) ==
			    NULL)
				goto nomem;
		} else if (memchr(p, '{', len) || memchr(p, '%', len) ||
		    (len == 1 && p[0] == '.') ||
		    (len == 2 && !memcmp(p, "..", 2)))
			goto bad;
		if ((n = rnode_child(n, p, len, param)) == NULL)
			goto nomem;
		if (end == NULL)
			break;
		p = end + 1;
		if (*p == '\0')
			goto bad; /* trailing slash in a pattern */
	}
	if (n->by_method[slot] != NULL) {
		log_error("event=route_duplicate method=%s pattern=%s",
		    method_names[slot], rt->pattern);
		goto fail;
	}
	if (n->id == 0) {
		pats = realloc(
		    r->patterns, (size_t)(r->npatterns + 2) * sizeof(*pats));
		if (pats == NULL)
			goto nomem;
		r->patterns = pats;
		n->id = ++r->npatterns;
		n->pattern = rt->pattern;
		r->patterns[n->id] = rt->pattern;
	}
	n->by_method[slot] = e;
	n->methods |= rt->method;
	return (OK);
bad:
	log_error("event=route_invalid pattern=%s",
	    rt->pattern ? rt->pattern : "(null)");
fail:
	if (e != NULL)
		while (e->nnames > 0)
			free(e->names[--e->nnames]);
	free(e);
	return (ERR_CONFIG);
nomem:
	while (e->nnames > 0)
		free(e->names[--e->nnames]);
	free(e);
	return (ERR_NOMEM);
}

int
router_new(const struct route_table *const *tables, size_t ntables,
    struct router **out)
{
	struct router *r;
	size_t	       t, i;
	int	       rc = ERR_NOMEM;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->root = calloc(1, sizeof(*r->root))) == NULL ||
	    (r->patterns = calloc(1, sizeof(*r->patterns))) == NULL)
		goto out;
	r->patterns[0] = "unmatched";
	for (t = 0; t < ntables; t++)
		for (i = 0; i < tables[t]->nroutes; i++)
			if ((rc = router_add(r, &tables[t]->routes[i])) != OK)
				goto out;
	rnode_sort(r->root);
	*out = r;
	r = NULL;
	rc = OK;
out:
	router_free(r);
	return (rc);
}

/* Static children ordered by length, then bytes, for binary search. */
static int
rnode_cmp(const void *a, const void *b)
{
	const struct rnode *x = *(const struct rnode *const *)a;
	const struct rnode *y = *(const struct rnode *const *)b;

	if (x->seglen != y->seglen)
		return (x->seglen < y->seglen ? -1 : 1);
	return (memcmp(x->seg, y->seg, x->seglen));
}

static void
rnode_sort(struct rnode *n)
{
	size_t i;

	if (n == NULL)
		return;
	if (n->nkids > 1)
		qsort(n->kids, n->nkids, sizeof(*n->kids), rnode_cmp);
	for (i = 0; i < n->nkids; i++)
		rnode_sort(n->kids[i]);
	rnode_sort(n->param);
}

int
router_npatterns(const struct router *r)
{
	return (r->npatterns);
}

/* The pages the web application answers (what no route matches, asked
 * for as HTML: http_set_page_fallback) are a route of their own in the
 * metrics: one id past the patterns, named "page". */
int
router_page_id(const struct router *r)
{
	return (r->npatterns + 1);
}

const char *
router_pattern(const struct router *r, int id)
{
	if (id == r->npatterns + 1)
		return ("page");
	if (id < 0 || id > r->npatterns)
		return (NULL);
	return (r->patterns[id]);
}

/*
 * Depth-first: a node where the path ends and that has one of the wanted
 * methods; *any keeps the first node where the path ends at all (405).
 */
static const struct rnode *
rnode_match(const struct rnode *n, char **segs, int nsegs, int i, int want,
    const char **vals, int *nvals, const struct rnode **any)
{
	const struct rnode *r, *kp;
	struct rnode key, *const *kid;
	size_t len;

	kp = &key;
	if (i == nsegs) {
		if (n->methods == 0)
			return (NULL);
		if (*any == NULL)
			*any = n;
		return ((n->methods & want) ? n : NULL);
	}
	len = strlen(segs[i]);
	key.seg = segs[i];
	key.seglen = len;
	if (n->nkids > 0 &&
	    (kid = bsearch(&kp, n->kids, n->nkids, sizeof(*n->kids),
		 rnode_cmp)) != NULL &&
	    (r = rnode_match(
		 *kid, segs, nsegs, i + 1, want, vals, nvals, any)) != NULL)
		return (r);
	if (n->param != NULL && len > 0 && strchr(segs[i], '/') == NULL &&
	    *nvals < HTTP_MAX_PARAMS) {
		vals[(*nvals)++] = segs[i];
		if ((r = rnode_match(n->param, segs, nsegs, i + 1, want, vals,
			 nvals, any)) != NULL)
			return (r);
		(*nvals)--;
	}
	return (NULL);
}

int
router_match(const struct router *r, struct arena *a, const char *path,
    int method, struct router_match *m)
{
	const struct rnode  *n, *any = NULL;
	const struct rentry *e;
	const char	    *vals[HTTP_MAX_PARAMS];
	char		    *segs[HTTP_MAX_SEGMENTS], *copy, *p, *slash;
	int		     nsegs = 0, nvals = 0, want, i;
	long		     dlen;
	size_t		     len;

	memset(m, 0, sizeof(*m));
	if (path == NULL || path[0] != '/')
		return (ERR_MALFORMED);
	if ((copy = arena_strdup(a, path + 1)) == NULL)
		return (ERR_NOMEM);
	/* Split on '/', then decode each segment in place. */
	for (p = copy; *p != '\0' || p != copy;) {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		len = strlen(p);
		if (len == 0 && slash != NULL)
			return (ERR_MALFORMED); /* "//" */
		if (nsegs == HTTP_MAX_SEGMENTS)
			return (ERR_NOT_FOUND);
		if ((dlen = http_pct_decode(p, p, len, 0)) < 0 ||
		    !http_utf8_valid(p, (size_t)dlen))
			return (ERR_MALFORMED);
		if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
			return (ERR_MALFORMED);
		segs[nsegs++] = p;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (method == HTTP_HEAD)
		want = HTTP_HEAD | HTTP_GET;
	else
		want = method;
	n = rnode_match(r->root, segs, nsegs, 0, want, vals, &nvals, &any);
	if (n == NULL) {
		if (any == NULL)
			return (ERR_NOT_FOUND);
		m->pattern = any->pattern;
		m->route_id = any->id;
		m->allow = any->methods;
		return (ERR_METHOD);
	}
	m->pattern = n->pattern;
	m->route_id = n->id;
	m->allow = n->methods;
	e = n->by_method[method_slot(method)];
	if (e == NULL && method == HTTP_HEAD)
		e = n->by_method[method_slot(HTTP_GET)];
	if (e == NULL) /* rnode_match only returns nodes with the method */
		return (ERR_METHOD);
	m->route = e->route;
	for (i = 0; i < nvals && i < e->nnames; i++) {
		m->params[i].name = e->names[i];
		m->params[i].value = vals[i];
		/* Ids are stored in lower case: a UUID sent in upper case
		 * names the same row. (vals point into copy, ours.) */
		if (uuid_valid(vals[i]))
			for (p = (char *)(uintptr_t)vals[i]; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p - 'A' + 'a');
	}
	m->nparams = i;
	return (OK);
}
