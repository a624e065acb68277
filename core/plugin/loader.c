/*
 * The connector loader (plugin_internal.h): opens one .so and checks it the way PostgreSQL's
 * dfmgr checks a module's magic block, one clear message per check, naming the file and what is
 * wrong, and nothing left loaded when a check fails.
 *
 * The checks, in order: the path resolves (symbolic links followed) inside the connector
 * directory; it is a regular file nobody but its owner can write; dlopen(RTLD_NOW | RTLD_LOCAL)
 * succeeds; latch_connector_describe is exported and returns a descriptor; its magic; abi_major
 * equal to ours; abi_minor not newer than ours; the descriptor's struct_size at least ABI 1.0's;
 * kind supported (email and SMS from ABI 1.1 on); id, target and version well formed; name and
 * description with English text; an ops table at least ABI 1.0's size with the operations its
 * kind requires (social: get_authorization_uri and get_user_info; email and SMS: send_message,
 * which an ops table shorter than 1.1's lacks); the config schema
 * (struct sizes, keys unique and well formed, types known, labels, defaults of the right type).
 *
 * The file is hashed (SHA-256: the identity of a version) through a descriptor that stays open
 * while the connector is loaded, and dlopen()ed as /proc/self/fd/<n>, so the code loaded is the
 * file hashed, and a new file installed at the path of a version still loaded (an upgrade by
 * `mv`) is loaded as a new object rather than found by name among the loaded ones.
 */
#include "plugin/plugin_internal.h"
#include "util/hex.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#define MAX_FILE_BYTES  ((off_t)64 << 20)
#define MAX_TEXT_BYTES  ((size_t)1 << 20) /* logo, readme, a description */
#define MAX_JSON_DEPTH  32
#define ID_MAX          127
#define TARGET_MAX      63
#define VERSION_MAX     31
#define FIELD_KEY_MAX   64
#define LANG_TAG_MAX    35
#define CODE_PATH       "plugin.path"
#define CODE_FILE       "plugin.file"
#define CODE_DLOPEN     "plugin.dlopen"
#define CODE_SYMBOL     "plugin.symbol"
#define CODE_MAGIC      "plugin.magic"
#define CODE_ABI        "plugin.abi_version"
#define CODE_SIZE       "plugin.struct_size"
#define CODE_DESCRIPTOR "plugin.descriptor"
#define CODE_OPS        "plugin.ops"
#define CODE_SCHEMA     "plugin.schema"

/* ---- the file ---- */

void latch_plugin_file_close(struct plugin_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static bool sha256_fd(int fd, char out[65])
{
    unsigned char buf[65536];
    unsigned char md[32];
    unsigned int mdlen = 0;
    off_t off = 0;
    bool ok = false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            goto out;
        off += n;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != sizeof(md))
        goto out;
    ok = latch_hex_encode(md, sizeof(md), out, 65) == 64;
out:
    EVP_MD_CTX_free(ctx);
    return ok;
}

