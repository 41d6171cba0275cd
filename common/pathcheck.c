/* pathcheck: say why a database file cannot be opened, naming the option,
 * the path and the cause, before SQLite gets to say it less clearly. */
#include "pathcheck.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_check_db_file(const char *key, const char *path, char *err, size_t errlen) {
  char dir[4096];
  struct stat st;
  if (!path || !*path) {
    snprintf(err, errlen, "%s: empty path", key);
    return -EINVAL;
  }
  size_t n = strlen(path);
  if (n >= sizeof dir) {
    snprintf(err, errlen, "%s: path longer than %zu bytes", key, sizeof dir - 1);
    return -ENAMETOOLONG;
  }
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);

  if (stat(dir, &st) < 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      snprintf(err, errlen,
               "%s: directory %s does not exist (for %s); create it, owned by the service user "
               "(install -d -o USER %s), or point %s elsewhere",
               key, dir, path, dir, key);
    else snprintf(err, errlen, "%s: cannot reach directory %s (for %s): %s", key, dir, path, strerror(e));
    return -e;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: %s is not a directory (for %s)", key, dir, path);
    return -ENOTDIR;
  }
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "%s: %s is a directory, not a database file", key, path);
      return -EISDIR;
    }
    if (access(path, R_OK | W_OK) < 0) {
      int e = errno;
      snprintf(err, errlen, "%s: no permission to read and write %s (%s); check its owner and mode", key,
               path, strerror(e));
      return -e;
    }
  }
  /* SQLite creates the file and its -wal/-shm beside it */
  if (access(dir, W_OK | X_OK) < 0) {
    int e = errno;
    snprintf(err, errlen,
             "%s: no permission to create files in directory %s (for %s: %s); give the service user "
             "write access to it",
             key, dir, path, strerror(e));
    return -e;
  }
  return 0;
}
