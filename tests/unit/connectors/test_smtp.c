/*
 * connectors/smtp/: the SMTP email connector, loaded from the build's smtp.so with dlopen (as
 * latchd loads it) and driven through validate_config and send_message with a fake host services
 * table written here: config in a table with the schema's defaults, json_get and json_members
 * with dotted paths on core/util's bounded JSON reader, render_template on core/util/template
 * (the real host's renderer), base64 and random bytes from OpenSSL, and an smtp_send that
 * records the request instead of connecting. Checked: the descriptor (Logto's factory id and
 * keys, the confidential auth), Logto's config checks, nodemailer's TLS switches mapped onto the
 * three modes (no TLS only for localhost), the template choice (tenant's, the type's, Generic),
 * and the message as built: headers, RFC 2047 subjects, quoted-printable bodies that decode to
 * the filled-in template, HTML escaping of values, CRLF everywhere, no header injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <yajl/yajl_tree.h>

#include <latch/connector.h>

#include "util/arena.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/template.h"

#ifndef LATCH_TEST_SMTP_SO
#error "the build passes LATCH_TEST_SMTP_SO, the path of smtp.so"
#endif

#define MAX_ITEMS 32

/* ---- the fake host ---- */

struct kv {
    const char *key;
    const char *value;
};

struct latch_connector_ctx {
    struct latch_arena *arena;
    struct kv config[MAX_ITEMS];
    size_t nconfig;
    char last_log[1024];
    /* smtp_send: what it returns, and the last request it got (copies) */
    int smtp_rc;
    int nsent;
    struct latch_connector_smtp_request req;
    const char *rcpt0;
};

static struct latch_connector_ctx F;
static void *dl;
static const struct latch_connector_descriptor *D;

static void *fake_alloc(struct latch_connector_ctx *ctx, size_t size)
{
    return latch_arena_calloc(ctx->arena, 1, size ? size : 1);
}

static char *fake_dup(struct latch_connector_ctx *ctx, const char *s)
{
    return s != NULL ? latch_arena_strdup(ctx->arena, s) : NULL;
}

LATCH_CONNECTOR_PRINTF(2, 3)
static char *fake_format(struct latch_connector_ctx *ctx, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *out = n >= 0 ? latch_arena_alloc(ctx->arena, (size_t)n + 1) : NULL;
    if (out != NULL)
        vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

LATCH_CONNECTOR_PRINTF(3, 4)
static void fake_log(struct latch_connector_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(ctx->last_log, sizeof(ctx->last_log), fmt, ap);
    va_end(ap);
}

static const char *fake_config_get(struct latch_connector_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->nconfig; i++)
        if (strcmp(ctx->config[i].key, key) == 0)
            return ctx->config[i].value;
    for (size_t i = 0; i < D->nfields; i++)
        if (strcmp(D->fields[i].key, key) == 0)
            return D->fields[i].default_value;
    return NULL;
}

/* The value at a dotted path of a parsed document (a numeric segment indexes an array). */
static yajl_val at_path(yajl_val v, const char *path)
{
    char seg[256];
    for (const char *p = path != NULL ? path : ""; v != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(seg))
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        p += n + (p[n] == '.');
        yajl_val next = NULL;
        if (YAJL_IS_OBJECT(v)) {
            for (size_t i = 0; i < v->u.object.len; i++)
                if (strcmp(v->u.object.keys[i], seg) == 0)
                    next = v->u.object.values[i];
        } else if (YAJL_IS_ARRAY(v) && strspn(seg, "0123456789") == n) {
            size_t i = (size_t)atol(seg);
            next = i < v->u.array.len ? v->u.array.values[i] : NULL;
        }
        v = next;
    }
    return v;
}

static yajl_val parse_json(const char *json)
{
    struct latch_json_limits lim = {.max_bytes = (size_t)4 << 20, .max_depth = 64};
    struct latch_error err = {0};
    yajl_val root = NULL;
    if (json == NULL || latch_json_parse(json, strlen(json), &lim, &root, &err) != LATCH_OK)
        return NULL;
    return root;
}