latch_rc latch_plugin_file_open(const char *dir, const char *path, struct plugin_file *f,
                                struct latch_error *err)
{
    char full[PATH_MAX];
    char real[PATH_MAX];
    size_t dlen;
    struct stat st;
    int n;

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (dir == NULL || dir[0] == '\0')
        return latch_error_set(err, 0, CODE_PATH,
                               "%s: no connector directory is configured (LATCH_CONNECTOR_DIR)",
                               path);
    if (path == NULL || path[0] == '\0')
        return latch_error_set(err, 0, CODE_PATH, "no connector file named");
    if (path[0] == '/')
        n = snprintf(full, sizeof(full), "%s", path);
    else
        n = snprintf(full, sizeof(full), "%s/%s", dir, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        return latch_error_set(err, 0, CODE_PATH, "%.200s: the path is too long", path);
    if (realpath(full, real) == NULL)
        return latch_error_set(err, 0, CODE_PATH, "%.200s: cannot resolve the path (%s)", path,
                               strerror(errno));
    dlen = strlen(dir);
    if (strncmp(real, dir, dlen) != 0 || real[dlen] != '/')
        return latch_error_set(err, 0, CODE_PATH,
                               "%.200s: resolves to %.200s, outside the connector directory "
                               "%.200s",
                               path, real, dir);
    if (strlen(real) >= sizeof(f->path) || strlen(real + dlen + 1) >= sizeof(f->relname))
        return latch_error_set(err, 0, CODE_PATH, "%.200s: the path is too long", path);
    strcpy(f->path, real);
    strcpy(f->relname, real + dlen + 1);

    f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (f->fd < 0) {
        latch_error_set(err, 0, CODE_FILE, "%s: cannot open (%s)", f->relname, strerror(errno));
        goto fail;
    }
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        latch_error_set(err, 0, CODE_FILE, "%s: not a regular file", f->relname);
        goto fail;
    }
    if (st.st_mode & S_IWOTH) {
        /* Anyone could have put code there that latchd would then run. */
        latch_error_set(err, 0, CODE_FILE,
                        "%s: writable by every user (mode %04o); refusing to load code anyone "
                        "could have replaced",
                        f->relname, (unsigned)(st.st_mode & 07777));
        goto fail;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        latch_error_set(err, 0, CODE_FILE, "%s: larger than %lld MiB", f->relname,
                        (long long)(MAX_FILE_BYTES >> 20));
        goto fail;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!sha256_fd(f->fd, f->sha256)) {
        latch_error_set(err, 0, CODE_FILE, "%s: cannot read (%s)", f->relname, strerror(errno));
        goto fail;
    }
    return LATCH_OK;
fail:
    latch_error_detail(err, "file: %s", f->path);
    latch_plugin_file_close(f);
    return LATCH_FAIL;
}

/* ---- dlopen ---- */

/*
 * glibc finds an object already loaded under the same name before looking at the file, so the
 * name we dlopen must not be the name of an object still loaded: a /proc/self/fd/<n> whose
 * number a closed (or not yet unloaded) object used before. Moves *fd to another number until
 * its name is free. An object found by inode instead (the same file, loaded under another name)
 * is the same code and fine.
 */
static bool free_fd_name(int *fd, char *name, size_t cap)
{
    for (int tries = 0; tries < 64; tries++) {
        snprintf(name, cap, "/proc/self/fd/%d", *fd);
        void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
        if (h == NULL) {
            (void)dlerror();
            return true;
        }
        struct link_map *lm = NULL;
        bool clash = dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL || lm->l_name == NULL ||
                     strcmp(lm->l_name, name) == 0;
        dlclose(h);
        if (!clash)
            return true;
        int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1);
        if (nfd < 0)
            return false;
        close(*fd);
        *fd = nfd;
    }
    return false;
}

/* dlerror() names the object by the name we gave it; name the file instead. */
static void dl_failed(struct latch_error *err, const struct plugin_file *f, const char *fdname)
{
    const char *msg = dlerror();
    size_t n = strlen(fdname);

    if (msg == NULL)
        msg = "unknown error";
    if (strncmp(msg, fdname, n) == 0 && msg[n] == ':')
        msg += n + 1;
    while (*msg == ' ')
        msg++;
    latch_error_set(err, 0, CODE_DLOPEN, "%s: cannot load: %.300s", f->relname, msg);
}

/* ---- descriptor checks ---- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool valid_id(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n == 0 || n > max || s[0] == '-' || s[0] == '_' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

static bool valid_version(const char *s)
{
    size_t n = strnlen(s, VERSION_MAX + 1);

    if (n == 0 || n > VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return true;
}

static bool valid_key(const char *s)
{
    size_t n = strnlen(s, FIELD_KEY_MAX + 1);

    if (n == 0 || n > FIELD_KEY_MAX)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* A BCP 47-shaped tag: letters, digits and inner '-'. */
