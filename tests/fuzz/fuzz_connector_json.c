/*
 * libFuzzer driver for the JSON services the host gives connectors (core/plugin/host.c), driven
 * without a server or a loaded .so: a connector made up here (a struct latch_plugin whose
 * validate_config is below) goes through latch_plugin_validate_config(), which parses the config
 * against the fields' types, then calls the host table as a connector would. The input is
 * "<path>\n<document>": the document is the config, and is read at the path with json_get.
 * Checks that json_string() of a value json_get() found reads back unchanged through json_get
 * (path ""), and the same for the document text itself when it is valid UTF-8; that
 * json_members() at the path agrees with json_get() member by member; and that base64url and
 * base64url_decode() are each other's inverse on the document.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run:
 * build-fuzz/tests/fuzz/fuzz_connector_json.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *doc;
static const char *path;

/* The string s through json_string and back through json_get. */
static void round_trip(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                       const char *s)
{
    char *lit = host->json_string(ctx, s);
    if (lit == NULL)
        return; /* the call's arena is full */
    const char *back = host->json_get(ctx, lit, "");
    if (latch_plugin_utf8_ok(s, strlen(s)) && (back == NULL || strcmp(back, s) != 0))
        abort();
}

/* json_members (1.1) at the path: a bounded list whose scalar values are what json_get reads at
 * the member's own path (for names json_get can address: no '.', not all digits, at most 255
 * bytes). */
static void members_check(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    struct latch_connector_json_members m = LATCH_CONNECTOR_JSON_MEMBERS_INIT;
    if (host->json_members(ctx, doc, path, &m) != LATCH_CONNECTOR_OK) {
        if (m.why == NULL || m.count != 0 || m.names != NULL)
            abort();
        return;
    }
    if (m.count > LATCH_CONNECTOR_JSON_MEMBERS_MAX || (m.count > 0 && m.names == NULL))
        abort();
    for (size_t i = 0; i < m.count; i++) {
        bool scalar = m.types[i] == LATCH_CONNECTOR_JSON_STRING ||
                      m.types[i] == LATCH_CONNECTOR_JSON_NUMBER ||
                      m.types[i] == LATCH_CONNECTOR_JSON_BOOLEAN;
        if (m.names[i] == NULL || scalar != (m.values[i] != NULL))
            abort();
        const char *name = m.names[i];
        /* json_get addresses names without '.', not all digits, of at most 255 bytes. */
        if (!scalar || name[0] == '\0' || strchr(name, '.') != NULL ||
            strspn(name, "0123456789") == strlen(name) || strlen(name) > 255)
            continue;
        const char *full = path[0] != '\0' ? host->format(ctx, "%s.%s", path, name) : name;
        const char *got = full != NULL ? host->json_get(ctx, doc, full) : NULL;
        if (full != NULL && (got == NULL || strcmp(got, m.values[i]) != 0))
            abort();
    }
}

/* base64url (1.1): the document decodes strictly or not at all, and what decodes encodes back to
 * the same text; the document's bytes encode and decode back unchanged. */
static void codec_check(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    size_t n = strlen(doc), len = 0;
    unsigned char *dec = host->base64url_decode(ctx, doc, n, &len);
    if (dec != NULL) {
        char *back = host->base64url(ctx, dec, len);
        if (back != NULL && strcmp(back, doc) != 0)
            abort();
    }
    char *enc = host->base64url(ctx, doc, n);
    if (enc == NULL)
        return;
    dec = host->base64url_decode(ctx, enc, strlen(enc), &len);
    if (dec == NULL || len != n || memcmp(dec, doc, n) != 0)
        abort();
}

static int validate(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                    const char **why)
{
    members_check(ctx, host);
    codec_check(ctx, host);
    const char *got = host->json_get(ctx, doc, path);
    if (got != NULL)
        round_trip(ctx, host, got);
    round_trip(ctx, host, doc);
    (void)host->config_get(ctx, "clientId");
    (void)host->config_get(ctx, "scope");
    char *form = NULL;
    if (host->form_add(ctx, &form, path, got) != LATCH_CONNECTOR_OK)
        abort();
    *why = NULL;
    return LATCH_CONNECTOR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct latch_connector_i18n label = {0};
    static struct latch_connector_field fields[] = {
        {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_TEXT, "clientId", 1, 0, NULL,
         &label, NULL},
        {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_NUMBER, "timeout", 0, 0, "5",
         &label, NULL},
        {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_SWITCH, "pkce", 0, 0, NULL,
         &label, NULL},
        {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_JSON, "scope", 0, 0, NULL,
         &label, NULL},
    };
    static struct latch_plugin plugin;
    struct latch_error err;

    if (plugin.fields == NULL) {
        strcpy(plugin.info.id, "fuzz");
        strcpy(plugin.info.version, "0");
        plugin.fields = fields;
        plugin.desc.nfields = sizeof(fields) / sizeof(fields[0]);
        plugin.ops.validate_config = validate;
    }
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    if (nl != NULL) {
        *nl = '\0';
        path = text;
        doc = nl + 1;
    } else {
        path = "";
        doc = text;
    }
    (void)latch_plugin_validate_config(&plugin, doc, &err);
    free(text);
    return 0;
}