static const char *scalar(struct latch_connector_ctx *ctx, yajl_val v)
{
    if (v == NULL)
        return NULL;
    if (YAJL_IS_STRING(v))
        return fake_dup(ctx, v->u.string);
    if (YAJL_IS_NUMBER(v))
        return fake_dup(ctx, v->u.number.r);
    if (YAJL_IS_TRUE(v))
        return "true";
    if (YAJL_IS_FALSE(v))
        return "false";
    return NULL;
}

static const char *fake_json_get(struct latch_connector_ctx *ctx, const char *json,
                                 const char *path)
{
    yajl_val root = parse_json(json);
    const char *out = scalar(ctx, at_path(root, path));
    yajl_tree_free(root);
    return out;
}

static int fake_json_members(struct latch_connector_ctx *ctx, const char *json, const char *path,
                             struct latch_connector_json_members *out)
{
    yajl_val root = parse_json(json);
    yajl_val obj = at_path(root, path);
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    out->count = 0;
    out->names = out->values = NULL;
    out->types = NULL;
    out->why = "is not a JSON object";
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        goto out;
    size_t n = obj->u.object.len;
    const char **names = fake_alloc(ctx, (n + 1) * sizeof(*names));
    const char **values = fake_alloc(ctx, (n + 1) * sizeof(*values));
    int *types = fake_alloc(ctx, (n + 1) * sizeof(*types));
    for (size_t i = 0; i < n; i++) {
        yajl_val v = obj->u.object.values[i];
        names[i] = fake_dup(ctx, obj->u.object.keys[i]);
        values[i] = scalar(ctx, v);
        types[i] = YAJL_IS_STRING(v)                     ? LATCH_CONNECTOR_JSON_STRING
                   : YAJL_IS_NUMBER(v)                   ? LATCH_CONNECTOR_JSON_NUMBER
                   : YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v) ? LATCH_CONNECTOR_JSON_BOOLEAN
                   : YAJL_IS_OBJECT(v)                   ? LATCH_CONNECTOR_JSON_OBJECT
                   : YAJL_IS_ARRAY(v)                    ? LATCH_CONNECTOR_JSON_ARRAY
                                                         : LATCH_CONNECTOR_JSON_NULL;
    }
    out->count = n;
    out->names = names;
    out->values = values;
    out->types = types;
    out->why = NULL;
    rc = LATCH_CONNECTOR_OK;
out:
    yajl_tree_free(root);
    return rc;
}

static char *fake_json_string(struct latch_connector_ctx *ctx, const char *s)
{
    return fake_format(ctx, "\"%s\"", s != NULL ? s : "");
}

static char *fake_base64(struct latch_connector_ctx *ctx, const void *data, size_t len)
{
    size_t cap = latch_base64_encoded_len(len) + 1;
    char *out = fake_alloc(ctx, cap);
    return out != NULL && latch_base64_encode(data, len, out, cap) >= 0 ? out : NULL;
}