static bool valid_lang(const char *s)
{
    size_t n = strnlen(s, LANG_TAG_MAX + 1);

    if (n == 0 || n > LANG_TAG_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

const char *latch_plugin_text_en(const struct latch_connector_i18n *t)
{
    for (int i = 0; t != NULL && i < PLUGIN_MAX_I18N && t[i].lang != NULL; i++)
        if (strcmp(t[i].lang, "en") == 0)
            return t[i].text;
    return NULL;
}

/* A localized text: terminated, tags well formed, texts bounded, "en" present. */
static latch_rc check_text(const struct plugin_file *f, const char *what,
                           const struct latch_connector_i18n *t, struct latch_error *err)
{
    bool en = false;
    int i;

    if (t == NULL)
        return latch_error_set(err, 0, CODE_DESCRIPTOR, "%s: %s is missing (English required)",
                               f->relname, what);
    for (i = 0; i < PLUGIN_MAX_I18N && t[i].lang != NULL; i++) {
        if (!valid_lang(t[i].lang))
            return latch_error_set(err, 0, CODE_DESCRIPTOR,
                                   "%s: %s: entry %d has an invalid language tag", f->relname, what,
                                   i);
        size_t n = t[i].text != NULL ? strnlen(t[i].text, MAX_TEXT_BYTES + 1) : 0;
        if (t[i].text == NULL || n > MAX_TEXT_BYTES || !latch_plugin_utf8_ok(t[i].text, n))
            return latch_error_set(err, 0, CODE_DESCRIPTOR,
                                   "%s: %s: the \"%s\" text is missing, longer than 1 MiB or "
                                   "not UTF-8",
                                   f->relname, what, t[i].lang);
        if (strcmp(t[i].lang, "en") == 0)
            en = true;
    }
    if (i == PLUGIN_MAX_I18N)
        return latch_error_set(err, 0, CODE_DESCRIPTOR,
                               "%s: %s: more than %d languages, or no {NULL, NULL} at the end",
                               f->relname, what, PLUGIN_MAX_I18N - 1);
    if (!en)
        return latch_error_set(err, 0, CODE_DESCRIPTOR, "%s: %s has no English (\"en\") text",
                               f->relname, what);
    return LATCH_OK;
}

static bool valid_json(const char *text)
{
    yajl_val v = latch_plugin_json_parse(text, MAX_TEXT_BYTES, MAX_JSON_DEPTH);
    if (v == NULL)
        return false;
    yajl_tree_free(v);
    return true;
}

static bool valid_number(const char *s)
{
    yajl_val v = latch_plugin_json_parse(s, 64, 1);
    bool ok = v != NULL && YAJL_IS_NUMBER(v);
    yajl_tree_free(v);
    return ok;
}

static const char *const field_type_names[] = {NULL,     "Text",   "MultilineText",
                                               "Number", "Switch", "Json"};

/* Checks the schema and copies it into host-sized structs (members a 1.0 field lacks: zero). */
static latch_rc check_fields(const struct plugin_file *f,
                             const struct latch_connector_descriptor *d,
                             struct latch_connector_field **out, struct latch_error *err)
{
    struct latch_connector_field *copy = NULL;
    const unsigned char *base = (const unsigned char *)d->fields;
    uint32_t stride;

    *out = NULL;
    if (d->nfields == 0)
        return LATCH_OK;
    if (d->nfields > PLUGIN_MAX_FIELDS)
        return latch_error_set(err, 0, CODE_SCHEMA, "%s: config schema has %zu fields; at most %d",
                               f->relname, d->nfields, PLUGIN_MAX_FIELDS);
    if (d->fields == NULL)
        return latch_error_set(err, 0, CODE_SCHEMA,
                               "%s: config schema: nfields is %zu but fields "
                               "is NULL",
                               f->relname, d->nfields);
    stride = d->fields[0].struct_size;
    if (stride < PLUGIN_FIELD_SIZE_1_0)
        return latch_error_set(err, 0, CODE_SIZE,
                               "%s: config field fields[0]: struct_size is %" PRIu32
                               " bytes, smaller than ABI 1.0's %zu",
                               f->relname, stride, (size_t)PLUGIN_FIELD_SIZE_1_0);
    copy = calloc(d->nfields, sizeof(*copy));
    if (copy == NULL)
        return latch_error_set(err, 0, CODE_SCHEMA, "%s: out of memory", f->relname);
    for (size_t i = 0; i < d->nfields; i++) {
        const struct latch_connector_field *src =
            (const struct latch_connector_field *)(const void *)(base + i * stride);
        struct latch_connector_field *fl = &copy[i];

        if (src->struct_size != stride) {
            latch_error_set(err, 0, CODE_SIZE,
                            "%s: config field fields[%zu]: struct_size %" PRIu32
                            " differs from fields[0]'s %" PRIu32
                            " (every field has the same struct_size)",
                            f->relname, i, src->struct_size, stride);
            goto fail;
        }
        memcpy(fl, src, stride < sizeof(*fl) ? stride : sizeof(*fl));
        fl->struct_size = sizeof(*fl);
        if (fl->key == NULL || !valid_key(fl->key)) {
            latch_error_set(err, 0, CODE_SCHEMA,
                            "%s: config field fields[%zu]: invalid key: expected 1 to %d letters, "
                            "digits or '_', starting with a letter",
                            f->relname, i, FIELD_KEY_MAX);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(copy[j].key, fl->key) == 0) {
                latch_error_set(err, 0, CODE_SCHEMA,
                                "%s: config field fields[%zu]: duplicate key \"%s\" (also "
                                "fields[%zu])",
                                f->relname, i, fl->key, j);
                goto fail;
            }
        }
        if (fl->type < LATCH_CONNECTOR_FIELD_TEXT || fl->type > LATCH_CONNECTOR_FIELD_JSON) {
            latch_error_set(err, 0, CODE_SCHEMA,
                            "%s: config field \"%s\": unknown type %" PRIu32
                            "; expected 1 (Text) to 5 (Json)",
                            f->relname, fl->key, fl->type);
            goto fail;
        }
        char what[96];
        snprintf(what, sizeof(what), "config field \"%s\": label", fl->key);
        if (check_text(f, what, fl->label, err) != LATCH_OK)
            goto fail;
        snprintf(what, sizeof(what), "config field \"%s\": description", fl->key);
        if (fl->description != NULL && check_text(f, what, fl->description, err) != LATCH_OK)
            goto fail;
        if (fl->default_value != NULL) {
            const char *dv = fl->default_value;
            size_t dlen = strnlen(dv, MAX_TEXT_BYTES + 1);
            bool ok = dlen <= MAX_TEXT_BYTES && latch_plugin_utf8_ok(dv, dlen);
            if (ok && fl->type == LATCH_CONNECTOR_FIELD_NUMBER)
                ok = valid_number(dv);
            else if (ok && fl->type == LATCH_CONNECTOR_FIELD_SWITCH)
                ok = strcmp(dv, "true") == 0 || strcmp(dv, "false") == 0;
            else if (ok && fl->type == LATCH_CONNECTOR_FIELD_JSON)
                ok = valid_json(dv);
            if (!ok) {
                latch_error_set(err, 0, CODE_SCHEMA,
                                "%s: config field \"%s\": default value is not a valid %s value",
                                f->relname, fl->key, field_type_names[fl->type]);
                goto fail;
            }
        }
    }
    *out = copy;
    return LATCH_OK;
fail:
    free(copy);
    return LATCH_FAIL;
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case LATCH_CONNECTOR_SOCIAL:
        return "social";
    case LATCH_CONNECTOR_EMAIL:
        return "email";
    case LATCH_CONNECTOR_SMS:
        return "SMS";
    default:
        return NULL;
    }
}

