/*
 * The biometrics module (seed 001: Data Types, Exercises, Sessions,
 * Points): data types, exercises and recordings as resources, and the
 * points of a recording: ingest in binary, JSON or CSV batches, stored as
 * compressed blocks (blocks.c), read back raw or in buckets, exported as
 * CSV or EDF and drawn as SVG. Tables and permissions come from migration
 * 0004. See biometrics_int.h for how the files divide it.
 */
#ifndef BIOMETRICS_BIOMETRICS_H
#define BIOMETRICS_BIOMETRICS_H

struct module;

extern const struct module biometrics_module;

#endif
