/*
 * plugin/: the loader's checks, each with its exact message, on connectors broken on purpose
 * (tests/abi/); the registry (scan, duplicate ids, upgrade while a sign-in is under way,
 * unload, rescan, upgrade by mv); calls through the host services; a connector built against
 * the frozen ABI 1.0 header; and 1,000 load/unload cycles that must leak neither memory (the
 * ASan build's LeakSanitizer checks at exit) nor file descriptors.
 *
 * Each test gets a fresh connector directory under /tmp with copies of the .so files it needs
 * (the build passes their paths), and shuts the registry down afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "outbound/outbound.h"
#include "plugin/plugin.h"
#include "plugin/plugin_internal.h"
#include "util/log.h"

#include "../../abi/layout_list.h"
#include "../outbound/fake_smtp.h"

#ifndef LATCH_TEST_ABI_DIR
#error "the build passes LATCH_TEST_ABI_DIR and the connector paths"
#endif

extern const struct latch_abi_member latch_abi_frozen_members[];
extern const size_t latch_abi_frozen_nmembers;
extern const struct latch_abi_constant latch_abi_frozen_constants[];
extern const size_t latch_abi_frozen_nconstants;

static char root[256];    /* the test's temporary directory */
static char dir[512];     /* root/connectors: the connector directory */
static char outside[512]; /* root/outside */

/* ---- helpers ---- */