/* The operations every social connector has. */
static latch_rc check_social_ops(const struct plugin_file *f, const struct latch_plugin *p,
                                 struct latch_error *err)
{
    if (p->ops.get_authorization_uri == NULL)
        return latch_error_set(err, 0, CODE_OPS,
                               "%s: social connector lacks the required operation "
                               "get_authorization_uri",
                               f->relname);
    if (p->ops.get_user_info == NULL)
        return latch_error_set(err, 0, CODE_OPS,
                               "%s: social connector lacks the required operation get_user_info",
                               f->relname);
    return LATCH_OK;
}

static latch_rc check_descriptor(const struct plugin_file *f,
                                 const struct latch_connector_descriptor *d, struct latch_plugin *p,
                                 struct latch_error *err)
{
    /* The first 16 bytes have the same layout in every major version. */
    if (d->magic != LATCH_CONNECTOR_MAGIC)
        return latch_error_set(err, 0, CODE_MAGIC,
                               "%s: bad magic 0x%016" PRIx64 " in the descriptor (expected "
                               "0x%016" PRIx64 ", \"LATCHCON\"): not a Latch connector descriptor",
                               f->relname, d->magic, LATCH_CONNECTOR_MAGIC);
    if (d->abi_major != LATCH_CONNECTOR_ABI_MAJOR)
        return latch_error_set(err, 0, CODE_ABI,
                               "%s: built for connector ABI %u.%u; this host loads ABI %d.x "
                               "only: rebuild it against the Latch %d.x headers",
                               f->relname, d->abi_major, d->abi_minor, LATCH_CONNECTOR_ABI_MAJOR,
                               LATCH_CONNECTOR_ABI_MAJOR);
    if (d->abi_minor > LATCH_CONNECTOR_ABI_MINOR)
        return latch_error_set(err, 0, CODE_ABI,
                               "%s: needs connector ABI %u.%u; this host provides %d.%d: upgrade "
                               "Latch, or build the connector against older headers",
                               f->relname, d->abi_major, d->abi_minor, LATCH_CONNECTOR_ABI_MAJOR,
                               LATCH_CONNECTOR_ABI_MINOR);
    if (d->struct_size < PLUGIN_DESCRIPTOR_SIZE_1_0)
        return latch_error_set(err, 0, CODE_SIZE,
                               "%s: descriptor struct_size is %" PRIu32
                               " bytes, smaller than ABI 1.0's %zu",
                               f->relname, d->struct_size, (size_t)PLUGIN_DESCRIPTOR_SIZE_1_0);

