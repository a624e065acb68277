/*
 * latch/connector.h — the Latch connector ABI, version 1.1.
 *
 * A connector is one shared object (.so) that exports exactly one symbol:
 *
 *     const struct latch_connector_descriptor *latch_connector_describe(void);
 *
 * returning a pointer to a static, constant descriptor (LATCH_CONNECTOR_DEFINE() writes that
 * function for you). The host loads the file with dlopen(RTLD_NOW | RTLD_LOCAL), calls
 * latch_connector_describe(), checks the descriptor (magic, ABI version, sizes, required
 * operations, config schema), and from then on calls the operations on its worker pool: an
 * operation may block (its outbound HTTP does) but must be thread-safe, since several sign-ins
 * run at once. Keep no mutable global state; per-flow values go through the host's session.
 *
 * Compatibility (plugins-api/ABI.md, plugins-api/SYMBOLS): within a major version structs only
 * grow at their end and every struct that crosses the boundary in an array or through a pointer
 * starts with its own size, so a connector built against 1.0 keeps loading in every 1.x host,
 * and the host knows which members an older connector has. A connector includes nothing from
 * Latch but this header and links nothing from Latch: everything it needs is in the host
 * services table (struct latch_connector_host) passed to each operation.
 *
 * Memory: the host never frees what a connector allocated with its own allocator, and a
 * connector never frees host memory. Whatever an operation hands to the host is allocated with
 * host->alloc / host->dup / host->format (the call's arena, freed by the host when the call is
 * over), or is static.
 */
#ifndef LATCH_CONNECTOR_H
#define LATCH_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. A connector built against it declares these numbers in its
 * descriptor (LATCH_CONNECTOR_DESCRIPTOR_HEADER does). */
#define LATCH_CONNECTOR_ABI_MAJOR 1
#define LATCH_CONNECTOR_ABI_MINOR 1

/* "LATCHCON" */
#define LATCH_CONNECTOR_MAGIC UINT64_C(0x4c41544348434f4e)

#if defined(__GNUC__)
#define LATCH_CONNECTOR_EXPORT       __attribute__((visibility("default")))
#define LATCH_CONNECTOR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LATCH_CONNECTOR_EXPORT
#define LATCH_CONNECTOR_PRINTF(f, a)
#endif

/*
 * True when the sized struct *ptr (whose first member is uint32_t struct_size) is large enough
 * to hold member, i.e. the other side was built against a header that has it. A connector that
 * declares an older abi_minor than its header checks a newer host service this way:
 *     if (LATCH_CONNECTOR_HAS(host, struct latch_connector_host, some_later_service)) ...
 */
#define LATCH_CONNECTOR_HAS(ptr, type, member)                                                     \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* What a connector does (descriptor.kind). A 1.0 host loads social connectors only; a 1.1 host
 * loads all three (email and SMS connectors declare abi_minor 1). */
enum latch_connector_kind {
    LATCH_CONNECTOR_SOCIAL = 1,
    LATCH_CONNECTOR_EMAIL = 2, /* (1.1) sends mail: ops.send_message required */
    LATCH_CONNECTOR_SMS = 3,   /* (1.1) sends text messages: ops.send_message required */
};

/* descriptor.flags. Bits a host does not know are ignored, so a flag added in a later minor must
 * be safe to ignore. */
#define LATCH_CONNECTOR_FLAG_STANDARD                                                              \
    0x1u /* generic protocol connector (OIDC, OAuth 2.0): a                                        \
            tenant may add several instances, each with its own                                    \
            target, name and logo (Logto's isStandard) */

/* Results of operations and host services. The host maps a value it does not know to
 * LATCH_CONNECTOR_ERR_GENERAL. */
enum latch_connector_status {
    LATCH_CONNECTOR_OK = 0,
    LATCH_CONNECTOR_ERR_GENERAL = 1,
    LATCH_CONNECTOR_ERR_INVALID_CONFIG = 2,
    LATCH_CONNECTOR_ERR_INVALID_RESPONSE = 3,     /* upstream answered something unusable */
    LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED = 4, /* the person denied consent, or no code */
    LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID = 5,    /* upstream refused the code */
    LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID = 6, /* upstream refused the token (401) */
    LATCH_CONNECTOR_ERR_TIMEOUT = 7,              /* upstream did not answer in time */
    LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED = 8,
};