static int fake_random_bytes(struct latch_connector_ctx *ctx, void *buf, size_t len)
{
    (void)ctx;
    return RAND_bytes(buf, (int)len) == 1 ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static char *fake_render_template(struct latch_connector_ctx *ctx, const char *tpl,
                                  const struct latch_connector_param *vars, size_t nvars,
                                  unsigned flags)
{
    const char **names = fake_alloc(ctx, (nvars + 1) * sizeof(*names));
    const char **values = fake_alloc(ctx, (nvars + 1) * sizeof(*values));
    for (size_t i = 0; i < nvars; i++) {
        names[i] = vars[i].name;
        values[i] = vars[i].value;
    }
    return latch_template_render(ctx->arena, tpl, names, values, nvars,
                                 flags & LATCH_CONNECTOR_RENDER_HTML ? LATCH_TEMPLATE_HTML : 0);
}

static int fake_smtp_send(struct latch_connector_ctx *ctx,
                          const struct latch_connector_smtp_request *req,
                          struct latch_connector_smtp_response *resp)
{
    ctx->nsent++;
    ctx->req = *req;
    ctx->rcpt0 = req->nrcpt > 0 ? req->rcpt[0] : NULL;
    resp->code = ctx->smtp_rc == LATCH_CONNECTOR_OK ? 250 : 535;
    resp->message = ctx->smtp_rc == LATCH_CONNECTOR_OK ? "accepted" : "refused";
    return ctx->smtp_rc;
}

static const struct latch_connector_host host = {
    .struct_size = sizeof(struct latch_connector_host),
    .host_major = LATCH_CONNECTOR_ABI_MAJOR,
    .host_minor = LATCH_CONNECTOR_ABI_MINOR,
    .alloc = fake_alloc,
    .dup = fake_dup,
    .format = fake_format,
    .log_msg = fake_log,
    .config_get = fake_config_get,
    .json_get = fake_json_get,
    .json_string = fake_json_string,
    .base64 = fake_base64,
    .random_bytes = fake_random_bytes,
    .json_members = fake_json_members,
    .render_template = fake_render_template,
    .smtp_send = fake_smtp_send,
};

/* ---- helpers ---- */

static int setup(void **state)
{
    (void)state;
    dl = dlopen(LATCH_TEST_SMTP_SO, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", LATCH_TEST_SMTP_SO, dlerror());
        return -1;
    }
    latch_connector_describe_fn describe =
        (latch_connector_describe_fn)dlsym(dl, LATCH_CONNECTOR_DESCRIBE_SYMBOL);
    return describe == NULL || (D = describe()) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    dlclose(dl);
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    F.arena = latch_arena_new(0);
    return F.arena == NULL ? -1 : 0;
}

static int cleanup(void **state)
{
    (void)state;
    latch_arena_free(F.arena);
    memset(&F, 0, sizeof(F));
    return 0;
}

static void config(const char *key, const char *value)
{
    for (size_t i = 0; i < F.nconfig; i++)
        if (strcmp(F.config[i].key, key) == 0) {
            F.config[i].value = value;
            return;
        }
    assert_true(F.nconfig < MAX_ITEMS);
    F.config[F.nconfig].key = key;
    F.config[F.nconfig++].value = value;
}

#define TEMPLATES                                                                                  \
    "[{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":\"Sign in: "            \
    "{{code}}\",\"content\":\"Your sign-in code is {{ code }}.\"},"                                \
    "{\"usageType\":\"Register\",\"contentType\":\"text/plain\",\"subject\":\"Register\","         \
    "\"content\":\"Register {{code}}\"},"                                                          \
    "{\"usageType\":\"ForgotPassword\",\"contentType\":\"text/html\",\"subject\":\"Reset\","       \
    "\"content\":\"<p>Code <b>{{code}}</b> <a href=\\\"{{link}}\\\">reset</a></p>\"},"             \
    "{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Generic\","           \
    "\"content\":\"Generic {{code}}\"}]"

static void good_config(void)
{
    config("host", "smtp.example.com");
    config("port", "587");
    config("auth", "{\"user\":\"mailer\",\"pass\":\"pa55\"}");
    config("fromEmail", "Example <noreply@example.com>");
    config("templates", TEMPLATES);
}

static const char *validate(void)
{
    const char *why = NULL;
    int rc = D->ops->validate_config(&F, &host, &why);
    assert_true((rc == LATCH_CONNECTOR_OK) == (why == NULL));
    return why;
}

static int send_as(int type, const char *type_name, const char *to, const char *link)
{
    struct latch_connector_param vars[] = {{"code", "123456"}, {"link", link}, {"locale", "es"}};
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = (uint32_t)type;
    msg.type_name = type_name;
    msg.to = to;
    msg.vars = vars;
    msg.nvars = link != NULL ? 3 : 1;
    return D->ops->send_message(&F, &host, &msg);
}

/* The value of header name in the sent message (unfolded), or NULL. */
static char *header(const char *name)
{
    const char *data = F.req.data;
    const char *end = strstr(data, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *l = data; l != NULL && l < end; l = strstr(l, "\r\n") + 2) {
        if (strncmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 2;
            const char *e = v;
            /* a folded header continues on lines that start with a space */
            while ((e = strstr(e, "\r\n")) != NULL && e[2] == ' ')
                e += 2;
            return latch_arena_strndup(F.arena, v, (size_t)(e - v));
        }
    }
    return NULL;
}

/* The body, quoted-printable decoded. */
static char *body(void)
{
    const char *p = strstr(F.req.data, "\r\n\r\n") + 4;
    char *out = latch_arena_alloc(F.arena, strlen(p) + 1), *o = out;
    while (*p != '\0') {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 3;
        } else if (p[0] == '=') {
            char hex[3] = {p[1], p[2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Every line ends in CRLF, and none is longer than max characters (the 78 RFC 5322 §2.1.1
 * recommends for headers; quoted-printable lines are 76 at most). */
static void assert_lines(size_t max)
{
    const char *d = F.req.data;
    assert_int_equal(F.req.data_len, strlen(d));
    for (const char *l = d; *l != '\0';) {
        const char *e = strstr(l, "\r\n");
        assert_non_null(e);
        for (const char *c = l; c < e; c++)
            assert_true(*c != '\r' && *c != '\n');
        if ((size_t)(e - l) > max)
            fail_msg("line longer than %zu: %.*s", max, (int)(e - l), l);
        l = e + 2;
    }
}

/* ---- tests ---- */

static void test_descriptor(void **state)
{
    (void)state;
    assert_string_equal(D->id, "simple-mail-transfer-protocol");
    assert_string_equal(D->target, "smtp");
    assert_int_equal(D->kind, LATCH_CONNECTOR_EMAIL);
    assert_int_equal(D->abi_minor, 1);
    assert_non_null(D->ops->send_message);
    assert_null(D->ops->get_authorization_uri);
    assert_non_null(strstr(D->logo, "<svg"));
    assert_true(strncmp(D->readme, "# SMTP connector", 16) == 0);
    static const char *const keys[] = {"host",      "port",   "auth",       "fromEmail", "replyTo",
                                       "templates", "secure", "requireTLS", "ignoreTLS"};
    assert_int_equal(D->nfields, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < D->nfields; i++) {
        assert_string_equal(D->fields[i].key, keys[i]);
        /* auth holds the password: encrypted at rest, never shown in full. */
        assert_int_equal(D->fields[i].confidential != 0, strcmp(keys[i], "auth") == 0);
    }
    yajl_val t = yajl_tree_parse(D->config_template, NULL, 0);
    assert_non_null(t);
    yajl_tree_free(t);
}

static void test_validate_config(void **state)
{
    (void)state;
    good_config();
    assert_null(validate());

    /* Logto's rule: the four required usage types. */
    config("templates", "[{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":"
                        "\"s\",\"content\":\"c\"}]");
    assert_string_equal(validate(), "Template with UsageType (Register, ForgotPassword, Generic) "
                                    "should be provided!");
    config("templates", "[{\"usageType\":\"SignIn\",\"contentType\":\"text/markdown\","
                        "\"subject\":\"s\",\"content\":\"c\"}]");
    assert_string_equal(validate(), "templates[0].contentType must be text/plain or text/html.");
    config("templates", "[{\"usageType\":\"SignIn\",\"subject\":\"s\"}]");
    assert_non_null(strstr(validate(), "templates[0] needs the strings"));
    config("templates", "{\"SignIn\":{}}");
    assert_non_null(strstr(validate(), "templates must be a JSON array"));
    config("templates", "[5]");
    assert_string_equal(validate(), "templates[0] must be an object.");
    config("templates", TEMPLATES);

    config("port", "0");
    assert_string_equal(validate(), "port must be a number from 1 to 65535.");
    config("port", "587");
    config("host", "smtp example");
    assert_non_null(strstr(validate(), "host must be"));
    config("host", "smtp.example.com");
    config("fromEmail", "not an address");
    assert_non_null(strstr(validate(), "fromEmail must be"));
    config("fromEmail", "Example <noreply@example.com");
    assert_non_null(strstr(validate(), "fromEmail must be"));
    config("fromEmail", "noreply@example.com");
    assert_null(validate());
    config("replyTo", "two@@example.com");
    assert_non_null(strstr(validate(), "replyTo must be"));
    config("replyTo", "");
    config("auth", "{\"type\":\"oauth2\",\"user\":\"u\",\"privateKey\":\"k\"}");
    assert_string_equal(validate(), "auth.type: only login (user and pass) is supported.");
    config("auth", "{\"user\":\"u\"}");
    assert_string_equal(validate(), "auth needs user and pass.");
    config("auth", "{\"type\":\"LOGIN\",\"user\":\"u\",\"pass\":\"p\"}");
    assert_null(validate());

    /* No TLS: for a server on this machine only. */
    config("ignoreTLS", "true");
    assert_non_null(strstr(validate(), "ignoreTLS (mail without TLS) is allowed only"));
    config("host", "localhost");
    assert_null(validate());
    config("host", "127.0.0.1");
    assert_null(validate());
    config("host", "10.0.0.5");
    assert_non_null(validate());
    /* secure wins: TLS from the first byte is fine anywhere. */
    config("secure", "true");
    assert_null(validate());
}

static void test_message_and_envelope(void **state)
{
    (void)state;
    good_config();
    config("replyTo", "help@example.com");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_SIGN_IN, "SignIn", "ada@example.org", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.nsent, 1);
    /* The envelope: STARTTLS (secure off, ignoreTLS unset), AUTH, MAIL FROM the bare address. */
    assert_string_equal(F.req.host, "smtp.example.com");
    assert_int_equal(F.req.port, 587);
    assert_int_equal(F.req.tls, LATCH_CONNECTOR_SMTP_TLS_STARTTLS);
    assert_string_equal(F.req.username, "mailer");
    assert_string_equal(F.req.password, "pa55");
    assert_string_equal(F.req.mail_from, "noreply@example.com");
    assert_int_equal(F.req.nrcpt, 1);
    assert_string_equal(F.rcpt0, "ada@example.org");
    assert_int_equal(F.req.struct_size, sizeof(struct latch_connector_smtp_request));

    assert_lines(78);
    assert_string_equal(header("From"), "\"Example\" <noreply@example.com>");
    assert_string_equal(header("To"), "ada@example.org");
    assert_string_equal(header("Reply-To"), "help@example.com");
    assert_string_equal(header("Subject"), "Sign in: 123456");
    assert_string_equal(header("MIME-Version"), "1.0");
    assert_string_equal(header("Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(header("Content-Transfer-Encoding"), "quoted-printable");
    /* Message-ID: 32 hex digits at the sender's domain. */
    const char *id = header("Message-ID");
    assert_int_equal(strlen(id), 1 + 32 + strlen("@example.com") + 1);
    assert_int_equal(strspn(id + 1, "0123456789ABCDEF"), 32);
    assert_string_equal(id + 33, "@example.com>");
    /* Date: "Thu, 03 Dec 2026 07:00:00 +0000" */
    const char *date = header("Date");
    char day[4], mon[4];
    int d, y, h, m, s;
    assert_int_equal(
        sscanf(date, "%3s, %2d %3s %4d %2d:%2d:%2d +0000", day, &d, mon, &y, &h, &m, &s), 7);
    assert_int_equal(strlen(date), 31);
    assert_string_equal(body(), "Your sign-in code is 123456.\r\n");
}

static void test_template_choice(void **state)
{
    (void)state;
    good_config();
    /* The type's own template. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_REGISTER, "Register", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(header("Subject"), "Register");
    assert_string_equal(body(), "Register 123456\r\n");
    /* No template for the type: Generic. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION,
                             "OrganizationInvitation", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(header("Subject"), "Generic");
    assert_string_equal(body(), "Generic 123456\r\n");

    /* The tenant's template wins over the configured one. */
    struct latch_connector_param vars[] = {{"code", "654321"}, {"organization", "<Acme>"}};
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = LATCH_CONNECTOR_TEMPLATE_SIGN_IN;
    msg.type_name = "SignIn";
    msg.to = "a@b.example";
    msg.vars = vars;
    msg.nvars = 2;
    msg.subject = "{{organization}} code";
    msg.content = "<p>{{code}} for {{organization}}</p>";
    msg.content_type = "text/html";
    assert_int_equal(D->ops->send_message(&F, &host, &msg), LATCH_CONNECTOR_OK);
    /* The subject is text: not escaped. The HTML body: values escaped. */
    assert_string_equal(header("Subject"), "<Acme> code");
    assert_string_equal(header("Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(body(), "<p>654321 for &lt;Acme&gt;</p>\r\n");
}

static void test_html_template_escapes_values(void **state)
{
    (void)state;
    good_config();
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_FORGOT_PASSWORD, "ForgotPassword",
                             "a@b.example", "https://x.example/r?a=1&b=\"><script>"),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(header("Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(body(), "<p>Code <b>123456</b> <a href=\"https://x.example/r?a=1&amp;b="
                                "&quot;&gt;&lt;script&gt;\">reset</a></p>\r\n");
    assert_lines(78);
    /* '=' is encoded, as quoted-printable requires. */
    assert_non_null(strstr(F.req.data, "href=3D"));
}

/* 115 characters: a line that needs a soft break. */
#define XS                                                                                         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxx"

static void test_encodings(void **state)
{
    (void)state;
    good_config();
    config("fromEmail", "Équipe \"Latch\" <noreply@example.com>");
    /* A subject in Spanish, a long body line with a trailing space, '=' and non-ASCII. */
    config("templates",
           "[{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Tu código "
           "de verificación es {{code}} — válido durante diez minutos, señor Ñandú\","
           "\"content\":\"Línea = {{code}} ends with a space \\n" XS "\\r\\nlast\"},"
           "{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":\"s\","
           "\"content\":\"c\"},{\"usageType\":\"Register\",\"contentType\":\"text/plain\","
           "\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":\"ForgotPassword\","
           "\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":\"c\"}]");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_lines(78);
    /* The subject: encoded words of at most 75 characters, decoding to the filled-in text. */
    char *subject = header("Subject");
    char decoded[1024] = "";
    for (char *w = strtok(subject, " \r\n"); w != NULL; w = strtok(NULL, " \r\n")) {
        size_t n = strlen(w);
        assert_true(n <= 75);
        assert_true(strncmp(w, "=?UTF-8?B?", 10) == 0 && strcmp(w + n - 2, "?=") == 0);
        unsigned char raw[64];
        ssize_t r = latch_base64_decode(w + 10, n - 12, raw, sizeof(raw));
        assert_true(r > 0);
        strncat(decoded, (const char *)raw, (size_t)r);
    }
    assert_string_equal(decoded, "Tu código de verificación es 123456 — válido durante diez "
                                 "minutos, señor Ñandú");
    /* The display name: encoded too (not ASCII). */
    char *from = header("From");
    assert_true(strncmp(from, "=?UTF-8?B?", 10) == 0);
    assert_non_null(strstr(from, "?= <noreply@example.com>"));
    /* The body decodes to the text, its line breaks as CRLF. */
    assert_string_equal(body(), "Línea = 123456 ends with a space \r\n" XS "\r\nlast\r\n");
    assert_non_null(strstr(F.req.data, "L=C3=ADnea =3D 123456 ends with a space=20\r\n"));
}

/* A subject can hold no line break, whatever the template says: no header can be added. */
static void test_no_header_injection(void **state)
{
    (void)state;
    good_config();
    config("templates",
           "[{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Hi\\r\\nBcc: "
           "evil@example.net\",\"content\":\"c\"},{\"usageType\":\"SignIn\",\"contentType\":"
           "\"text/plain\",\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":\"Register\","
           "\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":"
           "\"ForgotPassword\",\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":"
           "\"c\"}]");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(header("Subject"), "Hi  Bcc: evil@example.net");
    assert_null(header("Bcc"));
    /* A recipient the host would refuse is refused here too. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic",
                             "a@b.example\r\nBcc: evil@example.net", NULL),
                     LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(F.nsent, 1);
}

static void test_tls_modes_and_failures(void **state)
{
    (void)state;
    good_config();
    config("secure", "true");
    config("port", "465");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.req.tls, LATCH_CONNECTOR_SMTP_TLS_IMPLICIT);
    assert_int_equal(F.req.port, 465);
    config("secure", "false");
    config("ignoreTLS", "true");
    config("host", "localhost");
    config("port", "25");
    config("auth", "{\"user\":\"\",\"pass\":\"\"}");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.req.tls, LATCH_CONNECTOR_SMTP_TLS_NONE);
    assert_null(F.req.username); /* empty user: no AUTH */
    /* A configuration the checks refuse is never sent. */
    config("host", "mail.example.com");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_int_equal(F.nsent, 2);
    assert_non_null(strstr(F.last_log, "ignoreTLS"));
    /* smtp_send's status is the operation's. */
    config("ignoreTLS", "false");
    F.smtp_rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    F.smtp_rc = LATCH_CONNECTOR_ERR_TIMEOUT;
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(F.nsent, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_validate_config, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_message_and_envelope, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_template_choice, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_html_template_escapes_values, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_encodings, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_no_header_injection, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_tls_modes_and_failures, fresh, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
