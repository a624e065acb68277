/*
 * ui/: the hosted sign-in pages' files (HTML, CSS, JavaScript, translations, logo), compiled
 * into the binary by core/ui/embed.py so that no file is read at run time and no request path
 * ever reaches the filesystem. Immutable; any thread.
 */
#ifndef LATCH_UI_ASSETS_H
#define LATCH_UI_ASSETS_H

#include <stddef.h>

struct latch_ui_asset {
    const char *name;         /* base name, e.g. "sign-in.css" */
    const char *content_type; /* e.g. "text/css; charset=utf-8" */
    const char *etag;         /* strong ETag, quoted */
    const unsigned char *data;
    size_t len;
};

/* Generated (ui_assets.c), sorted by name. */
extern const struct latch_ui_asset latch_ui_assets[];
extern const int latch_ui_assets_count;
/* A digest over every asset: changes whenever one does (for cache-busting URLs). */
extern const char latch_ui_version[];

/* The asset called name, or NULL. name is compared as a whole; nothing is resolved. */
const struct latch_ui_asset *latch_ui_asset_find(const char *name);

#endif