/* Levels of host->log_msg. */
enum latch_connector_log_level {
    LATCH_CONNECTOR_LOG_DEBUG = 0,
    LATCH_CONNECTOR_LOG_INFO = 1,
    LATCH_CONNECTOR_LOG_WARN = 2,
    LATCH_CONNECTOR_LOG_ERROR = 3,
};

/* ---- localized text ---- */

/*
 * A text in several languages: an array of {lang, text} terminated by {NULL, NULL}, with an
 * "en" entry (required) and optionally others ("es", "zh-CN"; BCP 47 tags), at most 63 entries.
 * Frozen: this struct never grows.
 */
struct latch_connector_i18n {
    const char *lang;
    const char *text;
};

/* ---- configuration schema (Logto's connector form items) ---- */

enum latch_connector_field_type {
    LATCH_CONNECTOR_FIELD_TEXT = 1,           /* a string */
    LATCH_CONNECTOR_FIELD_MULTILINE_TEXT = 2, /* a string */
    LATCH_CONNECTOR_FIELD_NUMBER = 3,         /* a JSON number */
    LATCH_CONNECTOR_FIELD_SWITCH = 4,         /* a JSON boolean */
    LATCH_CONNECTOR_FIELD_JSON = 5,           /* a JSON object or array */
};

/*
 * One config field. descriptor.fields is an array of these; every element has the same
 * struct_size, and the host walks the array with that stride, so an array built against 1.0
 * stays readable when the struct grows.
 */
struct latch_connector_field {
    uint32_t struct_size;      /* sizeof(struct latch_connector_field) */
    uint32_t type;             /* enum latch_connector_field_type */
    const char *key;           /* e.g. "clientId": a letter, then letters, digits or '_'; unique */
    int required;              /* non-zero: a config must set it */
    int confidential;          /* non-zero: encrypted at rest, never shown in full (secrets) */
    const char *default_value; /* as config_get returns it; NULL: none */
    const struct latch_connector_i18n *label;       /* required, with "en" */
    const struct latch_connector_i18n *description; /* may be NULL */
};

/* ---- per-call context ---- */

/* Opaque: one per operation call, valid only during it. Pass it back to the host services. */
struct latch_connector_ctx;

/* An outbound HTTP header (host service). Frozen. */
struct latch_connector_http_header {
    const char *name;
    const char *value; /* no CR or LF */
};

/* An outbound HTTP request, built by the connector (declare it with
 * LATCH_CONNECTOR_HTTP_REQUEST_INIT so struct_size is right). */
struct latch_connector_http_request {
    uint32_t struct_size;
    uint32_t timeout_ms;                               /* 0: the host's default (5 s) */
    const char *method;                                /* "GET", "POST"; NULL: GET */
    const char *url;                                   /* https only */
    const struct latch_connector_http_header *headers; /* may be NULL */
    size_t nheaders;                                   /* at most 32 */
    const char *body;                                  /* may be NULL */
    size_t body_len;
};

/* The answer, filled by the host (declare it with LATCH_CONNECTOR_HTTP_RESPONSE_INIT). */
struct latch_connector_http_response {
    uint32_t struct_size;
    int status;               /* HTTP status; redirects are not followed */
    const char *body;         /* NUL-terminated, in the call's arena; "" when empty */
    size_t body_len;          /* without the NUL */
    const char *content_type; /* in the arena; NULL when the answer had none */
};

/* (1.1) The JSON type of a member json_members reports. */
enum latch_connector_json_type {
    LATCH_CONNECTOR_JSON_NULL = 0,
    LATCH_CONNECTOR_JSON_STRING = 1,
    LATCH_CONNECTOR_JSON_NUMBER = 2,
    LATCH_CONNECTOR_JSON_BOOLEAN = 3,
    LATCH_CONNECTOR_JSON_OBJECT = 4,
    LATCH_CONNECTOR_JSON_ARRAY = 5,
};

/* (1.1) The most members json_members reports; a larger object is refused. */
#define LATCH_CONNECTOR_JSON_MEMBERS_MAX 256

