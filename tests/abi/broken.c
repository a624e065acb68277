/*
 * A connector broken on purpose, one way per build (tests/abi/meson.build passes the -D that
 * selects it); tests/unit/plugin/test_loader.c loads each build and checks the exact message.
 * Without any -D it is a valid connector (id "abi-ok").
 */
#include <stddef.h>

#include <latch/connector.h>

#ifndef DESC_MAGIC
#define DESC_MAGIC LATCH_CONNECTOR_MAGIC
#endif
#ifndef DESC_ABI_MAJOR
#define DESC_ABI_MAJOR LATCH_CONNECTOR_ABI_MAJOR
#endif
#ifndef DESC_ABI_MINOR
#define DESC_ABI_MINOR LATCH_CONNECTOR_ABI_MINOR
#endif
#ifndef DESC_SIZE
#define DESC_SIZE sizeof(struct latch_connector_descriptor)
#endif
#ifndef OPS_SIZE
#define OPS_SIZE sizeof(struct latch_connector_ops)
#endif
#ifndef DESC_ID
#define DESC_ID "abi-ok"
#endif
#ifndef DESC_VERSION
#define DESC_VERSION "1.0.0"
#endif
#ifndef DESC_KIND
#define DESC_KIND LATCH_CONNECTOR_SOCIAL
#endif
#ifndef SECOND_KEY
#define SECOND_KEY "clientSecret"
#endif
#ifndef SECOND_TYPE
#define SECOND_TYPE LATCH_CONNECTOR_FIELD_TEXT
#endif

static int get_authorization_uri(struct latch_connector_ctx *ctx,
                                 const struct latch_connector_host *host,
                                 const struct latch_connector_auth_request *req, char **uri)
{
    *uri = host->format(ctx, "https://upstream.example/authorize?state=%s", req->state);
    return LATCH_CONNECTOR_OK;
}

#ifndef NO_USER_INFO
static int get_user_info(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out)
{
    (void)ctx;
    (void)host;
    (void)params;
    (void)nparams;
    out->id = "1";
    return LATCH_CONNECTOR_OK;
}
#endif

#ifdef WITH_SEND_MESSAGE
static int send_message(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const struct latch_connector_message *msg)
{
    (void)ctx;
    (void)host;
    (void)msg;
    return LATCH_CONNECTOR_OK;
}
#endif

static const struct latch_connector_ops ops = {
    .struct_size = OPS_SIZE,
    .get_authorization_uri = get_authorization_uri,
#ifndef NO_USER_INFO
    .get_user_info = get_user_info,
#endif
#ifdef WITH_SEND_MESSAGE
    .send_message = send_message,
#endif
};

static const struct latch_connector_field fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "clientId",
        .required = 1,
        .label = (const struct latch_connector_i18n[]){{"en", "Client ID"}, {NULL, NULL}},
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = SECOND_TYPE,
        .key = SECOND_KEY,
        .label = (const struct latch_connector_i18n[]){{"en", "Client secret"}, {NULL, NULL}},
    },
};

#ifdef NO_ENGLISH_NAME
static const struct latch_connector_i18n name[] = {{"es", "Roto"}, {NULL, NULL}};
#else
static const struct latch_connector_i18n name[] = {{"en", "Broken"}, {NULL, NULL}};
#endif
static const struct latch_connector_i18n description[] = {{"en", "A test connector."},
                                                          {NULL, NULL}};

static const struct latch_connector_descriptor descriptor = {
    .magic = DESC_MAGIC,
    .struct_size = DESC_SIZE,
    .abi_major = DESC_ABI_MAJOR,
    .abi_minor = DESC_ABI_MINOR,
    .kind = DESC_KIND,
    .id = DESC_ID,
    .target = "abi",
    .version = DESC_VERSION,
    .name = name,
    .description = description,
    .fields = fields,
    .nfields = 2,
    .ops = &ops,
};

#ifdef NO_DESCRIBE
/* Exports something, but not latch_connector_describe. */
LATCH_CONNECTOR_EXPORT const struct latch_connector_descriptor *latch_connector_describe_v0(void);
LATCH_CONNECTOR_EXPORT const struct latch_connector_descriptor *latch_connector_describe_v0(void)
{
    return &descriptor;
}
#else
LATCH_CONNECTOR_DEFINE(descriptor)
#endif
