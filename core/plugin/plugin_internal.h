/*
 * plugin/ internals shared by loader.c (opening and checking one file), registry.c (the
 * node-wide set of loaded versions) and host.c (calls into a connector, the host services).
 * Not for use outside core/plugin/.
 */
#ifndef LATCH_PLUGIN_PLUGIN_INTERNAL_H
#define LATCH_PLUGIN_PLUGIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "latch/connector.h"
#include "plugin/plugin.h"

/* The end of the last member of a struct as ABI 1.0 defined it: the smallest struct_size a 1.x
 * connector may declare. These stay as they are when later minors append members. */
#define PLUGIN_END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define PLUGIN_DESCRIPTOR_SIZE_1_0  PLUGIN_END_OF(struct latch_connector_descriptor, ops)
#define PLUGIN_OPS_SIZE_1_0         PLUGIN_END_OF(struct latch_connector_ops, validate_config)
/* The ops table up to send_message, the operation of email and SMS connectors (1.1). */
#define PLUGIN_OPS_SIZE_1_1          PLUGIN_END_OF(struct latch_connector_ops, send_message)
#define PLUGIN_FIELD_SIZE_1_0        PLUGIN_END_OF(struct latch_connector_field, description)
#define PLUGIN_HTTP_REQUEST_SIZE_1_0 PLUGIN_END_OF(struct latch_connector_http_request, body_len)

#define PLUGIN_MAX_FIELDS 64
#define PLUGIN_MAX_I18N   63

enum plugin_state {
    PLUGIN_NEW,      /* opened and checked, not in the registry */
    PLUGIN_CURRENT,  /* serves new flows of its factory id */
    PLUGIN_RETIRED,  /* replaced by an upgrade: serves flows that began on it, for a while */
    PLUGIN_UNLOADED, /* serves nothing; closed once unreferenced */
};

struct latch_plugin {
    struct latch_plugin *next; /* registry list */
    struct latch_plugin_info info;
    char relname[256]; /* the file as named in messages: relative to the connector directory */

    void *handle; /* dlopen() */
    int fd;       /* the file, open while loaded: dlopen()ed as /proc/self/fd/<fd> */
    dev_t dev;
    ino_t ino;

    /* Normalized copies: what the connector's (possibly older, smaller) structs hold, with the
     * members it lacks zeroed. Strings still point into the loaded object. */
    struct latch_connector_descriptor desc;
    struct latch_connector_ops ops;
    struct latch_connector_field *fields; /* malloc'd, desc.nfields entries */

    /* Registry state, under the registry lock. */
    int refs;
    enum plugin_state state;
    time_t retired_at;
};

/* A connector file, opened: the first step of loading it. */
struct plugin_file {
    char path[512];    /* canonical */
    char relname[256]; /* relative to the connector directory */
    char sha256[65];
    int fd; /* -1 when closed */
    dev_t dev;
    ino_t ino;
};

/*
 * Resolves path (absolute, or relative to dir, the canonical connector directory), refuses a
 * file outside dir (symbolic links included), opens it and hashes it. On failure f->fd is -1
 * and err->message names the file and what is wrong.
 */
latch_rc latch_plugin_file_open(const char *dir, const char *path, struct plugin_file *f,
                                struct latch_error *err) LATCH_MUST_CHECK;
void latch_plugin_file_close(struct plugin_file *f);

/*
 * Loads an opened file and checks it (every check of DESIGN.md but id uniqueness, which is the
 * registry's). Takes f->fd in every case. On success *out is a PLUGIN_NEW plugin with refs 0;
 * on failure nothing stays loaded or allocated and err->message names the file and what is
 * wrong.
 */
latch_rc latch_plugin_load_file(struct plugin_file *f, struct latch_plugin **out,
                                struct latch_error *err) LATCH_MUST_CHECK;

/* Both steps. */
latch_rc latch_plugin_open(const char *dir, const char *path, struct latch_plugin **out,
                           struct latch_error *err) LATCH_MUST_CHECK;

/* dlclose()s and frees a plugin no one references. */
void latch_plugin_close(struct latch_plugin *p);

/* The English text of a localized text, or NULL. */
const char *latch_plugin_text_en(const struct latch_connector_i18n *t);

/* Whether s[0..n) is well-formed UTF-8 (host.c). */
bool latch_plugin_utf8_ok(const char *s, size_t n);

/* Parses the C string text with latch_json_parse() (util/json.h): at most max_len bytes, nesting
 * max_depth, any top-level value (host.c); NULL when invalid.
 * Free with yajl_tree_free(). */
struct yajl_val_s *latch_plugin_json_parse(const char *text, size_t max_len, unsigned max_depth);

#endif