    /* From here on, read the host-sized copy: members an older connector lacks are zero. */
    memcpy(&p->desc, d, d->struct_size < sizeof(p->desc) ? d->struct_size : sizeof(p->desc));
    p->desc.struct_size = sizeof(p->desc);
    d = &p->desc;

    const char *kind = kind_name(d->kind);
    if (kind == NULL)
        return latch_error_set(err, 0, CODE_DESCRIPTOR,
                               "%s: unknown connector kind %" PRIu32
                               "; this host loads social (%d), email (%d) and SMS (%d) connectors",
                               f->relname, d->kind, LATCH_CONNECTOR_SOCIAL, LATCH_CONNECTOR_EMAIL,
                               LATCH_CONNECTOR_SMS);
    /* Email and SMS came with 1.1: a descriptor claiming 1.0 for them was built against a
     * header that has no send_message, so its ops table cannot be read as having one. */
    if (d->kind != LATCH_CONNECTOR_SOCIAL && d->abi_minor < 1)
        return latch_error_set(err, 0, CODE_ABI,
                               "%s: declares connector ABI %u.%u, but %s connectors need 1.1 or "
                               "later (send_message came with 1.1): declare abi_minor 1",
                               f->relname, d->abi_major, d->abi_minor, kind);
    if (d->id == NULL || !valid_id(d->id, ID_MAX))
        return latch_error_set(err, 0, CODE_DESCRIPTOR,
                               "%s: %s id: expected 1 to %d characters of a-z, 0-9, '.', '_' and "
                               "'-', starting with a letter or digit",
                               f->relname, d->id == NULL ? "no" : "invalid", ID_MAX);
    if (d->target == NULL || !valid_id(d->target, TARGET_MAX))
        return latch_error_set(err, 0, CODE_DESCRIPTOR,
                               "%s: %s target: expected 1 to %d characters of a-z, 0-9, '.', '_' "
                               "and '-', starting with a letter or digit",
                               f->relname, d->target == NULL ? "no" : "invalid", TARGET_MAX);
    if (d->version == NULL || !valid_version(d->version))
        return latch_error_set(err, 0, CODE_DESCRIPTOR,
                               "%s: %s version: expected 1 to %d printable characters without "
                               "spaces, such as 1.2.0",
                               f->relname, d->version == NULL ? "no" : "invalid", VERSION_MAX);
    if (check_text(f, "name", d->name, err) != LATCH_OK ||
        check_text(f, "description", d->description, err) != LATCH_OK)
        return LATCH_FAIL;
    const char *texts[] = {d->logo, d->logo_dark, d->readme, d->config_template};
    const char *text_names[] = {"logo", "logo_dark", "readme", "config_template"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = texts[i] != NULL ? strnlen(texts[i], MAX_TEXT_BYTES + 1) : 0;
        if (n > MAX_TEXT_BYTES || !latch_plugin_utf8_ok(texts[i], n))
            return latch_error_set(err, 0, CODE_DESCRIPTOR,
                                   "%s: %s is longer than 1 MiB or not UTF-8", f->relname,
                                   text_names[i]);
    }
    if (d->config_template != NULL && !valid_json(d->config_template))
        return latch_error_set(err, 0, CODE_DESCRIPTOR, "%s: config_template is not valid JSON",
                               f->relname);

