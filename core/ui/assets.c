/* Looking up the compiled-in hosted-page files; see assets.h. */
#include "ui/assets.h"

#include <stdlib.h>
#include <string.h>

static int by_name(const void *key, const void *elem)
{
    return strcmp(key, ((const struct latch_ui_asset *)elem)->name);
}

const struct latch_ui_asset *latch_ui_asset_find(const char *name)
{
    if (name == NULL)
        return NULL;
    return bsearch(name, latch_ui_assets, (size_t)latch_ui_assets_count, sizeof(latch_ui_assets[0]),
                   by_name);
}
