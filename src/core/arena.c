#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

#define ARENA_FIRST_CHUNK 4096
#define ARENA_ALIGN	  16

struct chunk {
	struct chunk *next;
	size_t	      size;
	size_t	      used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct chunk *head;
	size_t	      cap;
	size_t	      total;
};

static struct chunk *chunk_new(size_t);

static struct chunk *
chunk_new(size_t size)
{
	struct chunk *c;

	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return (NULL);
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return (c);
}

struct arena *
arena_new(size_t cap)
{
	struct arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (NULL);
	a->cap = cap;
	if ((a->head = chunk_new(ARENA_FIRST_CHUNK)) == NULL) {
		free(a);
		return (NULL);
	}
	return (a);
}

void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void
arena_reset(struct arena *a)
{
	struct chunk *c, *next;

	/* The last chunk in the list is the first one allocated. */
	for (c = a->head; c->next != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = c;
	c->used = 0;
	a->total = 0;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t	      off, want;
	void	     *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		return (NULL);
	if (a->cap != 0 && (a->total + n > a->cap))
		return (NULL);
	off = (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (off + n > c->size) {
		want = c->size * 2;
		if (want < n)
			want = n + ARENA_ALIGN;
		if ((c = chunk_new(want)) == NULL)
			return (NULL);
		c->next = a->head;
		a->head = c;
		off = 0;
	}
	p = c->data + off;
	c->used = off + n;
	a->total += n;
	memset(p, 0, n);
	return (p);
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	if ((p = arena_alloc(a, n + 1)) == NULL)
		return (NULL);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return (arena_strndup(a, s, strlen(s)));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int	n;
	char   *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = arena_alloc(a, (size_t)n + 1)) == NULL)
		return (NULL);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return (p);
}

size_t
arena_used(const struct arena *a)
{
	return (a->total);
}
