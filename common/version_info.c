/* version_info: --version output, shared by every ferry program. Library
 * versions are asked from the libraries at run time, not taken from the
 * headers we compiled against, so a distro upgrade shows up. */
#include "version_info.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <uv.h>
#include <zlib.h>
#include <zstd.h>

#include "version.h"

void ferry_print_version(FILE *out, const char *prog) {
  fprintf(out, "%s %s (git %s, %s build)\n", prog ? prog : "ferry", FERRY_VERSION, FERRY_GIT_REV,
          FERRY_BUILD_TYPE);
  fprintf(out, "  libuv %s\n", uv_version_string());
  fprintf(out, "  %s\n", curl_version());
  fprintf(out, "  sqlite %s\n", sqlite3_libversion());
  fprintf(out, "  cJSON %s\n", cJSON_Version());
  fprintf(out, "  libmicrohttpd %s\n", MHD_get_version());
  fprintf(out, "  zlib %s\n", zlibVersion());
  fprintf(out, "  zstd %s\n", ZSTD_versionString());
#ifdef FERRY_HAVE_SYSTEMD
  fprintf(out, "  libsystemd (sd_notify)\n");
#else
  fprintf(out, "  sd_notify: built-in (no libsystemd)\n");
#endif
}
