/*
 * probe: a connector that exercises the host services and reports what they returned, so
 * tests/unit/plugin/test_loader.c can check each service through the real ABI. Its
 * get_user_info answers with raw_json = an object of results; the callback parameter `doc` is
 * the JSON document the json_get probes read. Built against the current header (1.1), so it
 * also probes the 1.1 crypto and codec services.
 */
#include <string.h>

#include <latch/connector.h>

static int get_authorization_uri(struct latch_connector_ctx *ctx,
                                 const struct latch_connector_host *host,
                                 const struct latch_connector_auth_request *req, char **uri)
{
    (void)req;
    *uri = host->dup(ctx, "https://probe.example/authorize");
    return LATCH_CONNECTOR_OK;
}

static const char *param(const struct latch_connector_param *params, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

/* Lower-case hex of n bytes, into the arena. */
static char *hex(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                 const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *out = host->alloc(ctx, 2 * n + 1);
    for (size_t i = 0; out != NULL && i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    return out;
}

/* The 1.1 crypto services on known vectors (FIPS 180-2 "abc", RFC 4231 test cases 1 and 2),
 * and random_bytes: two draws that differ, and its bound; as a JSON object of results. */
static char *crypto_probe(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    unsigned char d_abc[32], d_empty[32], m1[32], m2[32], r1[32], r2[32], key1[20];
    static unsigned char big[65537];
    int rc_abc, rc_empty, rc_m1, rc_m2, rc_r1, rc_r2, rc_big, rc_zero;

    if (!LATCH_CONNECTOR_HAS(host, struct latch_connector_host, random_bytes))
        return host->dup(ctx, "\"no 1.1 services\"");
    memset(key1, 0x0b, sizeof(key1));
    rc_abc = host->sha256(ctx, "abc", 3, d_abc);
    rc_empty = host->sha256(ctx, NULL, 0, d_empty);
    rc_m1 = host->hmac_sha256(ctx, key1, sizeof(key1), "Hi There", 8, m1);
    rc_m2 = host->hmac_sha256(ctx, "Jefe", 4, "what do ya want for nothing?", 28, m2);
    rc_r1 = host->random_bytes(ctx, r1, sizeof(r1));
    rc_r2 = host->random_bytes(ctx, r2, sizeof(r2));
    rc_zero = host->random_bytes(ctx, NULL, 0);
    rc_big = host->random_bytes(ctx, big, sizeof(big));
    return host->format(
        ctx,
        "{\"sha256_abc\":\"%s\",\"sha256_empty\":\"%s\",\"hmac_1\":\"%s\",\"hmac_2\":\"%s\","
        "\"random_1\":\"%s\",\"random_2\":\"%s\",\"rcs\":\"%d%d%d%d%d%d%d\",\"rc_big\":%d}",
        hex(ctx, host, d_abc, 32), hex(ctx, host, d_empty, 32), hex(ctx, host, m1, 32),
        hex(ctx, host, m2, 32), hex(ctx, host, r1, 32), hex(ctx, host, r2, 32), rc_abc, rc_empty,
        rc_m1, rc_m2, rc_r1, rc_r2, rc_zero, rc_big);
}

/* Members as "name:type:value|..." ('~' for a NULL value), or "rc=<status> why=<why>". */
static char *members_text(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                          const char *json, const char *path)
{
    struct latch_connector_json_members m = LATCH_CONNECTOR_JSON_MEMBERS_INIT;
    int rc = host->json_members(ctx, json, path, &m);
    char *out = "";

    if (rc != LATCH_CONNECTOR_OK)
        return host->format(ctx, "rc=%d count=%zu why=%s", rc, m.count, m.why);
    for (size_t i = 0; out != NULL && i < m.count; i++)
        out = host->format(ctx, "%s%s%s:%d:%s", out, i > 0 ? "|" : "", m.names[i], m.types[i],
                           m.values[i] != NULL ? m.values[i] : "~");
    return out;
}

/* The 1.1 codec services: base64url on the RFC 4648 §10 vectors and the URL-safe characters,
 * strict decoding (padding, the standard alphabet, a 4k+1 length and leftover bits refused),
 * and json_members on objects, a duplicate name, non-objects and the member bound. */
static char *codec_probe(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    static const unsigned char safe[] = {0xfb, 0xff, 0xbf};
    static const char *const refused[] = {"Zm9vYg==", "Zm9v+g", "Zm9vY", "Zh", "Zm 9v", "Zg="};
    char *vectors = "", *bad = "", *big;
    size_t n = 0, len;
    unsigned char *dec;

    if (!LATCH_CONNECTOR_HAS(host, struct latch_connector_host, json_members))
        return host->dup(ctx, "\"no 1.1 codec services\"");
    for (size_t i = 0; i <= 6; i++)
        vectors = host->format(ctx, "%s%s%s", vectors, i > 0 ? "," : "",
                               host->base64url(ctx, "foobar", i));
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        dec = host->base64url_decode(ctx, refused[i], strlen(refused[i]), &len);
        bad = host->format(ctx, "%s%d", bad, dec == NULL && len == 0);
    }
    dec = host->base64url_decode(ctx, "Zm9vYmFy", 8, &n);
    unsigned char *dec_safe = host->base64url_decode(ctx, "-_-_", 4, &len);
    /* 257 members: one over the bound. */
    big = "{";
    for (int i = 0; big != NULL && i <= LATCH_CONNECTOR_JSON_MEMBERS_MAX; i++)
        big = host->format(ctx, "%s%s\"k%d\":%d", big, i > 0 ? "," : "", i, i);
    big = host->format(ctx, "%s}", big);

#define S(x) host->json_string(ctx, (x))
    return host->format(
        ctx,
        "{\"encode\":%s,\"safe\":%s,\"empty\":%s,\"decoded\":%s,\"decoded_len\":%zu,"
        "\"decoded_safe\":%s,\"refused\":%s,\"members\":%s,\"nested\":%s,\"top_empty\":%s,"
        "\"empty_object\":%s,\"duplicate\":%s,\"not_object\":%s,\"absent\":%s,\"array\":%s,"
        "\"not_json\":%s,\"too_many\":%s}",
        S(vectors), S(host->base64url(ctx, safe, sizeof(safe))), S(host->base64url(ctx, NULL, 0)),
        S((const char *)dec), n, S(dec_safe != NULL ? hex(ctx, host, dec_safe, len) : NULL), S(bad),
        S(members_text(ctx, host,
                       "{\"a\":\"x\",\"n\":-1.5e3,\"s\":\"5\",\"t\":true,\"f\":false,"
                       "\"z\":null,\"o\":{\"k\":\"v\"},\"l\":[1]}",
                       NULL)),
        S(members_text(ctx, host, "{\"data\":{\"map\":{\"id\":\"sub\",\"é\":\"ü\"}}}", "data.map")),
        S(members_text(ctx, host, "{\"id\":\"sub\"}", "")),
        S(members_text(ctx, host, " {} ", NULL)),
        S(members_text(ctx, host, "{\"a\":{\"id\":\"x\",\"id\":\"y\"}}", NULL)),
        S(members_text(ctx, host, "{\"a\":\"x\"}", "a")),
        S(members_text(ctx, host, "{\"a\":\"x\"}", "b.c")),
        S(members_text(ctx, host, "[{\"a\":1}]", NULL)),
        S(members_text(ctx, host, "{\"a\":", NULL)), S(members_text(ctx, host, big, NULL)));
#undef S
}

static int get_user_info(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out)
{
    const char *doc = param(params, nparams, "doc");
    char *form = NULL;
    char big[20000];
    int over_keys = LATCH_CONNECTOR_OK;

    host->form_add(ctx, &form, "a b", "x&y=z/é");
    host->form_add(ctx, &form, "skipped", NULL);
    host->form_add(ctx, &form, "c", "");
    /* Session bounds: a 20000-byte value is refused; the 33rd key is refused. */
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int too_big = host->session_set(ctx, "big", big);
    for (int i = 0; i < 40 && over_keys == LATCH_CONNECTOR_OK; i++)
        over_keys = host->session_set(ctx, host->format(ctx, "k%d", i), "1");
    host->session_set(ctx, "k0", NULL); /* removes it */
    host->session_set(ctx, "kept", "yes");

    void *mem = host->alloc(ctx, 100);
    int zeroed = mem != NULL && ((unsigned char *)mem)[99] == 0;

#define S(x) host->json_string(ctx, (x))
    out->id = "probe";
    out->raw_json = host->format(
        ctx,
        "{\"nested\":%s,\"index\":%s,\"number\":%s,\"bool\":%s,\"missing\":%s,\"object\":%s,"
        "\"notjson\":%s,\"base64\":%s,\"base64_empty\":%s,\"form\":%s,\"quote\":%s,"
        "\"cfg_default\":%s,\"cfg_number\":%s,\"cfg_switch\":%s,\"cfg_json\":%s,\"cfg_unset\":%s,"
        "\"cfg_extra\":%s,\"too_big\":%d,\"over_keys\":%d,\"session_k0\":%s,\"zeroed\":%d,"
        "\"host\":\"%u.%u\",\"crypto\":%s,\"codec\":%s,\"trailing_dot\":%s,\"empty_segment\":%s}",
        S(host->json_get(ctx, doc, "data.user.id")), S(host->json_get(ctx, doc, "list.1.v")),
        S(host->json_get(ctx, doc, "n")), S(host->json_get(ctx, doc, "ok")),
        S(host->json_get(ctx, doc, "data.nope")), S(host->json_get(ctx, doc, "data")),
        S(host->json_get(ctx, "{not json", "a")), S(host->base64(ctx, "user:pass", 9)),
        S(host->base64(ctx, "", 0)), S(form), S("a\"b\n"), S(host->config_get(ctx, "scope")),
        S(host->config_get(ctx, "retries")), S(host->config_get(ctx, "pkce")),
        S(host->config_get(ctx, "mapping")), S(host->config_get(ctx, "clientSecret")),
        S(host->config_get(ctx, "extra")), too_big, over_keys, S(host->session_get(ctx, "k0")),
        zeroed, host->host_major, host->host_minor, crypto_probe(ctx, host), codec_probe(ctx, host),
        S(host->json_get(ctx, doc, "data.user.id.")), S(host->json_get(ctx, doc, "data..user.id")));
#undef S
    return out->raw_json != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static const struct latch_connector_ops ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .get_authorization_uri = get_authorization_uri,
    .get_user_info = get_user_info,
};

#define EN(s) ((const struct latch_connector_i18n[]){{"en", s}, {NULL, NULL}})

static const struct latch_connector_field fields[] = {
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_TEXT,
     .key = "clientSecret",
     .confidential = 1,
     .label = EN("Client secret")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_TEXT,
     .key = "scope",
     .default_value = "profile",
     .label = EN("Scope")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_NUMBER,
     .key = "retries",
     .default_value = "3",
     .label = EN("Retries")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_SWITCH,
     .key = "pkce",
     .label = EN("PKCE")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_JSON,
     .key = "mapping",
     .label = EN("Mapping")},
};

static const struct latch_connector_descriptor descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = LATCH_CONNECTOR_SOCIAL,
    .id = "probe-social",
    .target = "probe",
    .version = "1.0.0",
    .name = EN("Probe"),
    .description = EN("Reports what the host services return."),
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .ops = &ops,
};

LATCH_CONNECTOR_DEFINE(descriptor)
