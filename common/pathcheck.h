/* pathcheck: before a program opens a database file, tell the operator in
 * one line what is wrong with where it goes — the option, the path and the
 * cause (the directory is missing, is not a directory, or this user may not
 * write in it) — instead of SQLite's "unable to open database file". Used by
 * --check-config and at start, both exiting 2 on it. */
#ifndef FERRY_PATHCHECK_H
#define FERRY_PATHCHECK_H

#include <stddef.h>

/* key names the option ("journal"); path the file to be created or opened
 * read-write. 0, or -errno with one line in err:
 * "journal: directory /x does not exist (for /x/j.db); create it ...". */
int path_check_db_file(const char *key, const char *path, char *err, size_t errlen);

#endif