/*
 * (1.1) What json_members fills (declare it with LATCH_CONNECTOR_JSON_MEMBERS_INIT). The three
 * arrays have count elements each (NULL when count is 0) and live in the call's arena: names[i] is
 * a member's name, types[i] its enum latch_connector_json_type, and values[i] its value as text the
 * way json_get gives scalars (a string as is, a number in JSON notation, a boolean as "true" or
 * "false"), or NULL for null, an object or an array. types[] tells the string "5" from the
 * number 5. On failure count is 0, the arrays NULL, and why a short phrase (static or arena) saying
 * what is wrong with the document ("is not valid JSON: duplicate key `id`", "is not a JSON
 * object"), meant to follow the document's name in a message to an administrator.
 */
struct latch_connector_json_members {
    uint32_t struct_size;
    size_t count;
    const char *const *names;
    const char *const *values;
    const int *types;
    const char *why;
};

/* ---- (1.1) messages: email and SMS connectors ---- */

/* A name/value pair: a callback parameter (the query or form of <tenant endpoint>/callback/<id>)
 * or a message variable. Frozen. */
struct latch_connector_param {
    const char *name;
    const char *value;
};

/* (1.1) Why a message is sent (Logto's TemplateType; latch_connector_message.type). A connector
 * picks its template by the type's name (message.type_name: "SignIn", "Register", ...), and uses
 * the "Generic" template when it has none for the type. Later minors may add types. */
enum latch_connector_template {
    LATCH_CONNECTOR_TEMPLATE_SIGN_IN = 1,                    /* "SignIn" */
    LATCH_CONNECTOR_TEMPLATE_REGISTER = 2,                   /* "Register" */
    LATCH_CONNECTOR_TEMPLATE_FORGOT_PASSWORD = 3,            /* "ForgotPassword" */
    LATCH_CONNECTOR_TEMPLATE_GENERIC = 4,                    /* "Generic" (tests, admin use) */
    LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION = 5,    /* "OrganizationInvitation" */
    LATCH_CONNECTOR_TEMPLATE_USER_PERMISSION_VALIDATION = 6, /* "UserPermissionValidation" */
    LATCH_CONNECTOR_TEMPLATE_BIND_NEW_IDENTIFIER = 7,        /* "BindNewIdentifier" */
    LATCH_CONNECTOR_TEMPLATE_MFA_VERIFICATION = 8,           /* "MfaVerification" */
    LATCH_CONNECTOR_TEMPLATE_BIND_MFA = 9,                   /* "BindMfa" */
};

/*
 * (1.1) One message to send: the input of send_message, built by the host (declare it with
 * LATCH_CONNECTOR_MESSAGE_INIT in tests). Strings are the host's, valid during the call.
 *
 * vars are Logto's SendMessagePayload as name/value pairs: "code" (a verification code),
 * "link" (a URL), "locale" (the resolved BCP 47 tag), "uiLocales" (the request's ui_locales),
 * and per type "inviter", "organization", "applicationName", ... A template refers to them as
 * {{name}} (host->render_template fills them in).
 *
 * subject/content/content_type carry the tenant's own template for this type and locale when an
 * administrator set one (Logto's email templates, /api/email-templates): a connector that sends
 * mail uses them instead of its configured template. NULL when the tenant has none.
 */
struct latch_connector_message {
    uint32_t struct_size;
    uint32_t type;                            /* enum latch_connector_template */
    const char *type_name;                    /* Logto's name of type: "SignIn", "Generic", ... */
    const char *to;                           /* an email address, or a phone number in E.164
                                                 digits without '+' (Logto's form) */
    const char *locale;                       /* BCP 47 ("es", "en-US"); NULL: none known */
    const struct latch_connector_param *vars; /* see above; NULL when nvars is 0 */
    size_t nvars;                             /* at most 32 */
    const char *ip;                           /* the client that caused it; may be NULL */
    const char *subject;                      /* the tenant's template (see above), or NULL */
    const char *content;
    const char *content_type; /* "text/html" or "text/plain"; NULL with content NULL */
};

/* (1.1) How an SMTP connection is protected (latch_connector_smtp_request.tls). */
enum latch_connector_smtp_tls {
    LATCH_CONNECTOR_SMTP_TLS_IMPLICIT = 1, /* TLS from the first byte (port 465, "smtps") */
    LATCH_CONNECTOR_SMTP_TLS_STARTTLS = 2, /* plain, then STARTTLS, which the server must offer */
    LATCH_CONNECTOR_SMTP_TLS_NONE = 3,     /* no TLS: the host allows it to loopback only */
};

