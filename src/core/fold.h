/*
 * Case folding for keys that compare text without regard to case (partner
 * names): Unicode simple case folding (CaseFolding.txt, status C and S),
 * the same on every database, instead of SQL lower() (SQLite folds ASCII
 * only, PostgreSQL follows the server's locale).
 *
 * Folded are the letters of these blocks: Basic Latin, Latin-1
 * Supplement, Latin Extended-A and -B, Greek and Coptic, Cyrillic and its
 * Supplement, Armenian, Georgian, Cyrillic Extended-C, Georgian Extended, Latin Extended
 * Additional, Greek Extended, Letterlike Symbols, Number Forms, enclosed
 * Latin letters, Glagolitic, Latin Extended-C, Coptic, Cyrillic
 * Extended-B, Latin Extended-D and the fullwidth Latin capitals. Other
 * code points are kept as they are. There is no normalisation: a
 * precomposed letter and its decomposed form (U+00C4 and A U+0308) give
 * different keys.
 */
#ifndef CORE_FOLD_H
#define CORE_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* Bytes that always hold the folding of n bytes, with the NUL: a folded
 * letter takes at most 3 bytes where it took 2. */
#define FOLD_OUT_MAX(n) ((n) + (n) / 2 + 1)

/* The simple case folding of one code point (cp itself when none). */
uint32_t fold_cp(uint32_t cp);
/*
 * Fold the UTF-8 text s (len bytes) into out (size bytes, NUL-terminated).
 * OK; ERR_INVALID when s is not UTF-8 (overlong forms, surrogates, past
 * U+10FFFF, truncated) or holds a NUL; ERR_TOO_LARGE when out is too small
 * (FOLD_OUT_MAX(len) is always enough). out is "" on failure.
 */
int fold_utf8(const char *s, size_t len, char *out, size_t size);

#endif
