/*
 * The modules the program is made of, in the order they are registered
 * and started (src/modules.c): the command line's, and the unit tests'
 * that walk every module (tests/unit/test_gdpr.c). A new module is added
 * there, once.
 */
#ifndef MODULES_H
#define MODULES_H

#include <stddef.h>

struct module;

#define MODULES_MAX 32 /* modules_all() holds at most this many */

/* Every module, in order; *n gets how many. */
const struct module *const *modules_all(size_t *n);

#endif