/* (1.1) The most recipients one smtp_send takes. */
#define LATCH_CONNECTOR_SMTP_RCPT_MAX 16

/*
 * (1.1) One mail handed to an SMTP server (host->smtp_send; declare it with
 * LATCH_CONNECTOR_SMTP_REQUEST_INIT). data is the whole RFC 5322 message (headers, an empty
 * line, the body), lines ending in CRLF; the host does the dot-stuffing of the SMTP DATA phase.
 */
struct latch_connector_smtp_request {
    uint32_t struct_size;
    uint32_t timeout_ms;     /* 0: the host's default (10 s) */
    const char *host;        /* a DNS name or an IP literal */
    uint16_t port;           /* 0: 465 for IMPLICIT, 587 otherwise */
    uint32_t tls;            /* enum latch_connector_smtp_tls */
    const char *username;    /* AUTH (PLAIN or LOGIN, as the server offers); NULL: none */
    const char *password;    /* with username */
    const char *mail_from;   /* the envelope sender: an address without <> */
    const char *const *rcpt; /* envelope recipients: addresses without <> */
    size_t nrcpt;            /* 1 to LATCH_CONNECTOR_SMTP_RCPT_MAX */
    const char *data;        /* the message */
    size_t data_len;         /* at most 1 MiB */
};

/* (1.1) What smtp_send reports (declare it with LATCH_CONNECTOR_SMTP_RESPONSE_INIT). */
struct latch_connector_smtp_response {
    uint32_t struct_size;
    int code;            /* the server's last reply code (250 after a delivered message; 535 for
                            refused credentials ...); 0 when no reply arrived */
    const char *message; /* a short description of the outcome for the administrator (arena;
                            never holds the password), "" when none */
};

/* (1.1) host->render_template flags. */
#define LATCH_CONNECTOR_RENDER_HTML 0x1u /* escape values for HTML text and attributes */

/*
 * Services the host gives every call. The table grows at its end: a member added after the
 * minor your descriptor declares must be checked with LATCH_CONNECTOR_HAS() before use.
 * Every service is thread-safe for its ctx and may block (http does).
 */
struct latch_connector_host {
    uint32_t struct_size;
    uint32_t host_major, host_minor; /* the host's ABI version */

    /* Memory in the call's arena, freed by the host after the call. NULL only when the call's
     * memory budget (8 MiB) is exhausted. alloc is 16-byte aligned and zeroed. */
    void *(*alloc)(struct latch_connector_ctx *ctx, size_t size);
    char *(*dup)(struct latch_connector_ctx *ctx, const char *s);
    char *(*format)(struct latch_connector_ctx *ctx, const char *fmt, ...)LATCH_CONNECTOR_PRINTF(2,
                                                                                                 3);

    /* Logs a line tagged with the connector id (enum latch_connector_log_level). The last
     * warning or error logged during a failed call becomes the host's detail for that failure.
     * Never pass secrets, codes or tokens. */
    void (*log_msg)(struct latch_connector_ctx *ctx, int level, const char *fmt, ...)
        LATCH_CONNECTOR_PRINTF(3, 4);

    /* The connector instance's configuration (validated against the schema): a field's value
     * as text — a string as is, a number in JSON notation, a switch as "true" or "false", a
     * Json field as JSON text — with the field's default applied; NULL when unset. Keys not in
     * the schema read the same way. */
    const char *(*config_get)(struct latch_connector_ctx *ctx, const char *key);

    /* Per-flow values the host keeps between get_authorization_uri and get_user_info (Logto's
     * connector session), e.g. the redirect URI or a PKCE verifier. Keys: 1 to 64 letters,
     * digits or '_'; at most 32 keys and 16 KiB in all. value NULL removes the key. Returns
     * LATCH_CONNECTOR_OK, or LATCH_CONNECTOR_ERR_GENERAL when a bound is hit. session_get
     * returns NULL when the key is unset. */
    int (*session_set)(struct latch_connector_ctx *ctx, const char *key, const char *value);
    const char *(*session_get)(struct latch_connector_ctx *ctx, const char *key);

    /* Outbound HTTPS with host-enforced timeouts, a response-size cap (1 MiB), TLS verification,
     * the host's CA bundle, proxy and connect-to mapping; redirects are not followed. Returns
     * LATCH_CONNECTOR_OK when an answer arrived (any status) with *resp filled, else
     * LATCH_CONNECTOR_ERR_TIMEOUT or LATCH_CONNECTOR_ERR_GENERAL (nothing usable arrived). */
    int (*http)(struct latch_connector_ctx *ctx, const struct latch_connector_http_request *req,
                struct latch_connector_http_response *resp);