    if (d->ops == NULL)
        return latch_error_set(err, 0, CODE_OPS, "%s: descriptor has no ops table", f->relname);
    if (d->ops->struct_size < PLUGIN_OPS_SIZE_1_0)
        return latch_error_set(err, 0, CODE_SIZE,
                               "%s: ops table struct_size is %" PRIu32
                               " bytes, smaller than ABI 1.0's %zu",
                               f->relname, d->ops->struct_size, (size_t)PLUGIN_OPS_SIZE_1_0);
    memcpy(&p->ops, d->ops,
           d->ops->struct_size < sizeof(p->ops) ? d->ops->struct_size : sizeof(p->ops));
    p->ops.struct_size = sizeof(p->ops);
    /* A size that ends inside send_message (not a table of any header) has none. */
    if (d->ops->struct_size < PLUGIN_OPS_SIZE_1_1)
        p->ops.send_message = NULL;
    if (d->kind == LATCH_CONNECTOR_SOCIAL) {
        if (check_social_ops(f, p, err) != LATCH_OK)
            return LATCH_FAIL;
    } else if (p->ops.send_message == NULL) {
        /* An ops table too short to hold send_message lacks it. */
        return latch_error_set(err, 0, CODE_OPS,
                               "%s: %s connector lacks the required operation send_message",
                               f->relname, kind);
    }
    return check_fields(f, d, &p->fields, err);
}

/* ---- loading ---- */

