/*
 * What was built: the program's version and the commit it was built
 * from (the Makefile writes both into build/<kind>/gen/build_info.c; the
 * commit is "unknown" outside a git checkout). For /metrics'
 * carebase_build_info.
 */
#ifndef CORE_BUILD_INFO_H
#define CORE_BUILD_INFO_H

extern const char build_commit[];
extern const char build_version[];

#endif