    /* application/x-www-form-urlencoded (and URL query) building: appends key=value, both
     * percent-encoded, to *buf (NULL to start; a new arena string each time), with '&' between
     * pairs. A NULL value adds nothing. Returns LATCH_CONNECTOR_OK or ERR_GENERAL (memory). */
    int (*form_add)(struct latch_connector_ctx *ctx, char **buf, const char *key,
                    const char *value);

    /* JSON reading: the scalar at a dotted path ("data.user.id"; a numeric segment indexes an
     * array: "emails.0.value"; each segment at most 255 bytes) of a JSON document, as text: a
     * string as is, a number in JSON notation, a boolean as "true" or "false". NULL when the
     * document is not JSON, the path is absent, or it names null, an object or an array. Arena
     * memory. */
    const char *(*json_get)(struct latch_connector_ctx *ctx, const char *json, const char *path);

    /* JSON writing: s as a JSON string literal, quotes included ("\"a\\\"b\""); NULL s gives
     * "null". Arena memory. */
    char *(*json_string)(struct latch_connector_ctx *ctx, const char *s);

    /* Base64 (standard alphabet, padded) of data, into the arena (HTTP Basic). */
    char *(*base64)(struct latch_connector_ctx *ctx, const void *data, size_t len);

    /* ---- added in 1.1: check with LATCH_CONNECTOR_HAS() when declaring abi_minor 0 ---- */

    /* SHA-256 (FIPS 180-4) of data[0..len) into out (e.g. a PKCE S256 challenge). data may be
     * NULL when len is 0. Returns LATCH_CONNECTOR_OK, or ERR_GENERAL (out is then zeroed). */
    int (*sha256)(struct latch_connector_ctx *ctx, const void *data, size_t len,
                  unsigned char out[32]);

    /* HMAC-SHA-256 (RFC 2104) of data[0..len) under key[0..keylen) into out (e.g. a signed
     * request or webhook). key and data may be NULL when their length is 0. Returns
     * LATCH_CONNECTOR_OK, or ERR_GENERAL (out is then zeroed). */
    int (*hmac_sha256)(struct latch_connector_ctx *ctx, const void *key, size_t keylen,
                       const void *data, size_t len, unsigned char out[32]);

    /* len bytes from the host's cryptographically secure generator (OpenSSL's, seeded by the
     * kernel) into buf: nonces, PKCE verifiers, state. len at most 65536. Returns
     * LATCH_CONNECTOR_OK, or ERR_GENERAL (buf is then zeroed: never use it). */
    int (*random_bytes)(struct latch_connector_ctx *ctx, void *buf, size_t len);

    /* base64url (RFC 4648 §5) of data[0..len) without padding, as JOSE writes it (RFC 7515
     * §2), into the arena; "" for len 0. data may be NULL when len is 0. NULL when out of
     * memory. */
    char *(*base64url)(struct latch_connector_ctx *ctx, const void *data, size_t len);

    /* Strictly decodes text[0..len) as unpadded base64url: no '=', no whitespace, no character
     * outside the URL-safe alphabet, no length 4k+1, no non-zero bits left over in the last
     * character (so each byte string has exactly one accepted spelling; JWS compact parts are
     * written this way). Returns a NUL-terminated arena buffer (the NUL is not counted; the
     * bytes may contain NULs) with *out_len the byte count, or NULL (*out_len 0) when the text
     * is not such base64url. */
    unsigned char *(*base64url_decode)(struct latch_connector_ctx *ctx, const char *text,
                                       size_t len, size_t *out_len);

