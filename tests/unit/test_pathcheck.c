/* test_pathcheck: a database file whose directory is missing, not a
 * directory or not writable is named with the option, the path and the
 * cause; a usable place passes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "pathcheck.h"

int main(void) {
  char dir[] = "/tmp/ferry-test-pathcheck-XXXXXX", path[512], err[600];
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/j.db", dir);
  CHECK_EQ_INT(path_check_db_file("journal", path, err, sizeof err), 0);

  snprintf(path, sizeof path, "%s/missing/j.db", dir);
  CHECK_EQ_INT(path_check_db_file("journal", path, err, sizeof err), -ENOENT);
  CHECK(strncmp(err, "journal: directory ", 19) == 0);
  CHECK(strstr(err, "/missing does not exist") != NULL && strstr(err, path) != NULL);

  char file[512];
  snprintf(file, sizeof file, "%s/plain", dir);
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
  snprintf(path, sizeof path, "%s/plain/j.db", dir);
  CHECK(path_check_db_file("db", path, err, sizeof err) < 0);
  CHECK(strncmp(err, "db: ", 4) == 0);

  CHECK_EQ_INT(path_check_db_file("db", dir, err, sizeof err), -EISDIR);
  CHECK(strstr(err, "is a directory") != NULL);

  if (geteuid() != 0) { /* root may write anywhere */
    char ro[256];
    snprintf(ro, sizeof ro, "%.200s/ro", dir);
    CHECK_EQ_INT(mkdir(ro, 0555), 0);
    snprintf(path, sizeof path, "%s/j.db", ro);
    CHECK_EQ_INT(path_check_db_file("journal", path, err, sizeof err), -EACCES);
    CHECK(strstr(err, "no permission to create files in directory") != NULL);
    chmod(ro, 0755);
  }
  CHECK(path_check_db_file("journal", "", err, sizeof err) < 0);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_finish("test_pathcheck");
}
