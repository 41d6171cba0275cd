/* version_info: what --version prints — ferry's version and revision, and
 * the versions of the libraries actually loaded, which is what a bug report
 * needs on a fleet of differently-patched boxes. */
#ifndef FERRY_VERSION_INFO_H
#define FERRY_VERSION_INFO_H

#include <stdio.h>

void ferry_print_version(FILE *out, const char *prog);

#endif