    /* JSON object reading (e.g. a Json config field such as a profile map): the members of the
     * object at a dotted path of a JSON document, in document order. path as json_get takes
     * it; NULL or "" is the top level. The document is read by the host's bounded reader
     * (4 MiB, depth 64), which refuses text that is not JSON, is not well-formed UTF-8 or
     * names a member twice in any object. Fills *out (declare it with
     * LATCH_CONNECTOR_JSON_MEMBERS_INIT) and returns LATCH_CONNECTOR_OK, or returns
     * LATCH_CONNECTOR_ERR_GENERAL with out->why set when the document is refused, the path
     * is absent or names no object, or the object has more than LATCH_CONNECTOR_JSON_MEMBERS_MAX
     * members. */
    int (*json_members)(struct latch_connector_ctx *ctx, const char *json, const char *path,
                        struct latch_connector_json_members *out);
    /* Template filling (Logto's handlebars for messages): a copy of tpl in which every
     * {{name}} (spaces inside the braces allowed; name 1 to 64 letters, digits, '_', '.' or '-')
     * is replaced by the value of the first var of that name, and by "" when there is none;
     * with LATCH_CONNECTOR_RENDER_HTML each value is escaped for HTML (& < > " '), so a variable
     * cannot inject markup into a mail. Text outside the braces, and braces that do not form a
     * {{name}}, are copied as is; values are not rendered again. Arena memory; NULL when out of
     * memory, when the result would pass 1 MiB, or when tpl is NULL. (1.1) */
    char *(*render_template)(struct latch_connector_ctx *ctx, const char *tpl,
                             const struct latch_connector_param *vars, size_t nvars,
                             unsigned flags);

    /* Sends one mail through an SMTP server (libcurl in the host): the connection obeys the
     * host's outbound policy (the resolved address must be public unless the operator allows
     * private ones; TLS none only to loopback), the TLS certificate is verified with the host's
     * CA bundle, and the host's timeouts apply. Returns LATCH_CONNECTOR_OK when the server
     * accepted the message, else LATCH_CONNECTOR_ERR_INVALID_CONFIG (refused credentials, a TLS
     * mode the server does not offer, a refused address), LATCH_CONNECTOR_ERR_TIMEOUT or
     * LATCH_CONNECTOR_ERR_GENERAL, with *resp filled either way. (1.1) */
    int (*smtp_send)(struct latch_connector_ctx *ctx,
                     const struct latch_connector_smtp_request *req,
                     struct latch_connector_smtp_response *resp);
};

/* ---- operations ---- */

/* Input of get_authorization_uri (built by the host). */
struct latch_connector_auth_request {
    uint32_t struct_size;
    const char *state;        /* opaque, bound to the sign-in by the host */
    const char *redirect_uri; /* <tenant endpoint>/callback/<connector id> */
    const char *scope;        /* NULL: the connector's configured or default scope */
};

/* The profile a social connector reads (Logto's SocialUserInfo), allocated by the host with its
 * own size, zeroed; the connector sets what it knows (strings in the arena or static). */
struct latch_connector_user_info {
    uint32_t struct_size;
    int email_verified; /* non-zero when upstream says the email is verified */
    const char *id;     /* required: the upstream's stable user id */
    const char *name;   /* may stay NULL, like every member below */
    const char *email;
    const char *phone;
    const char *avatar;   /* an https URL */
    const char *raw_json; /* the whole upstream profile as a JSON object (kept as is) */
};

#define LATCH_CONNECTOR_HTTP_REQUEST_INIT                                                          \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_http_request)                                 \
    }
#define LATCH_CONNECTOR_HTTP_RESPONSE_INIT                                                         \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_http_response)                                \
    }
#define LATCH_CONNECTOR_JSON_MEMBERS_INIT                                                          \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_json_members)                                 \
    }
#define LATCH_CONNECTOR_MESSAGE_INIT                                                               \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_message)                                      \
    }
#define LATCH_CONNECTOR_SMTP_REQUEST_INIT                                                          \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_smtp_request)                                 \
    }
#define LATCH_CONNECTOR_SMTP_RESPONSE_INIT                                                         \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_smtp_response)                                \
    }
#define LATCH_CONNECTOR_AUTH_REQUEST_INIT                                                          \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_auth_request)                                 \
    }
#define LATCH_CONNECTOR_USER_INFO_INIT                                                             \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_user_info)                                    \
    }

/*
 * The operations, called by the host on its worker pool. Each returns an enum
 * latch_connector_status; on failure, log (host->log_msg, warn or error) what went wrong.
 */
struct latch_connector_ops {
    uint32_t struct_size; /* sizeof(struct latch_connector_ops) */

    /* Required (social): the URL to send the person to; *uri in the arena. */
    int (*get_authorization_uri)(struct latch_connector_ctx *ctx,
                                 const struct latch_connector_host *host,
                                 const struct latch_connector_auth_request *req, char **uri);