static void copy_file(const char *src, const char *dst_dir, const char *name, mode_t mode)
{
    char dst[PATH_MAX];
    char buf[65536];
    ssize_t n;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    snprintf(dst, sizeof(dst), "%s/%s", dst_dir, name);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    assert_true(out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    assert_int_equal(fchmod(out, mode), 0);
    close(out);
}

static void put(const char *src, const char *name)
{
    copy_file(src, dir, name, 0755);
}

static void put_abi(const char *name)
{
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/%s", LATCH_TEST_ABI_DIR, name);
    put(src, name);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[PATH_MAX];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void count_one(struct latch_plugin *p, void *arg)
{
    (void)p;
    (*(int *)arg)++;
}

static int count_current(void)
{
    int n = 0;
    latch_plugin_each(count_one, &n);
    return n;
}

/* The current version of id, or "" when none. */
static const char *current_version(const char *id)
{
    static char v[32];
    struct latch_plugin *p = latch_plugin_get(id);
    v[0] = '\0';
    if (p != NULL) {
        snprintf(v, sizeof(v), "%s", latch_plugin_info(p)->version);
        latch_plugin_unref(p);
    }
    return v;
}

/* Redirects stderr (the log) to a file while `fn` runs; returns what was logged (static). */
static const char *captured_log(void (*fn)(void))
{
    static char buf[65536];
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/log.txt", root);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static yajl_val parse(const char *json)
{
    assert_non_null(json);
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    assert_non_null(v);
    return v;
}

static const char *str_at(yajl_val v, const char *a, const char *b)
{
    const char *path[] = {a, b, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_any);
    if (x == NULL || YAJL_IS_NULL(x))
        return NULL;
    if (YAJL_IS_STRING(x))
        return x->u.string;
    if (YAJL_IS_NUMBER(x))
        return x->u.number.r;
    return YAJL_IS_TRUE(x) ? "true" : "false";
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/latch-plugin-test-XXXXXX";
    char real[PATH_MAX];
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL || strlen(real) >= sizeof(root))
        return -1;
    strcpy(root, real);
    snprintf(dir, sizeof(dir), "%s/connectors", root);
    snprintf(outside, sizeof(outside), "%s/outside", root);
    if (mkdir(dir, 0755) != 0 || mkdir(outside, 0755) != 0)
        return -1;
    latch_plugin_set_retire_ttl(LATCH_PLUGIN_RETIRE_SECONDS);
    latch_log_set_level(LATCH_LOG_WARN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    latch_plugin_shutdown();
    remove_tree(root);
    return 0;
}

static void init_dir(void)
{
    struct latch_error err;
    latch_error_clear(&err);
    assert_int_equal(latch_plugin_init(dir, &err), LATCH_OK);
}

/* ---- the ABI itself ---- */

/* Every member of every 1.0 struct keeps its offset and size; the 1.0 constants their values. */
static void test_layout_matches_frozen_1_0(void **state)
{
    (void)state;
    static const struct latch_abi_member current[] = {LATCH_ABI_1_0_MEMBERS(LATCH_ABI_MEMBER)};
    static const struct latch_abi_constant constants[] = {
        LATCH_ABI_1_0_CONSTANTS(LATCH_ABI_CONSTANT)};
    assert_int_equal(latch_abi_frozen_nmembers, sizeof(current) / sizeof(current[0]));
    for (size_t i = 0; i < latch_abi_frozen_nmembers; i++) {
        assert_string_equal(latch_abi_frozen_members[i].name, current[i].name);
        if (latch_abi_frozen_members[i].offset != current[i].offset ||
            latch_abi_frozen_members[i].size != current[i].size)
            fail_msg("%s moved: 1.0 has offset %zu size %zu, now %zu/%zu", current[i].name,
                     latch_abi_frozen_members[i].offset, latch_abi_frozen_members[i].size,
                     current[i].offset, current[i].size);
    }
    assert_int_equal(latch_abi_frozen_nconstants, sizeof(constants) / sizeof(constants[0]));
    for (size_t i = 0; i < latch_abi_frozen_nconstants; i++) {
        assert_string_equal(latch_abi_frozen_constants[i].name, constants[i].name);
        assert_true(latch_abi_frozen_constants[i].value == constants[i].value);
    }
    /* The host's minimum sizes are the 1.0 sizes, whatever later minors append. */
    assert_int_equal(PLUGIN_DESCRIPTOR_SIZE_1_0, 120);
    assert_int_equal(PLUGIN_OPS_SIZE_1_0, 32);
    assert_int_equal(PLUGIN_FIELD_SIZE_1_0, 48);
}

/* ---- the loader's checks ---- */

struct broken_case {
    const char *file;
    const char *message;
    size_t size; /* when not 0, appended to message: the size the check names */
};

static void test_broken_connectors_refused_with_their_message(void **state)
{
    (void)state;
    const struct broken_case cases[] = {
        {"bad_magic.so",
         "bad_magic.so: bad magic 0x0000000000001234 in the descriptor (expected "
         "0x4c41544348434f4e, \"LATCHCON\"): not a Latch connector descriptor",
         0},
        {"major_next.so",
         "major_next.so: built for connector ABI 2.0; this host loads ABI 1.x only: rebuild it "
         "against the Latch 1.x headers",
         0},
        {"minor_newer.so",
         "minor_newer.so: needs connector ABI 1.2; this host provides 1.1: upgrade Latch, or "
         "build the connector against older headers",
         0},
        {"missing_op.so",
         "missing_op.so: social connector lacks the required operation get_user_info", 0},
        {"small_descriptor.so",
         "small_descriptor.so: descriptor struct_size is 16 bytes, smaller than ABI 1.0's ",
         PLUGIN_DESCRIPTOR_SIZE_1_0},
        {"small_ops.so", "small_ops.so: ops table struct_size is 8 bytes, smaller than ABI 1.0's ",
         PLUGIN_OPS_SIZE_1_0},
        {"no_symbol.so",
         "no_symbol.so: not a Latch connector: it does not export latch_connector_describe()", 0},
        {"dup_key.so",
         "dup_key.so: config field fields[1]: duplicate key \"clientId\" (also fields[0])", 0},
        {"bad_type.so",
         "bad_type.so: config field \"clientSecret\": unknown type 9; expected 1 (Text) to 5 "
         "(Json)",
         0},
        {"bad_id.so",
         "bad_id.so: invalid id: expected 1 to 127 characters of a-z, 0-9, '.', '_' and '-', "
         "starting with a letter or digit",
         0},
        {"no_english.so", "no_english.so: name has no English (\"en\") text", 0},
        {"email_no_send.so",
         "email_no_send.so: email connector lacks the required operation send_message", 0},
        {"email_1_0.so",
         "email_1_0.so: declares connector ABI 1.0, but email connectors need 1.1 or later "
         "(send_message came with 1.1): declare abi_minor 1",
         0},
        /* send_message set, but a 1.0-sized ops table says it is not there. */
        {"sms_short_ops.so",
         "sms_short_ops.so: SMS connector lacks the required operation send_message", 0},
        {"bad_kind.so",
         "bad_kind.so: unknown connector kind 7; this host loads social (1), email (2) and SMS "
         "(3) connectors",
         0},
    };
    int fds;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        put_abi(cases[i].file);
    init_dir(); /* the scan refuses them all */
    assert_int_equal(count_current(), 0);
    fds = count_fds();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct latch_error err;
        struct latch_plugin_info info;
        char want[512];
        latch_error_clear(&err);
        if (cases[i].size != 0)
            snprintf(want, sizeof(want), "%s%zu", cases[i].message, cases[i].size);
        else
            snprintf(want, sizeof(want), "%s", cases[i].message);
        assert_int_equal(latch_plugin_load(cases[i].file, &info, &err), LATCH_FAIL);
        assert_string_equal(err.message, want);
        assert_string_equal(info.id, "");
        /* Nothing half-loaded: no factory, no descriptor left open. */
        assert_int_equal(count_current(), 0);
        assert_int_equal(count_fds(), fds);
    }
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    char path[PATH_MAX];
    struct latch_error err;
    snprintf(path, sizeof(path), "%s/garbage.so", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("this is not an ELF file\n", f);
    fclose(f);
    init_dir();
    assert_int_equal(latch_plugin_load("garbage.so", NULL, &err), LATCH_FAIL);
    assert_string_equal(err.code, "plugin.dlopen");
    assert_string_equal(err.message, "garbage.so: cannot load: invalid ELF header");
}

static void test_paths_outside_the_directory_refused(void **state)
{
    (void)state;
    char want[4096], link_path[1024], target[1024];
    struct latch_error err;

    copy_file(LATCH_TEST_MOCK_SO, outside, "mock.so", 0755);
    snprintf(target, sizeof(target), "%s/mock.so", outside);
    snprintf(link_path, sizeof(link_path), "%s/escape.so", dir);
    assert_int_equal(symlink(target, link_path), 0);
    init_dir();
    assert_int_equal(count_current(), 0); /* the scan refused escape.so */

    assert_int_equal(latch_plugin_load("../outside/mock.so", NULL, &err), LATCH_FAIL);
    snprintf(want, sizeof(want),
             "../outside/mock.so: resolves to %s, outside the connector directory %s", target, dir);
    assert_string_equal(err.message, want);

    assert_int_equal(latch_plugin_load("escape.so", NULL, &err), LATCH_FAIL);
    snprintf(want, sizeof(want), "escape.so: resolves to %s, outside the connector directory %s",
             target, dir);
    assert_string_equal(err.message, want);

    assert_int_equal(latch_plugin_load(target, NULL, &err), LATCH_FAIL);
    snprintf(want, sizeof(want), "%s: resolves to %s, outside the connector directory %s", target,
             target, dir);
    assert_string_equal(err.message, want);

    assert_int_equal(latch_plugin_load("nope.so", NULL, &err), LATCH_FAIL);
    assert_string_equal(err.message,
                        "nope.so: cannot resolve the path (No such file or directory)");
    assert_int_equal(count_current(), 0);

    /* A symbolic link that stays inside is fine. */
    put(LATCH_TEST_MOCK_SO, "mock-1.0.so");
    snprintf(link_path, sizeof(link_path), "%s/mock-link.so", dir);
    assert_int_equal(symlink("mock-1.0.so", link_path), 0);
    assert_int_equal(latch_plugin_load("mock-link.so", NULL, &err), LATCH_OK);
    assert_string_equal(current_version("mock-social"), "1.0.0");
}

static void test_world_writable_refused(void **state)
{
    (void)state;
    struct latch_error err;
    char want[1024];
    init_dir();
    copy_file(LATCH_TEST_MOCK_SO, dir, "mock.so", 0777);
    assert_int_equal(latch_plugin_load("mock.so", NULL, &err), LATCH_FAIL);
    snprintf(want, sizeof(want),
             "mock.so: writable by every user (mode 0777); refusing to load code anyone could "
             "have replaced");
    assert_string_equal(err.message, want);

    assert_int_equal(chmod(dir, 0777), 0);
    latch_plugin_shutdown();
    assert_int_equal(latch_plugin_init(dir, &err), LATCH_FAIL);
    assert_string_equal(err.code, "plugin.directory");
    assert_int_equal(chmod(dir, 0755), 0);

    snprintf(want, sizeof(want), "%s/missing", root);
    assert_int_equal(latch_plugin_init(want, &err), LATCH_FAIL);
    assert_true(strstr(err.message, "not an existing directory") != NULL);
}

/* ---- valid connectors ---- */

static void test_mock_loads_and_renders_its_factory(void **state)
{
    (void)state;
    struct latch_plugin_info info;
    struct latch_error err;
    put(LATCH_TEST_MOCK_SO, "mock.so");
    init_dir();
    assert_int_equal(latch_plugin_load("mock.so", &info, &err), LATCH_OK);
    assert_string_equal(info.id, "mock-social");
    assert_string_equal(info.target, "mock");
    assert_string_equal(info.version, "1.0.0");
    assert_int_equal(strlen(info.sha256), 64);
    assert_int_equal(info.abi_major, 1);
    assert_int_equal(info.abi_minor, 0);
    assert_int_equal(info.kind, LATCH_CONNECTOR_SOCIAL);
    assert_true(strstr(info.path, "/connectors/mock.so") != NULL);

    struct latch_plugin *p = latch_plugin_get("mock-social");
    assert_non_null(p);
    char *json = latch_plugin_factory_json(p);
    latch_plugin_unref(p);
    yajl_val f = parse(json);
    free(json);
    assert_string_equal(str_at(f, "id", NULL), "mock-social");
    assert_string_equal(str_at(f, "target", NULL), "mock");
    assert_string_equal(str_at(f, "type", NULL), "Social");
    assert_string_equal(str_at(f, "platform", NULL), "Universal");
    assert_string_equal(str_at(f, "name", "en"), "Mock");
    assert_string_equal(str_at(f, "name", "es"), "Mock (pruebas)");
    assert_non_null(str_at(f, "description", "en"));
    assert_true(strncmp(str_at(f, "logo", NULL), "data:image/svg+xml;base64,PHN2Zy", 32) == 0);
    assert_null(str_at(f, "logoDark", NULL));
    assert_true(strncmp(str_at(f, "readme", NULL), "# Mock", 6) == 0);
    assert_string_equal(str_at(f, "isStandard", NULL), "false");
    const char *items_path[] = {"formItems", NULL};
    yajl_val items = yajl_tree_get(f, items_path, yajl_t_array);
    assert_non_null(items);
    assert_int_equal(items->u.array.len, 5);
    yajl_val secret = items->u.array.values[2];
    assert_string_equal(str_at(secret, "key", NULL), "clientSecret");
    assert_string_equal(str_at(secret, "type", NULL), "Text");
    assert_string_equal(str_at(secret, "label", NULL), "Client secret");
    assert_string_equal(str_at(secret, "isConfidential", NULL), "true");
    assert_string_equal(str_at(secret, "required", NULL), "false");
    yajl_val scope = items->u.array.values[3];
    assert_string_equal(str_at(scope, "type", NULL), "MultilineText");
    assert_string_equal(str_at(scope, "defaultValue", NULL), "profile");
    assert_string_equal(str_at(items->u.array.values[0], "required", NULL), "true");
    yajl_val params = items->u.array.values[4];
    assert_string_equal(str_at(params, "type", NULL), "Json");
    assert_string_equal(str_at(params, "isConfidential", NULL), "true");
    yajl_tree_free(f);
}

static void test_example_loads(void **state)
{
    (void)state;
    struct latch_plugin_info info;
    struct latch_error err;
    put(LATCH_TEST_EXAMPLE_SO, "example.so");
    init_dir();
    assert_int_equal(count_current(), 1);
    assert_int_equal(latch_plugin_load("example.so", &info, &err), LATCH_OK);
    assert_string_equal(info.id, "example-universal");
    assert_string_equal(current_version("example-universal"), "0.1.0");
}

static void test_mock_calls(void **state)
{
    (void)state;
    struct latch_error err;
    char *uri = NULL;
    put(LATCH_TEST_MOCK_SO, "mock.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("mock-social");
    assert_non_null(p);

    struct latch_plugin_call call = {
        .config_json = "{\"authorizationEndpoint\":\"https://up.example/auth\"}",
        .session_json = "{}",
    };
    assert_int_equal(latch_plugin_authorization_uri(
                         p, &call, "s 1", "https://latch.example/callback/m1", NULL, &uri),
                     LATCH_OK);
    assert_string_equal(uri, "https://up.example/auth?state=s%201&redirect_uri=https%3A%2F%2F"
                             "latch.example%2Fcallback%2Fm1");
    assert_string_equal(call.session_out,
                        "{\"redirectUri\":\"https://latch.example/callback/m1\"}");
    free(uri);
    char *session = call.session_out;

    const char *names[] = {"state", "id", "name", "email", "email_verified"};
    const char *values[] = {"s 1", "u-42", "Ada", "ada@example.com", "true"};
    struct latch_plugin_user user;
    call.session_json = session;
    assert_int_equal(latch_plugin_user_info(p, &call, names, values, 5, &user), LATCH_OK);
    assert_string_equal(user.id, "u-42");
    assert_string_equal(user.name, "Ada");
    assert_string_equal(user.email, "ada@example.com");
    assert_true(user.email_verified);
    assert_null(user.avatar);
    yajl_val raw = parse(user.raw_json);
    assert_string_equal(str_at(raw, "connectorVersion", NULL), "1.0.0");
    assert_string_equal(str_at(raw, "name", NULL), "Ada");
    yajl_tree_free(raw);
    latch_plugin_user_clear(&user);
    free(call.session_out);

    /* The person denied consent: the connector's status and what it logged. */
    const char *en[] = {"error"};
    const char *ev[] = {"access_denied"};
    assert_int_equal(latch_plugin_user_info(p, &call, en, ev, 1, &user), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.authorization_failed");
    assert_string_equal(call.error_detail, "mock-social 1.0.0: get_user_info returned 4: the "
                                           "upstream answered error=access_denied");
    assert_null(call.session_out);
    assert_null(user.id);

    /* No session (a callback for a flow that never started here). */
    call.session_json = "{}";
    const char *in[] = {"id"};
    const char *iv[] = {"x"};
    assert_int_equal(latch_plugin_user_info(p, &call, in, iv, 1, &user), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.general");
    assert_string_equal(call.error_detail, "mock-social 1.0.0: get_user_info returned 1: no "
                                           "redirectUri in the connector session");
    free(session);

    /* Misconfigured. */
    call.config_json = "{}";
    assert_int_equal(latch_plugin_authorization_uri(p, &call, "s", "https://r", NULL, &uri),
                     LATCH_FAIL);
    assert_null(uri);
    assert_string_equal(call.error_code, "connector.invalid_config");
    call.config_json = "[1]";
    assert_int_equal(latch_plugin_authorization_uri(p, &call, "s", "https://r", NULL, &uri),
                     LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.invalid_config");

    /* Config validation: the schema, then the connector's own check. */
    assert_int_equal(latch_plugin_validate_config(p, "{}", &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.invalid_config");
    assert_int_equal(err.status, 400);
    assert_string_equal(err.message, "authorizationEndpoint is required.");
    assert_int_equal(latch_plugin_validate_config(p, "{\"authorizationEndpoint\":5}", &err),
                     LATCH_FAIL);
    assert_string_equal(err.message, "authorizationEndpoint must be a string.");
    assert_int_equal(
        latch_plugin_validate_config(p, "{\"authorizationEndpoint\":\"ftp://x\"}", &err),
        LATCH_FAIL);
    assert_string_equal(err.message, "authorizationEndpoint must be an http:// or https:// URL.");
    assert_int_equal(latch_plugin_validate_config(p, "not json", &err), LATCH_FAIL);
    assert_string_equal(err.message, "The connector config is not a JSON object.");
    assert_int_equal(
        latch_plugin_validate_config(
            p, "{\"authorizationEndpoint\":\"https://x\",\"clientSecret\":\"s\"}", &err),
        LATCH_OK);
    latch_plugin_unref(p);
}

static void test_host_services(void **state)
{
    (void)state;
    put_abi("probe.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("probe-social");
    assert_non_null(p);
    struct latch_plugin_call call = {
        .config_json = "{\"retries\":5,\"pkce\":false,\"mapping\":{\"id\":\"sub\",\"n\":[1,2]},"
                       "\"extra\":\"e\"}",
        .session_json = "{\"given\":\"by the host\",\"num\":3}",
    };
    const char *names[] = {"doc"};
    const char *values[] = {"{\"data\":{\"user\":{\"id\":\"u1\"}},\"list\":[{\"v\":\"a\"},{\"v\":"
                            "\"b\"}],\"n\":12.5,\"ok\":true}"};
    struct latch_plugin_user user;
    assert_int_equal(latch_plugin_user_info(p, &call, names, values, 1, &user), LATCH_OK);
    yajl_val r = parse(user.raw_json);
    assert_string_equal(str_at(r, "nested", NULL), "u1");
    assert_string_equal(str_at(r, "index", NULL), "b");
    assert_string_equal(str_at(r, "number", NULL), "12.5");
    assert_string_equal(str_at(r, "bool", NULL), "true");
    assert_null(str_at(r, "missing", NULL));
    /* An empty segment names nothing, last ("data.user.id.") or in the middle. */
    assert_null(str_at(r, "trailing_dot", NULL));
    assert_null(str_at(r, "empty_segment", NULL));
    assert_null(str_at(r, "object", NULL));
    assert_null(str_at(r, "notjson", NULL));
    assert_string_equal(str_at(r, "base64", NULL), "dXNlcjpwYXNz");
    assert_string_equal(str_at(r, "base64_empty", NULL), "");
    assert_string_equal(str_at(r, "form", NULL), "a%20b=x%26y%3Dz%2F%C3%A9&c=");
    assert_string_equal(str_at(r, "quote", NULL), "a\"b\n");
    assert_string_equal(str_at(r, "cfg_default", NULL), "profile");
    assert_string_equal(str_at(r, "cfg_number", NULL), "5");
    assert_string_equal(str_at(r, "cfg_switch", NULL), "false");
    assert_string_equal(str_at(r, "cfg_json", NULL), "{\"id\":\"sub\",\"n\":[1,2]}");
    assert_null(str_at(r, "cfg_unset", NULL));
    assert_string_equal(str_at(r, "cfg_extra", NULL), "e");
    assert_string_equal(str_at(r, "too_big", NULL), "1");
    assert_string_equal(str_at(r, "over_keys", NULL), "1");
    assert_null(str_at(r, "session_k0", NULL));
    assert_string_equal(str_at(r, "zeroed", NULL), "1");
    assert_string_equal(str_at(r, "host", NULL), "1.1");
    /* 1.1: SHA-256 (FIPS 180-2 "abc", and empty input), HMAC-SHA-256 (RFC 4231 test cases 1
     * and 2), random bytes (two draws differ; over 64 KiB refused); every call's status. */
    assert_string_equal(str_at(r, "crypto", "sha256_abc"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(str_at(r, "crypto", "sha256_empty"),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(str_at(r, "crypto", "hmac_1"),
                        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_string_equal(str_at(r, "crypto", "hmac_2"),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(strlen(str_at(r, "crypto", "random_1")), 64);
    assert_string_not_equal(str_at(r, "crypto", "random_1"), str_at(r, "crypto", "random_2"));
    assert_string_not_equal(str_at(r, "crypto", "random_1"),
                            "0000000000000000000000000000000000000000000000000000000000000000");
    assert_string_equal(str_at(r, "crypto", "rcs"), "0000000");
    assert_string_equal(str_at(r, "crypto", "rc_big"), "1");
    /* 1.1 codecs: base64url on RFC 4648 §10's vectors, unpadded, with '-' and '_'; strict
     * decoding refuses padding, '+', a 4k+1 length, leftover bits, a space and a lone '='. */
    assert_string_equal(str_at(r, "codec", "encode"), ",Zg,Zm8,Zm9v,Zm9vYg,Zm9vYmE,Zm9vYmFy");
    assert_string_equal(str_at(r, "codec", "safe"), "-_-_");
    assert_string_equal(str_at(r, "codec", "empty"), "");
    assert_string_equal(str_at(r, "codec", "decoded"), "foobar");
    assert_string_equal(str_at(r, "codec", "decoded_len"), "6");
    assert_string_equal(str_at(r, "codec", "decoded_safe"), "fbffbf");
    assert_string_equal(str_at(r, "codec", "refused"), "111111");
    /* json_members: name:type:value in document order; a string "5" and a number told apart;
     * null, objects and arrays have no text. */
    assert_string_equal(str_at(r, "codec", "members"),
                        "a:1:x|n:2:-1.5e3|s:1:5|t:3:true|f:3:false|z:0:~|o:4:~|l:5:~");
    assert_string_equal(str_at(r, "codec", "nested"), "id:1:sub|\xc3\xa9:1:\xc3\xbc");
    assert_string_equal(str_at(r, "codec", "top_empty"), "id:1:sub");
    assert_string_equal(str_at(r, "codec", "empty_object"), "");
    assert_string_equal(str_at(r, "codec", "duplicate"),
                        "rc=1 count=0 why=is not valid JSON: duplicate key `id`");
    assert_string_equal(str_at(r, "codec", "not_object"),
                        "rc=1 count=0 why=has no JSON object at \"a\"");
    assert_string_equal(str_at(r, "codec", "absent"),
                        "rc=1 count=0 why=has no JSON object at \"b.c\"");
    assert_string_equal(str_at(r, "codec", "array"), "rc=1 count=0 why=is not a JSON object");
    assert_non_null(strstr(str_at(r, "codec", "not_json"), "rc=1 count=0 why=is not valid JSON"));
    assert_string_equal(str_at(r, "codec", "too_many"),
                        "rc=1 count=0 why=has more than 256 members");
    yajl_tree_free(r);

    /* The session as the host keeps it: string values only, k0 removed, at most 32 keys. */
    yajl_val s = parse(call.session_out);
    assert_string_equal(str_at(s, "given", NULL), "by the host");
    assert_null(str_at(s, "num", NULL));
    assert_null(str_at(s, "k0", NULL));
    assert_string_equal(str_at(s, "kept", NULL), "yes");
    assert_null(str_at(s, "big", NULL));
    assert_int_equal(s->u.object.len, 32);
    yajl_tree_free(s);
    free(call.session_out);
    latch_plugin_user_clear(&user);
    latch_plugin_unref(p);
}

/* A connector built against the frozen 1.0 header loads, renders and runs. */
static void test_frozen_1_0_connector_keeps_working(void **state)
{
    (void)state;
    struct latch_error err;
    char *uri = NULL;
    put_abi("frozen_1_0.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("frozen-social");
    assert_non_null(p);
    assert_int_equal(latch_plugin_info(p)->abi_major, 1);
    assert_int_equal(latch_plugin_info(p)->abi_minor, 0);

    char *json = latch_plugin_factory_json(p);
    yajl_val f = parse(json);
    free(json);
    assert_string_equal(str_at(f, "isStandard", NULL), "true");
    assert_string_equal(str_at(f, "name", "es"), "Congelado");
    assert_string_equal(str_at(f, "logo", NULL), "data:image/png;base64,iVBORw0KGgo=");
    assert_string_equal(str_at(f, "configTemplate", NULL),
                        "{\"clientId\":\"\",\"clientSecret\":\"\"}");
    const char *items_path[] = {"formItems", NULL};
    yajl_val items = yajl_tree_get(f, items_path, yajl_t_array);
    assert_non_null(items);
    assert_int_equal(items->u.array.len, 6);
    static const char *const types[] = {"Text",   "Text",   "MultilineText",
                                        "Number", "Switch", "Json"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(str_at(items->u.array.values[i], "type", NULL), types[i]);
    assert_string_equal(str_at(items->u.array.values[1], "description", NULL), "Kept secret.");
    const char *dv[] = {"defaultValue", NULL};
    yajl_val retries = yajl_tree_get(items->u.array.values[3], dv, yajl_t_number);
    yajl_val pkce = yajl_tree_get(items->u.array.values[4], dv, yajl_t_true);
    yajl_val mapping = yajl_tree_get(items->u.array.values[5], dv, yajl_t_object);
    assert_non_null(retries);
    assert_non_null(pkce);
    assert_non_null(mapping);
    yajl_tree_free(f);

    struct latch_plugin_call call = {
        .config_json = "{\"clientId\":\"cid\",\"clientSecret\":\"s\"}",
        .session_json = NULL,
    };
    assert_int_equal(latch_plugin_authorization_uri(p, &call, "st", "https://latch/cb", NULL, &uri),
                     LATCH_OK);
    assert_string_equal(uri,
                        "https://frozen.example/authorize?client_id=cid&scope=openid%20profile&"
                        "state=st");
    free(uri);
    char *session = call.session_out;
    call.session_json = session;
    const char *names[] = {"code"};
    const char *values[] = {"abc"};
    struct latch_plugin_user user;
    assert_int_equal(latch_plugin_user_info(p, &call, names, values, 1, &user), LATCH_OK);
    assert_string_equal(user.id, "frozen-abc");
    assert_string_equal(user.name, "Frozen Person");
    assert_true(user.email_verified);
    assert_string_equal(user.raw_json, "{\"code\":\"abc\",\"abi\":\"1.0\"}");
    latch_plugin_user_clear(&user);
    free(call.session_out);
    free(session);

    assert_int_equal(latch_plugin_validate_config(p, "{\"clientId\":\"a\"}", &err), LATCH_FAIL);
    assert_string_equal(err.message, "clientSecret is required.");
    assert_int_equal(latch_plugin_validate_config(
                         p, "{\"clientId\":\"a\",\"clientSecret\":\"b\",\"retries\":13}", &err),
                     LATCH_FAIL);
    assert_string_equal(err.message, "retries must not be 13.");
    assert_int_equal(latch_plugin_validate_config(
                         p, "{\"clientId\":\"a\",\"clientSecret\":\"b\",\"pkce\":\"yes\"}", &err),
                     LATCH_FAIL);
    assert_string_equal(err.message, "pkce must be true or false.");
    assert_int_equal(latch_plugin_validate_config(p,
                                                  "{\"clientId\":\"a\",\"clientSecret\":\"b\","
                                                  "\"retries\":1,\"mapping\":{\"id\":\"x\"}}",
                                                  &err),
                     LATCH_OK);
    latch_plugin_unref(p);
}

/* ---- email and SMS connectors (1.1): send_message through the real host ---- */

static char report_path[PATH_MAX];

/* The report the mailer wrote (parsed), or NULL when it wrote none; removes the file. */
static yajl_val read_report(void)
{
    static char buf[65536];
    FILE *f = fopen(report_path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(report_path);
    buf[n] = '\0';
    return parse(buf);
}

static const char *mailer_config(void)
{
    static char config[PATH_MAX + 64];
    snprintf(report_path, sizeof(report_path), "%s/report.json", root);
    snprintf(config, sizeof(config), "{\"outFile\":\"%s\"}", report_path);
    return config;
}

static void test_email_connector_loads_as_email(void **state)
{
    (void)state;
    struct latch_plugin_info info;
    struct latch_error err;
    put_abi("mailer.so");
    put_abi("mailer_sms.so");
    init_dir();
    assert_int_equal(count_current(), 2);
    assert_int_equal(latch_plugin_load("mailer.so", &info, &err), LATCH_OK);
    assert_int_equal(info.kind, LATCH_CONNECTOR_EMAIL);
    assert_int_equal(info.abi_minor, 1);

    static const char *const ids[] = {"test-mailer", "test-sms"};
    static const char *const types[] = {"Email", "Sms"};
    for (size_t i = 0; i < 2; i++) {
        struct latch_plugin *p = latch_plugin_get(ids[i]);
        assert_non_null(p);
        char *json = latch_plugin_factory_json(p);
        latch_plugin_unref(p);
        yajl_val f = parse(json);
        free(json);
        /* Logto's connector factory: type Email or Sms, and no platform. */
        assert_string_equal(str_at(f, "type", NULL), types[i]);
        const char *platform[] = {"platform", NULL};
        assert_non_null(yajl_tree_get(f, platform, yajl_t_null));
        assert_string_equal(str_at(f, "abiVersion", NULL), "1.1");
        yajl_tree_free(f);
    }
}

static void test_send_message(void **state)
{
    (void)state;
    put_abi("mailer.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("test-mailer");
    assert_non_null(p);
    struct latch_plugin_call call = {.config_json = mailer_config()};
    const char *names[] = {"code", "link", "organization"};
    const char *values[] = {"123456", "https://x.example/?a=1&b=<2>", "Acme \"A\" & Co"};
    struct latch_plugin_message msg = {
        .type = LATCH_CONNECTOR_TEMPLATE_SIGN_IN,
        .to = "ada@example.com",
        .locale = "es",
        .var_names = names,
        .var_values = values,
        .nvars = 3,
        .ip = "203.0.113.9",
    };

    /* The connector's own template, the variables as the host passed them. */
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_OK);
    yajl_val r = read_report();
    assert_non_null(r);
    char size[16];
    snprintf(size, sizeof(size), "%zu", sizeof(struct latch_connector_message));
    assert_string_equal(str_at(r, "struct_size", NULL), size);
    assert_string_equal(str_at(r, "type", NULL), "1");
    assert_string_equal(str_at(r, "type_name", NULL), "SignIn");
    assert_string_equal(str_at(r, "to", NULL), "ada@example.com");
    assert_string_equal(str_at(r, "locale", NULL), "es");
    assert_string_equal(str_at(r, "ip", NULL), "203.0.113.9");
    assert_string_equal(str_at(r, "vars", "code"), "123456");
    assert_string_equal(str_at(r, "vars", "link"), values[1]);
    assert_string_equal(str_at(r, "vars", "organization"), values[2]);
    assert_null(str_at(r, "subject", NULL));
    assert_null(str_at(r, "content_type", NULL));
    assert_string_equal(str_at(r, "body", NULL), "SignIn: your code is 123456");
    yajl_tree_free(r);

    /* The tenant's HTML template: render_template escapes the variables, not the markup. */
    msg.subject = "{{organization}}: {{code}}";
    msg.content = "<p><a href=\"{{link}}\">{{ organization }}</a> {{missing}}</p>";
    msg.content_type = "text/html";
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_OK);
    r = read_report();
    assert_non_null(r);
    assert_string_equal(str_at(r, "subject", NULL), "Acme \"A\" & Co: 123456");
    assert_string_equal(str_at(r, "content_type", NULL), "text/html");
    assert_string_equal(str_at(r, "body", NULL),
                        "<p><a href=\"https://x.example/?a=1&amp;b=&lt;2&gt;\">Acme &quot;A&quot; "
                        "&amp; Co</a> </p>");
    yajl_tree_free(r);
    /* The same as plain text: nothing escaped. */
    msg.content_type = "text/plain";
    msg.content = "{{link}}";
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_OK);
    r = read_report();
    assert_string_equal(str_at(r, "body", NULL), values[1]);
    yajl_tree_free(r);
    msg.subject = msg.content = msg.content_type = NULL;

    /* Every template type by Logto's name. */
    static const char *const type_names[] = {"SignIn",
                                             "Register",
                                             "ForgotPassword",
                                             "Generic",
                                             "OrganizationInvitation",
                                             "UserPermissionValidation",
                                             "BindNewIdentifier",
                                             "MfaVerification",
                                             "BindMfa"};
    for (int t = 1; t <= 9; t++) {
        assert_int_equal(latch_plugin_template_type(type_names[t - 1]), t);
        msg.type = t;
        assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_OK);
        r = read_report();
        assert_string_equal(str_at(r, "type_name", NULL), type_names[t - 1]);
        yajl_tree_free(r);
    }
    assert_int_equal(latch_plugin_template_type("Test"), 0); /* Logto's deprecated type */
    assert_int_equal(latch_plugin_template_type("signin"), 0);
    assert_int_equal(latch_plugin_template_type(NULL), 0);
    msg.type = LATCH_CONNECTOR_TEMPLATE_GENERIC;

    /* The connector's failure: its status as connector.<status>, what it logged as detail. */
    call.config_json = "{\"outFile\":\"/nonexistent\",\"fail\":2}";
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.invalid_config");
    assert_string_equal(call.error_detail,
                        "test-mailer 1.1.0: send_message returned 2: failing on purpose with 2");
    call.config_json = "{\"outFile\":\"/nonexistent\",\"fail\":7}";
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.timeout");
    call.config_json = "[]";
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.invalid_config");
    latch_plugin_unref(p);
}

/* What the host refuses before the connector sees it: the connector writes no report. */
static void test_send_message_refusals(void **state)
{
    (void)state;
    put_abi("mailer.so");
    put_abi("mailer_sms.so");
    put(LATCH_TEST_MOCK_SO, "mock.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("test-mailer");
    assert_non_null(p);
    struct latch_plugin_call call = {.config_json = mailer_config()};
    const char *names[33];
    const char *values[33];
    for (int i = 0; i < 33; i++) {
        names[i] = "v";
        values[i] = "x";
    }
    const struct latch_plugin_message ok = {.type = LATCH_CONNECTOR_TEMPLATE_REGISTER,
                                            .to = "a@b.example",
                                            .var_names = names,
                                            .var_values = values,
                                            .nvars = 1};
    struct {
        struct latch_plugin_message m;
        const char *why;
    } bad[] = {
        {ok, "unknown template type"},
        {ok, "unknown template type"},
        {ok, "the recipient is not a plain email address"},
        {ok, "the recipient is not a plain email address"},
        {ok, "the recipient is not a plain email address"},
        {ok, "the recipient is not a plain email address"},
        {ok, "more than 32 variables"},
        {ok, "a variable's name"},
        {ok, "a variable's name"},
        {ok, "the template's content type is not text/html or text/plain"},
        {ok, "the template's content type is not text/html or text/plain"},
        {ok, "the locale or the client address"},
    };
    bad[0].m.type = 0;
    bad[1].m.type = 10;
    bad[2].m.to = "not-an-address";
    bad[3].m.to = "a@b.example\r\nBcc: c@d.example";
    bad[4].m.to = "<a@b.example>";
    bad[5].m.to = NULL;
    bad[6].m.nvars = 33;
    names[32] = "bad name";
    bad[7].m.var_names = names + 32;
    values[32] = "bell\a";
    bad[8].m.var_values = values + 32;
    bad[9].m.content = "{{code}}";
    bad[10].m.content = "{{code}}";
    bad[10].m.content_type = "application/json";
    bad[11].m.locale = "es\n";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(latch_plugin_send_message(p, &call, &bad[i].m), LATCH_FAIL);
        assert_string_equal(call.error_code, "connector.general");
        if (strstr(call.error_detail, bad[i].why) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, call.error_detail, bad[i].why);
        assert_null(read_report());
    }
    assert_int_equal(latch_plugin_send_message(p, &call, &ok), LATCH_OK);
    yajl_val r = read_report();
    assert_non_null(r);
    yajl_tree_free(r);
    latch_plugin_unref(p);

    /* SMS: E.164 digits without '+'. */
    p = latch_plugin_get("test-sms");
    assert_non_null(p);
    struct latch_plugin_message sms = ok;
    sms.to = "34600111222";
    assert_int_equal(latch_plugin_send_message(p, &call, &sms), LATCH_OK);
    r = read_report();
    assert_string_equal(str_at(r, "to", NULL), "34600111222");
    yajl_tree_free(r);
    static const char *const bad_phones[] = {"+34600111222", "1234567890123456", "3460011122a",
                                             "a@b.example", ""};
    for (size_t i = 0; i < sizeof(bad_phones) / sizeof(bad_phones[0]); i++) {
        sms.to = bad_phones[i];
        assert_int_equal(latch_plugin_send_message(p, &call, &sms), LATCH_FAIL);
        assert_non_null(strstr(call.error_detail, "not a phone number"));
        assert_null(read_report());
    }
    latch_plugin_unref(p);

    /* A social connector sends nothing. */
    p = latch_plugin_get("mock-social");
    assert_non_null(p);
    assert_int_equal(latch_plugin_send_message(p, &call, &ok), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.not_implemented");
    latch_plugin_unref(p);

    /* And a mail connector signs nobody in, whatever a tenant's settings ask of it: its NULL
     * social operations are never called. */
    p = latch_plugin_get("test-mailer");
    assert_non_null(p);
    char *uri = NULL;
    assert_int_equal(
        latch_plugin_authorization_uri(p, &call, "state", "https://rp.example/cb", NULL, &uri),
        LATCH_FAIL);
    assert_null(uri);
    assert_string_equal(call.error_code, "connector.not_implemented");
    struct latch_plugin_user user;
    const char *pn[] = {"code"}, *pv[] = {"x"};
    assert_int_equal(latch_plugin_user_info(p, &call, pn, pv, 1, &user), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.not_implemented");
    latch_plugin_user_clear(&user);
    free(call.session_out);
    call.session_out = NULL;
    latch_plugin_unref(p);
}

/* host->smtp_send through the real host and outbound/, to the fake SMTP server on 127.0.0.1:
 * delivery, refused credentials, STARTTLS not offered, and the address policy, each mapped to
 * the call's error code. */
static void test_smtp_send_service(void **state)
{
    (void)state;
    char ca[PATH_MAX], config[PATH_MAX + 512];
    struct latch_error err;
    struct fake_smtp_session *seen = calloc(1, sizeof(*seen));
    assert_non_null(seen);
    snprintf(ca, sizeof(ca), "%s/smtp-ca.pem", root);
    fake_smtp_start(ca);
    struct latch_outbound_options opts = {.ca_file = ca, .allow_private_all = true};
    latch_error_clear(&err);
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_OK);
    fake_smtp_configure(&(struct fake_smtp_options){
        .auth = "PLAIN LOGIN", .user = "mailer", .pass = "right-pw-8472", .require_auth = true});
    put_abi("mailer.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("test-mailer");
    assert_non_null(p);
    (void)mailer_config(); /* sets report_path */
    const char *names[] = {"code"};
    const char *values[] = {"123456"};
    struct latch_plugin_message msg = {.type = LATCH_CONNECTOR_TEMPLATE_SIGN_IN,
                                       .to = "ada@example.com",
                                       .var_names = names,
                                       .var_values = values,
                                       .nvars = 1};
    struct latch_plugin_call call = {.config_json = config};
#define SMTP_CONFIG(tls, pass)                                                                     \
    snprintf(config, sizeof(config),                                                               \
             "{\"outFile\":\"%s\",\"mode\":\"smtp\",\"smtpHost\":\"127.0.0.1\",\"smtpPort\":%u,"   \
             "\"smtpTls\":%d,\"smtpUser\":\"mailer\",\"smtpPass\":\"%s\"}",                        \
             report_path, (unsigned)fake_smtp_port(), (tls), (pass))

    SMTP_CONFIG(LATCH_CONNECTOR_SMTP_TLS_NONE, "right-pw-8472");
    int before = fake_smtp_sessions();
    if (latch_plugin_send_message(p, &call, &msg) != LATCH_OK)
        fail_msg("%s: %s", call.error_code, call.error_detail);
    yajl_val r = read_report();
    assert_string_equal(str_at(r, "rc", NULL), "0");
    assert_string_equal(str_at(r, "code", NULL), "250");
    assert_string_equal(str_at(r, "message", NULL), "accepted (reply 250)");
    yajl_tree_free(r);
    assert_true(fake_smtp_wait(before, seen));
    assert_true(seen->authed);
    assert_string_equal(seen->mail_from, "noreply@latch.test");
    assert_int_equal(seen->nrcpt, 1);
    assert_string_equal(seen->rcpt[0], "ada@example.com");
    /* The message as the connector wrote it: the line that starts with a dot arrives intact. */
    assert_non_null(strstr(seen->data, "Subject: SignIn\r\n"));
    assert_non_null(strstr(seen->data, "\r\n.code 123456\r\n"));

    /* Refused credentials: invalid_config, the reply code, and the password nowhere. */
    SMTP_CONFIG(LATCH_CONNECTOR_SMTP_TLS_NONE, "wrong-pw-5521");
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.invalid_config");
    assert_non_null(strstr(call.error_detail, "refused the username or password"));
    assert_null(strstr(call.error_detail, "wrong-pw-5521"));
    r = read_report();
    assert_string_equal(str_at(r, "code", NULL), "535");
    assert_null(strstr(str_at(r, "message", NULL), "wrong-pw-5521"));
    yajl_tree_free(r);

    /* STARTTLS asked for, not offered. */
    SMTP_CONFIG(LATCH_CONNECTOR_SMTP_TLS_STARTTLS, "right-pw-8472");
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.invalid_config");
    assert_non_null(strstr(call.error_detail, "does not offer STARTTLS"));
    r = read_report();
    assert_non_null(r);
    yajl_tree_free(r);

    /* The operator does not allow private addresses: the address policy's own code. */
    latch_outbound_shutdown();
    opts.allow_private_all = false;
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_OK);
    SMTP_CONFIG(LATCH_CONNECTOR_SMTP_TLS_NONE, "right-pw-8472");
    before = fake_smtp_sessions();
    assert_int_equal(latch_plugin_send_message(p, &call, &msg), LATCH_FAIL);
    assert_string_equal(call.error_code, "connector.address_refused");
    assert_int_equal(fake_smtp_sessions(), before);
#undef SMTP_CONFIG
    latch_plugin_unref(p);
    latch_outbound_shutdown();
    fake_smtp_stop();
    unlink(ca);
    free(seen);
}

/* ---- the registry ---- */

static void scan_dir(void)
{
    init_dir();
}

/* Two files of the directory claim one id: the first by name loads, the other is refused. */
static void test_duplicate_id_in_a_scan(void **state)
{
    (void)state;
    put_abi("dup_id_a.so");
    put_abi("dup_id_b.so");
    const char *log = captured_log(scan_dir);
    assert_string_equal(current_version("dup-social"), "1.0.0");
    assert_int_equal(count_current(), 1);
    assert_non_null(strstr(log, "dup_id_b.so: id \\\"dup-social\\\" is already provided by "
                                "dup_id_a.so (version 1.0.0); keep one file per connector id in "
                                "the directory, or switch to this one with 'latchctl connectors "
                                "load dup_id_b.so'"));
    /* A rescan changes nothing. */
    latch_plugin_rescan();
    assert_string_equal(current_version("dup-social"), "1.0.0");

    /* An explicit load of the other file is an upgrade. */
    struct latch_plugin_info info;
    struct latch_error err;
    assert_int_equal(latch_plugin_load("dup_id_b.so", &info, &err), LATCH_OK);
    assert_string_equal(info.version, "2.0.0");
    assert_string_equal(current_version("dup-social"), "2.0.0");
    /* ... and a rescan keeps it (it does not switch ids between files). */
    latch_plugin_rescan();
    assert_string_equal(current_version("dup-social"), "2.0.0");
    assert_int_equal(count_current(), 1);
}

/* An upgrade while a sign-in is under way: new flows get v2, the flow that began on v1
 * finishes on v1, and v1 goes once it is unreferenced and retired longer than the TTL. */
static void test_upgrade_while_a_sign_in_is_under_way(void **state)
{
    (void)state;
    struct latch_plugin_info v1, v2;
    struct latch_error err;
    char *uri = NULL;
    put(LATCH_TEST_MOCK_V1_SO, "mock_v1.so");
    put(LATCH_TEST_MOCK_V2_SO, "mock_v2.so");
    init_dir();
    assert_string_equal(current_version("mock-social"), "1.0.0");
    struct latch_plugin *p = latch_plugin_get("mock-social");
    v1 = *latch_plugin_info(p);

    /* The sign-in starts on v1; the interaction records the version's sha256. */
    struct latch_plugin_call call = {
        .config_json = "{\"authorizationEndpoint\":\"https://up.example/a\"}",
        .session_json = "{}",
    };
    assert_int_equal(latch_plugin_authorization_uri(p, &call, "st", "https://r/cb", NULL, &uri),
                     LATCH_OK);
    free(uri);
    latch_plugin_unref(p);
    char *session = call.session_out;

    assert_int_equal(latch_plugin_load("mock_v2.so", &v2, &err), LATCH_OK);
    assert_string_equal(v2.version, "2.0.0");
    assert_string_not_equal(v1.sha256, v2.sha256);
    p = latch_plugin_get("mock-social");
    assert_string_equal(latch_plugin_info(p)->version, "2.0.0");
    char *json = latch_plugin_factory_json(p);
    assert_non_null(strstr(json, "\"en\":\"Mock v2\""));
    free(json);
    latch_plugin_unref(p);

    /* The callback of the flow begun on v1 finds v1. */
    p = latch_plugin_get_version("mock-social", v1.sha256);
    assert_non_null(p);
    assert_string_equal(latch_plugin_info(p)->version, "1.0.0");
    const char *names[] = {"id"};
    const char *values[] = {"u1"};
    struct latch_plugin_user user;
    call.session_json = session;
    assert_int_equal(latch_plugin_user_info(p, &call, names, values, 1, &user), LATCH_OK);
    yajl_val raw = parse(user.raw_json);
    assert_string_equal(str_at(raw, "connectorVersion", NULL), "1.0.0");
    yajl_tree_free(raw);
    latch_plugin_user_clear(&user);
    free(call.session_out);
    free(session);

    /* While referenced, v1 stays even past the TTL; then it goes. */
    latch_plugin_set_retire_ttl(0);
    latch_plugin_collect();
    assert_string_equal(latch_plugin_info(p)->version, "1.0.0");
    latch_plugin_unref(p);
    latch_plugin_collect();
    assert_null(latch_plugin_get_version("mock-social", v1.sha256));
    p = latch_plugin_get_version("mock-social", v2.sha256);
    assert_non_null(p);
    latch_plugin_unref(p);
}

static void test_unload(void **state)
{
    (void)state;
    struct latch_error err;
    struct latch_plugin_info info;
    put(LATCH_TEST_MOCK_SO, "mock.so");
    put(LATCH_TEST_MOCK_V2_SO, "zz_mock_v2.so"); /* refused: mock.so provides mock-social */
    init_dir();
    assert_string_equal(current_version("mock-social"), "1.0.0");
    struct latch_plugin *held = latch_plugin_get("mock-social");
    info = *latch_plugin_info(held);

    assert_int_equal(latch_plugin_unload("mock-social", &err), LATCH_OK);
    assert_null(latch_plugin_get("mock-social"));
    /* A late callback of a flow begun before the unload fails cleanly. */
    assert_null(latch_plugin_get_version("mock-social", info.sha256));
    /* A call already running finishes: its reference keeps the code mapped. */
    assert_string_equal(latch_plugin_info(held)->id, "mock-social");
    /* Releasing the last reference closes nothing (it may run on a loop thread): the object
     * and its file stay open until the next collect. */
    int fd = held->fd;
    assert_true(fd >= 0);
    latch_plugin_unref(held);
    assert_int_not_equal(fcntl(fd, F_GETFD), -1);
    latch_plugin_collect();
    assert_int_equal(fcntl(fd, F_GETFD), -1);

    /* A rescan does not bring back what the operator unloaded, from any file... */
    latch_plugin_rescan();
    assert_null(latch_plugin_get("mock-social"));
    /* ... an explicit load does. */
    assert_int_equal(latch_plugin_load("mock.so", NULL, &err), LATCH_OK);
    assert_string_equal(current_version("mock-social"), "1.0.0");

    assert_int_equal(latch_plugin_unload("nope", &err), LATCH_FAIL);
    assert_string_equal(err.message, "no connector factory nope is loaded");
    assert_int_equal(err.status, 404);

    /* Loading what is loaded changes nothing. */
    assert_int_equal(latch_plugin_load("mock.so", &info, &err), LATCH_OK);
    assert_int_equal(count_current(), 1);
}

static void test_rescan_follows_the_directory(void **state)
{
    (void)state;
    char path[PATH_MAX], tmp[PATH_MAX];
    struct latch_plugin_info v1;
    put(LATCH_TEST_MOCK_SO, "mock.so");
    init_dir();
    struct latch_plugin *p = latch_plugin_get("mock-social");
    v1 = *latch_plugin_info(p);
    latch_plugin_unref(p);

    /* Upgrade by mv over the loaded file: a new object, though glibc knows the old by name. */
    copy_file(LATCH_TEST_MOCK_V2_SO, dir, "mock.so.new", 0755);
    snprintf(path, sizeof(path), "%s/mock.so", dir);
    snprintf(tmp, sizeof(tmp), "%s/mock.so.new", dir);
    assert_int_equal(rename(tmp, path), 0);
    latch_plugin_rescan();
    assert_string_equal(current_version("mock-social"), "2.0.0");
    p = latch_plugin_get_version("mock-social", v1.sha256);
    assert_non_null(p);
    assert_string_equal(latch_plugin_info(p)->version, "1.0.0");
    latch_plugin_unref(p);

    /* A new file loads; a file replaced by another connector's swaps them; a removed file's
     * factory goes. */
    put_abi("abi_ok.so");
    latch_plugin_rescan();
    assert_string_equal(current_version("abi-ok"), "1.0.0");
    char src[PATH_MAX], ok_path[PATH_MAX];
    snprintf(src, sizeof(src), "%s/probe.so", LATCH_TEST_ABI_DIR);
    copy_file(src, dir, "abi_ok.so.new", 0755);
    snprintf(tmp, sizeof(tmp), "%s/abi_ok.so.new", dir);
    snprintf(ok_path, sizeof(ok_path), "%s/abi_ok.so", dir);
    assert_int_equal(rename(tmp, ok_path), 0);
    latch_plugin_rescan();
    assert_null(latch_plugin_get("abi-ok"));
    assert_string_equal(current_version("probe-social"), "1.0.0");
    assert_int_equal(count_current(), 2);
    assert_int_equal(unlink(path), 0);
    latch_plugin_rescan();
    assert_null(latch_plugin_get("mock-social"));
    assert_null(latch_plugin_get_version("mock-social", v1.sha256));
    assert_int_equal(count_current(), 1); /* probe-social */

    /* Operator commands, as they arrive by NOTIFY. */
    put(LATCH_TEST_MOCK_SO, "mock.so");
    latch_plugin_command("load mock.so");
    assert_string_equal(current_version("mock-social"), "1.0.0");
    latch_plugin_command("unload mock-social");
    assert_null(latch_plugin_get("mock-social"));
    latch_plugin_command("reload");
    assert_null(latch_plugin_get("mock-social"));
    latch_plugin_command("bogus");
    latch_plugin_command("load");
    assert_int_equal(count_current(), 1);
}

/* 1,000 load/unload cycles with a call each: no descriptor leaks (checked here) and no memory
 * leaks (LeakSanitizer, in the ASan build, at exit). */
static void test_thousand_load_unload_cycles(void **state)
{
    (void)state;
    struct latch_error err;
    put(LATCH_TEST_MOCK_SO, "mock.so");
    put(LATCH_TEST_MOCK_V2_SO, "mock_v2.so.off");
    init_dir();
    assert_int_equal(latch_plugin_unload("mock-social", &err), LATCH_OK);
    latch_plugin_set_retire_ttl(0);
    int fds = count_fds();
    for (int i = 0; i < 1000; i++) {
        char *uri = NULL;
        if (latch_plugin_load("mock.so", NULL, &err) != LATCH_OK)
            fail_msg("cycle %d: %s", i, err.message);
        struct latch_plugin *p = latch_plugin_get("mock-social");
        assert_non_null(p);
        struct latch_plugin_call call = {
            .config_json = "{\"authorizationEndpoint\":\"https://up.example/a\"}",
        };
        assert_int_equal(latch_plugin_authorization_uri(p, &call, "s", "https://r", NULL, &uri),
                         LATCH_OK);
        free(uri);
        free(call.session_out);
        if (i % 10 == 0) {
            /* Now and then an upgrade too, with the old version still referenced. */
            assert_int_equal(latch_plugin_load("mock_v2.so.off", NULL, &err), LATCH_OK);
            assert_string_equal(current_version("mock-social"), "2.0.0");
        }
        latch_plugin_unref(p);
        assert_int_equal(latch_plugin_unload("mock-social", &err), LATCH_OK);
        assert_int_equal(count_current(), 0);
    }
    latch_plugin_collect();
    assert_int_equal(count_fds(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_frozen_1_0),
        cmocka_unit_test_setup_teardown(test_broken_connectors_refused_with_their_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_a_shared_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_outside_the_directory_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mock_loads_and_renders_its_factory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mock_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_1_0_connector_keeps_working, setup, teardown),
        cmocka_unit_test_setup_teardown(test_email_connector_loads_as_email, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_message_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smtp_send_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_id_in_a_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_while_a_sign_in_is_under_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rescan_follows_the_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thousand_load_unload_cycles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