latch_rc latch_plugin_load_file(struct plugin_file *f, struct latch_plugin **out,
                                struct latch_error *err)
{
    struct latch_plugin *p = NULL;
    char fdname[64];
    latch_connector_describe_fn describe;
    const struct latch_connector_descriptor *d;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        latch_error_set(err, 0, CODE_DLOPEN, "%s: out of memory", f->relname);
        goto fail;
    }
    p->fd = -1;
    if (!free_fd_name(&f->fd, fdname, sizeof(fdname))) {
        latch_error_set(err, 0, CODE_DLOPEN, "%s: cannot load: no usable file descriptor (%s)",
                        f->relname, strerror(errno));
        goto fail;
    }
    p->handle = dlopen(fdname, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        dl_failed(err, f, fdname);
        goto fail;
    }
    /* dlsym may legitimately return NULL for a symbol; treat that as absent too. */
    (void)dlerror();
    *(void **)&describe = dlsym(p->handle, LATCH_CONNECTOR_DESCRIBE_SYMBOL);
    if (describe == NULL) {
        (void)dlerror();
        latch_error_set(err, 0, CODE_SYMBOL, "%s: not a Latch connector: it does not export %s()",
                        f->relname, LATCH_CONNECTOR_DESCRIBE_SYMBOL);
        goto fail;
    }
    d = describe();
    if (d == NULL) {
        latch_error_set(err, 0, CODE_SYMBOL, "%s: %s() returned NULL", f->relname,
                        LATCH_CONNECTOR_DESCRIBE_SYMBOL);
        goto fail;
    }
    if (check_descriptor(f, d, p, err) != LATCH_OK)
        goto fail;

    struct latch_plugin_info *info = &p->info;
    snprintf(info->id, sizeof(info->id), "%s", p->desc.id);
    snprintf(info->target, sizeof(info->target), "%s", p->desc.target);
    snprintf(info->version, sizeof(info->version), "%s", p->desc.version);
    memcpy(info->sha256, f->sha256, sizeof(info->sha256));
    snprintf(info->path, sizeof(info->path), "%s", f->path);
    info->abi_major = d->abi_major;
    info->abi_minor = d->abi_minor;
    info->kind = (int)p->desc.kind;
    snprintf(p->relname, sizeof(p->relname), "%s", f->relname);
    p->dev = f->dev;
    p->ino = f->ino;
    p->fd = f->fd;
    f->fd = -1;
    p->state = PLUGIN_NEW;
    *out = p;
    return LATCH_OK;
fail:
    latch_error_detail(err, "file: %s", f->path);
    if (p != NULL) {
        if (p->handle != NULL)
            dlclose(p->handle);
        free(p->fields);
        free(p);
    }
    latch_plugin_file_close(f);
    return LATCH_FAIL;
}

latch_rc latch_plugin_open(const char *dir, const char *path, struct latch_plugin **out,
                           struct latch_error *err)
{
    struct plugin_file f;

    *out = NULL;
    if (latch_plugin_file_open(dir, path, &f, err) != LATCH_OK)
        return LATCH_FAIL;
    return latch_plugin_load_file(&f, out, err);
}

void latch_plugin_close(struct latch_plugin *p)
{
    char fdname[64];

    if (p == NULL)
        return;
    if (p->handle != NULL)
        dlclose(p->handle);
    if (p->fd >= 0) {
        /* An object that cannot be unloaded (marked nodelete) keeps its name: keep its number
         * too, so no later file is dlopen()ed under that name. */
        snprintf(fdname, sizeof(fdname), "/proc/self/fd/%d", p->fd);
        void *h = dlopen(fdname, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
        if (h != NULL) {
            struct link_map *lm = NULL;
            bool same = dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL &&
                        strcmp(lm->l_name, fdname) == 0;
            dlclose(h);
            if (!same)
                close(p->fd);
        } else {
            (void)dlerror();
            close(p->fd);
        }
    }
    free(p->fields);
    free(p);
}

latch_rc latch_plugin_inspect(const char *dir, const char *path, struct latch_plugin_info *info,
                              struct latch_error *err)
{
    char real[PATH_MAX];
    struct latch_plugin *p = NULL;
    struct stat st;

    memset(info, 0, sizeof(*info));
    if (dir == NULL || realpath(dir, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return latch_error_set(err, 0, CODE_PATH, "%s: not a directory", dir ? dir : "(none)");
    if (latch_plugin_open(real, path, &p, err) != LATCH_OK)
        return LATCH_FAIL;
    *info = p->info;
    latch_plugin_close(p);
    return LATCH_OK;
}
