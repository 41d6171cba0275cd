/* static_assets: the files the collector serves that hold no data — the
 * dashboard page (GET /), its scripts and styles (GET /assets/...), and the
 * API description (GET /openapi.json). They are compiled into the binary by
 * cmake/embed_assets.cmake, so there is nothing to install or find at run
 * time, and they are public (SPEC §3 "Reading"). */
#ifndef FERRY_COLLECTOR_STATIC_ASSETS_H
#define FERRY_COLLECTOR_STATIC_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "httpd.h"

typedef struct sa_asset {
  const char *path; /* URL path: "/", "/assets/app.js", "/openapi.json" */
  const char *content_type;
  const char *etag;          /* quoted strong validator: a hash of the content */
  const unsigned char *data; /* NUL-terminated (not counted in len) */
  size_t len;
} sa_asset;

/* The generated table (build/generated/collector_assets.c). */
extern const sa_asset sa_assets[];
extern const size_t sa_n_assets;

/* The asset served at path (exact match), or NULL. */
const sa_asset *static_assets_find(const char *path);

/* Answer a GET or HEAD for asset a: 200 with the content, or 304 when the
 * request's If-None-Match names its ETag. Every answer carries
 * Content-Security-Policy: default-src 'self' (nothing inline, nothing from
 * elsewhere), nosniff, no-referrer and Cache-Control: no-cache (revalidate
 * with the ETag, so a new binary's page is picked up at once). */
void static_assets_respond(httpd_req *req, const sa_asset *a);

#endif