    /* Required (social): exchanges the callback parameters for the person's profile. */
    int (*get_user_info)(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out);

    /* Optional (NULL): checks a configuration beyond the schema, reading it with
     * host->config_get; on failure *why (arena or static) says what is wrong, for the admin. */
    int (*validate_config)(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                           const char **why);
    /* (1.1) Required (email, SMS): sends msg to msg->to (Logto's sendMessage), reading the
     * connector's config with host->config_get. LATCH_CONNECTOR_OK once the provider accepted
     * it; on failure log why (never the code or link). Email and SMS connectors leave the
     * social operations NULL. */
    int (*send_message)(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const struct latch_connector_message *msg);
};

/*
 * What latch_connector_describe() returns. The first 16 bytes (magic, struct_size, abi_major,
 * abi_minor) keep their place in every major version, so any host can tell any connector's ABI.
 */
struct latch_connector_descriptor {
    uint64_t magic;       /* LATCH_CONNECTOR_MAGIC */
    uint32_t struct_size; /* sizeof(struct latch_connector_descriptor) */
    uint16_t abi_major;   /* LATCH_CONNECTOR_ABI_MAJOR */
    uint16_t abi_minor;   /* the oldest minor whose features the connector uses; by default
                             LATCH_CONNECTOR_ABI_MINOR. The host refuses a newer one. */

    uint32_t kind;  /* enum latch_connector_kind */
    uint32_t flags; /* LATCH_CONNECTOR_FLAG_* */

    const char *id;      /* factory id, unique: "huggingface-universal" (1 to 127 of a-z 0-9 . _ -,
                            starting with a letter or digit) */
    const char *target;  /* provider key: "huggingface" (1 to 63, same characters) */
    const char *version; /* the connector's own version, e.g. "1.2.0" (1 to 31 printable
                            characters, no spaces) */
    const struct latch_connector_i18n *name;        /* required, with "en" */
    const struct latch_connector_i18n *description; /* required, with "en" */
    const char *logo;            /* an SVG document or a data: URI; may be NULL */
    const char *logo_dark;       /* may be NULL */
    const char *readme;          /* Markdown for administrators; may be NULL */
    const char *config_template; /* an example config, JSON text; may be NULL */

    const struct latch_connector_field *fields; /* the config schema; NULL when nfields is 0 */
    size_t nfields;                             /* at most 64 */

    const struct latch_connector_ops *ops;
};

/* Designated initializers for the head of a descriptor:
 *     static const struct latch_connector_descriptor d = {
 *         LATCH_CONNECTOR_DESCRIPTOR_HEADER, .kind = LATCH_CONNECTOR_SOCIAL, ...};  */
#define LATCH_CONNECTOR_DESCRIPTOR_HEADER                                                          \
    LATCH_CONNECTOR_DESCRIPTOR_HEADER_MINOR(LATCH_CONNECTOR_ABI_MINOR)

/* (1.1) The same, declaring an older minor: the oldest whose features the connector uses, so
 * that older hosts load it too. Services newer than minor must then be checked with
 * LATCH_CONNECTOR_HAS() before use:
 *     LATCH_CONNECTOR_DESCRIPTOR_HEADER_MINOR(0), .kind = LATCH_CONNECTOR_SOCIAL, ...  */
#define LATCH_CONNECTOR_DESCRIPTOR_HEADER_MINOR(minor)                                             \
    .magic = LATCH_CONNECTOR_MAGIC, .struct_size = sizeof(struct latch_connector_descriptor),      \
    .abi_major = LATCH_CONNECTOR_ABI_MAJOR, .abi_minor = (minor)

typedef const struct latch_connector_descriptor *(*latch_connector_describe_fn)(void);

/* The one symbol a connector exports. */
#define LATCH_CONNECTOR_DESCRIBE_SYMBOL "latch_connector_describe"

LATCH_CONNECTOR_EXPORT const struct latch_connector_descriptor *latch_connector_describe(void);

/* Defines latch_connector_describe() returning &descriptor (a static const object). */
#define LATCH_CONNECTOR_DEFINE(descriptor)                                                         \
    LATCH_CONNECTOR_EXPORT const struct latch_connector_descriptor *latch_connector_describe(void) \
    {                                                                                              \
        return &(descriptor);                                                                      \
    }

#ifdef __cplusplus
}
#endif

#endif
