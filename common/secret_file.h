/* secret_file: read a token or password kept in a file of its own (the
 * *_file options of both programs). One reader so the two programs accept
 * the same files and say the same thing about a bad one: the whole file,
 * surrounding whitespace stripped, 1..max bytes of visible ASCII, a regular
 * file only; the buffer it passed through is wiped. */
#ifndef FERRY_SECRET_FILE_H
#define FERRY_SECRET_FILE_H

#include <stdbool.h>
#include <stddef.h>

#define SECRET_FILE_MAX 4096 /* the largest secret either program accepts */

/* Returns 0 with *ret (malloc'd, NUL-terminated) or a negative errno with err
 * set ("cannot read PATH: ...", "PATH holds no token", ...). max is at most
 * SECRET_FILE_MAX. *ret_others_readable (may be NULL) tells whether the
 * file's mode lets other users read it. */
int secret_file_read(const char *path, size_t max, char **ret, bool *ret_others_readable, char *err,
                     size_t errlen);

#endif
