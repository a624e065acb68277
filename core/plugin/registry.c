/*
 * The node's registry of loaded connector versions (plugin.h).
 *
 * One list holds every loaded version. For each factory id at most one is CURRENT (it serves
 * new sign-ins); versions replaced by an upgrade are RETIRED (they serve the sign-ins that began
 * on them, for as long as a sign-in may last: the interaction TTL); unloaded versions serve
 * nothing. A version is dlclose()d once nobody holds a reference and it can no longer be asked
 * for: at once when unloaded, after the TTL when retired. References are held only for the
 * duration of a call or a lookup, never across a flow's steps (a flow may hop between nodes).
 *
 * Two locks: `admin` serializes the operator's actions (load, unload, rescan), which dlopen and
 * may take a while; `lock` guards the list, the states and the reference counts, and is held
 * only for that pointer and counter work, so lookups from loop threads never wait for a dlopen,
 * a stat() or a log write: messages decided under `lock` are composed into a `struct deferred`
 * and written once it is released. Releasing the last reference never closes anything either
 * (that may be a loop thread, and dlclose() runs the object's destructors and unmaps it): an
 * unloaded version is closed by the next collect (latch_plugin_collect, on the main thread's
 * timer) or operator action.
 *
 * Scans: a rescan (start-up, SIGHUP, `latchctl connectors reload`) loads the *.so files of the
 * directory that are new or whose content changed, and unloads versions whose file is gone. It
 * never switches a factory id from one file to another: a second file claiming an id that
 * another file of the directory provides is refused (first by name wins at start-up), and a
 * factory the operator unloaded stays unloaded (scans skip every file providing it) until a
 * file of it is loaded explicitly or the node restarts. An
 * explicit load (`latchctl connectors load <file>`) of a file whose id is loaded from another
 * file with other content is an upgrade.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "plugin/plugin_internal.h"
#include "util/log.h"

#define CODE_DUPLICATE "plugin.duplicate_id"
#define CODE_NOT_FOUND "plugin.not_found"
#define CODE_CHANGED   "plugin.changed_in_place"
#define MAX_SUPPRESSED 256
#define DEFERRED_MAX   8

static pthread_mutex_t admin = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct latch_plugin *plugins;
static char plugin_dir[PATH_MAX]; /* canonical; "" when none */
static int retire_ttl = LATCH_PLUGIN_RETIRE_SECONDS;
/* Factory ids the operator unloaded: scans skip files that provide them, until an explicit
 * load of one (or a restart). */
static char suppressed[MAX_SUPPRESSED][sizeof(((struct latch_plugin_info *)0)->id)];
static int nsuppressed;

enum load_mode { LOAD_EXPLICIT, LOAD_SCAN };

/* Log lines composed under `lock`, written by deferred_flush() after it is released. */
struct deferred {
    int n, dropped;
    struct {
        enum latch_log_level level;
        char text[768];
    } lines[DEFERRED_MAX];
};

static void defer(struct deferred *d, enum latch_log_level level, const char *fmt, ...)
    LATCH_PRINTF(3, 4);

static void defer(struct deferred *d, enum latch_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (d->n == DEFERRED_MAX) {
        d->dropped++;
        return;
    }
    d->lines[d->n].level = level;
    va_start(ap, fmt);
    vsnprintf(d->lines[d->n].text, sizeof(d->lines[0].text), fmt, ap);
    va_end(ap);
    d->n++;
}

static void deferred_flush(struct deferred *d)
{
    for (int i = 0; i < d->n; i++)
        latch_log(d->lines[i].level, "%s", d->lines[i].text);
    if (d->dropped > 0)
        latch_info("connector registry: %d more messages not shown", d->dropped);
    d->n = d->dropped = 0;
}

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* ---- under `lock` ---- */

static bool closable(const struct latch_plugin *p, time_t now)
{
    if (p->refs > 0)
        return false;
    return p->state == PLUGIN_UNLOADED ||
           (p->state == PLUGIN_RETIRED && now - p->retired_at >= retire_ttl);
}

static struct latch_plugin *find_current(const char *id)
{
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next)
        if (p->state == PLUGIN_CURRENT && strcmp(p->info.id, id) == 0)
            return p;
    return NULL;
}

/*
 * Before p goes: when another loaded version shares p's object (the same file loaded twice),
 * the object keeps the name p loaded it under (/proc/self/fd/<p's fd>), so that descriptor must
 * stay open for as long as the object does: hand it to the other version.
 */
static void hand_over_fd(struct latch_plugin *p)
{
    for (struct latch_plugin *q = plugins; q != NULL; q = q->next) {
        if (q != p && q->handle == p->handle) {
            int fd = q->fd;
            q->fd = p->fd;
            p->fd = fd;
            return;
        }
    }
}

/* Moves every closable version to *out (a list to close outside the lock); now: now_s(),
 * read before taking the lock. */
static void take_closable(struct latch_plugin **out, time_t now)
{
    struct latch_plugin **pp = &plugins;

    while (*pp != NULL) {
        struct latch_plugin *p = *pp;
        if (closable(p, now)) {
            *pp = p->next;
            hand_over_fd(p);
            p->next = *out;
            *out = p;
        } else {
            pp = &p->next;
        }
    }
}

/* Takes every version of id out of service: none serves new or ongoing flows any more. */
static void unload_id(const char *id)
{
    for (struct latch_plugin *q = plugins; q != NULL; q = q->next)
        if (q->state != PLUGIN_UNLOADED && strcmp(q->info.id, id) == 0)
            q->state = PLUGIN_UNLOADED;
}

static bool is_suppressed(const char *id)
{
    for (int i = 0; i < nsuppressed; i++)
        if (strcmp(suppressed[i], id) == 0)
            return true;
    return false;
}

static void unsuppress(const char *id)
{
    for (int i = 0; i < nsuppressed;) {
        if (strcmp(suppressed[i], id) == 0)
            memcpy(suppressed[i], suppressed[--nsuppressed], sizeof(suppressed[0]));
        else
            i++;
    }
}

static void suppress(const char *id)
{
    unsuppress(id);
    if (nsuppressed == MAX_SUPPRESSED) {
        /* Forget the oldest: at worst a scan loads that factory again. */
        memmove(&suppressed[0], &suppressed[1], sizeof(suppressed[0]) * (MAX_SUPPRESSED - 1));
        nsuppressed--;
    }
    snprintf(suppressed[nsuppressed], sizeof(suppressed[0]), "%s", id);
    nsuppressed++;
}

/* ---- outside `lock` ---- */

static void close_list(struct latch_plugin *list)
{
    while (list != NULL) {
        struct latch_plugin *next = list->next;
        latch_info("connector closed: id=%s version=%s sha256=%s", list->info.id,
                   list->info.version, list->info.sha256);
        latch_plugin_close(list);
        list = next;
    }
}

static void collect(void)
{
    struct latch_plugin *dead = NULL;
    time_t now = now_s();

    pthread_mutex_lock(&lock);
    take_closable(&dead, now);
    pthread_mutex_unlock(&lock);
    close_list(dead);
}

/*
 * Puts a freshly loaded version p in the registry (see the file comment for the rules), or
 * refuses it. Takes p in every case. On success *info (may be NULL) describes the version that
 * is current afterwards.
 */
static latch_rc install(struct latch_plugin *p, enum load_mode mode, struct latch_plugin_info *info,
                        struct latch_error *err)
{
    struct latch_plugin *discard = NULL;
    struct latch_plugin *old = NULL;
    struct deferred log = {0};
    time_t now = now_s();
    latch_rc rc = LATCH_OK;

    pthread_mutex_lock(&lock);
    for (struct latch_plugin *q = plugins; q != NULL; q = q->next) {
        if (q->handle == p->handle && strcmp(q->info.sha256, p->info.sha256) != 0) {
            /* glibc matched the file's inode with an object still loaded: the file was
             * rewritten in place, and the code we would run is not the file we hashed. */
            rc = latch_error_set(err, 0, CODE_CHANGED,
                                 "%s: the file was overwritten in place while version %s of it is "
                                 "still loaded; install connectors with mv or install(1), never by "
                                 "copying over a loaded file",
                                 p->relname, q->info.version);
            discard = p;
            goto out;
        }
    }
    struct latch_plugin *c = find_current(p->info.id);
    if (c != NULL && strcmp(c->info.sha256, p->info.sha256) == 0) {
        /* The very version that is current: nothing to do. */
        if (mode == LOAD_EXPLICIT && strcmp(c->info.path, p->info.path) != 0)
            defer(&log, LATCH_LOG_INFO,
                  "connector %s %s is already loaded from %s (same content as %s)", c->info.id,
                  c->info.version, c->relname, p->relname);
        if (mode == LOAD_EXPLICIT)
            unsuppress(p->info.id);
        if (info != NULL)
            *info = c->info;
        discard = p;
        goto out;
    }
    if (mode == LOAD_SCAN && c == NULL && is_suppressed(p->info.id)) {
        defer(&log, LATCH_LOG_DEBUG,
              "connector %s stays unloaded (unloaded by the operator): %s not loaded", p->info.id,
              p->relname);
        discard = p;
        rc = LATCH_OK;
        if (info != NULL)
            memset(info, 0, sizeof(*info));
        goto out;
    }
    if (c != NULL && mode == LOAD_SCAN && strcmp(c->info.path, p->info.path) != 0) {
        rc = latch_error_set(err, 0, CODE_DUPLICATE,
                             "%s: id \"%s\" is already provided by %s (version %s); keep one file "
                             "per connector id in the directory, or switch to this one with "
                             "'latchctl connectors load %s'",
                             p->relname, p->info.id, c->relname, c->info.version, p->relname);
        discard = p;
        goto out;
    }
    unsuppress(p->info.id);
    /* The file of another factory now holds this one (replaced by a file of another id): that
     * factory's file is gone. */
    for (struct latch_plugin *q = plugins; q != NULL; q = q->next) {
        if (q->state == PLUGIN_CURRENT && q != c && strcmp(q->info.path, p->info.path) == 0) {
            defer(&log, LATCH_LOG_INFO,
                  "connector unloaded: id=%s version=%s sha256=%s (its file %s now holds %s)",
                  q->info.id, q->info.version, q->info.sha256, q->relname, p->info.id);
            unload_id(q->info.id);
        }
    }
    if (c != NULL) {
        c->state = PLUGIN_RETIRED;
        c->retired_at = now;
        old = c;
    }
    p->state = PLUGIN_CURRENT;
    p->next = plugins;
    plugins = p;
    if (info != NULL)
        *info = p->info;
    if (old != NULL) {
        defer(&log, LATCH_LOG_INFO,
              "connector upgraded: id=%s version=%s sha256=%s file=%s abi=%u.%u, replacing "
              "version=%s sha256=%s file=%s (sign-ins under way finish on it)",
              p->info.id, p->info.version, p->info.sha256, p->relname, p->info.abi_major,
              p->info.abi_minor, old->info.version, old->info.sha256, old->relname);
        if (strcmp(old->info.path, p->info.path) != 0)
            defer(&log, LATCH_LOG_WARN,
                  "connector %s: remove %s from the connector directory, or the next start "
                  "loads whichever of %s and %s comes first by name",
                  p->info.id, old->relname, old->relname, p->relname);
    } else {
        defer(&log, LATCH_LOG_INFO,
              "connector loaded: id=%s version=%s sha256=%s file=%s abi=%u.%u", p->info.id,
              p->info.version, p->info.sha256, p->relname, p->info.abi_major, p->info.abi_minor);
    }
out:
    pthread_mutex_unlock(&lock);
    deferred_flush(&log);
    if (discard != NULL)
        latch_plugin_close(discard);
    return rc;
}

/* Loads one file (admin held). */
static latch_rc load_one(const char *path, enum load_mode mode, struct latch_plugin_info *info,
                         struct latch_error *err)
{
    struct plugin_file f;
    struct latch_plugin *p = NULL;

    if (latch_plugin_file_open(plugin_dir, path, &f, err) != LATCH_OK)
        return LATCH_FAIL;
    if (mode == LOAD_SCAN) {
        /* Skip the common case without dlopen: the file of a current version, unchanged. */
        bool skip = false;
        pthread_mutex_lock(&lock);
        for (struct latch_plugin *q = plugins; q != NULL && !skip; q = q->next)
            skip = q->state == PLUGIN_CURRENT && strcmp(q->info.path, f.path) == 0 &&
                   strcmp(q->info.sha256, f.sha256) == 0;
        pthread_mutex_unlock(&lock);
        if (skip) {
            latch_plugin_file_close(&f);
            if (info != NULL)
                memset(info, 0, sizeof(*info));
            return LATCH_OK;
        }
    }
    if (latch_plugin_load_file(&f, &p, err) != LATCH_OK)
        return LATCH_FAIL;
    return install(p, mode, info, err);
}

static int so_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

/* Rescans the directory (admin held). */
static void scan(void)
{
    struct dirent **names = NULL;
    struct latch_plugin *gone = NULL;
    struct latch_plugin **current = NULL;
    bool *missing = NULL;
    size_t ncurrent = 0;
    time_t now;
    int n;

    if (plugin_dir[0] == '\0')
        return;
    /* Versions whose file is gone first, so a file renamed (same content) loads again. Which
     * versions are current changes only under `admin`, which we hold, and a current version is
     * never closed: the snapshot stays valid while its files are stat()ed outside `lock`. */
    pthread_mutex_lock(&lock);
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next)
        ncurrent += p->state == PLUGIN_CURRENT;
    pthread_mutex_unlock(&lock);
    if (ncurrent > 0) {
        current = calloc(ncurrent, sizeof(*current));
        missing = calloc(ncurrent, sizeof(*missing));
        if (current == NULL || missing == NULL) {
            latch_err("connector rescan: out of memory");
            goto out;
        }
        size_t i = 0;
        pthread_mutex_lock(&lock);
        for (struct latch_plugin *p = plugins; p != NULL && i < ncurrent; p = p->next)
            if (p->state == PLUGIN_CURRENT)
                current[i++] = p;
        pthread_mutex_unlock(&lock);
        for (i = 0; i < ncurrent; i++) {
            struct stat st;
            missing[i] = stat(current[i]->info.path, &st) != 0 && errno == ENOENT;
            if (missing[i])
                latch_info("connector unloaded: id=%s version=%s sha256=%s (its file %s is gone)",
                           current[i]->info.id, current[i]->info.version, current[i]->info.sha256,
                           current[i]->relname);
        }
    }
    now = now_s();
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ncurrent; i++)
        if (missing[i])
            unload_id(current[i]->info.id);
    take_closable(&gone, now);
    pthread_mutex_unlock(&lock);
    close_list(gone);

    n = scandir(plugin_dir, &names, so_filter, alphasort);
    if (n < 0) {
        latch_err("cannot read the connector directory %s: %s", plugin_dir, strerror(errno));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        struct latch_error err;
        latch_error_clear(&err);
        if (load_one(names[i]->d_name, LOAD_SCAN, NULL, &err) != LATCH_OK)
            latch_warn("connector not loaded: %s", err.message);
        free(names[i]);
    }
    free(names);
out:
    free(current);
    free(missing);
}

/* ---- public ---- */

void latch_plugin_set_retire_ttl(int seconds)
{
    pthread_mutex_lock(&lock);
    retire_ttl = seconds < 0 ? 0 : seconds;
    pthread_mutex_unlock(&lock);
}

latch_rc latch_plugin_init(const char *dir, struct latch_error *err)
{
    char real[PATH_MAX];
    struct stat st;
    latch_rc rc = LATCH_OK;

    pthread_mutex_lock(&admin);
    plugin_dir[0] = '\0';
    if (dir == NULL || dir[0] == '\0') {
        latch_info("no connector directory: no connectors loaded");
        goto out;
    }
    if (realpath(dir, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = latch_error_set(err, 0, "plugin.directory",
                             "connector directory %.300s: not an existing directory", dir);
        goto out;
    }
    if (st.st_mode & S_IWOTH) {
        rc = latch_error_set(err, 0, "plugin.directory",
                             "connector directory %.300s: writable by every user (mode %04o); "
                             "refusing to load code anyone could have put there",
                             real, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    snprintf(plugin_dir, sizeof(plugin_dir), "%s", real);
    latch_info("connector directory %s", plugin_dir);
    scan();
out:
    pthread_mutex_unlock(&admin);
    return rc;
}

void latch_plugin_shutdown(void)
{
    struct latch_plugin *dead = NULL;
    struct deferred log = {0};
    time_t now = now_s();

    pthread_mutex_lock(&admin);
    pthread_mutex_lock(&lock);
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next)
        p->state = PLUGIN_UNLOADED;
    take_closable(&dead, now);
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next)
        defer(&log, LATCH_LOG_WARN, "connector %s %s is still referenced at shutdown; left loaded",
              p->info.id, p->info.version);
    nsuppressed = 0;
    plugin_dir[0] = '\0';
    pthread_mutex_unlock(&lock);
    deferred_flush(&log);
    while (dead != NULL) {
        struct latch_plugin *next = dead->next;
        latch_plugin_close(dead);
        dead = next;
    }
    pthread_mutex_unlock(&admin);
}

const char *latch_plugin_dir(void)
{
    return plugin_dir;
}

latch_rc latch_plugin_load(const char *path, struct latch_plugin_info *info,
                           struct latch_error *err)
{
    latch_rc rc;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    /* Versions released since the last collect go first: one of them may hold this file. */
    collect();
    pthread_mutex_lock(&admin);
    rc = load_one(path, LOAD_EXPLICIT, info, err);
    pthread_mutex_unlock(&admin);
    collect();
    return rc;
}

latch_rc latch_plugin_unload(const char *factory_id, struct latch_error *err)
{
    struct latch_plugin *dead = NULL;
    struct deferred log = {0};
    time_t now = now_s();
    latch_rc rc = LATCH_OK;

    pthread_mutex_lock(&admin);
    pthread_mutex_lock(&lock);
    struct latch_plugin *c = factory_id != NULL ? find_current(factory_id) : NULL;
    if (c == NULL) {
        rc = latch_error_set(err, 404, CODE_NOT_FOUND, "no connector factory %.128s is loaded",
                             factory_id != NULL ? factory_id : "(null)");
    } else {
        /* Flows under way fail cleanly: get_version() no longer finds any version of the id. */
        unload_id(c->info.id);
        suppress(c->info.id);
        defer(&log, LATCH_LOG_INFO, "connector unloaded: id=%s version=%s sha256=%s file=%s",
              c->info.id, c->info.version, c->info.sha256, c->relname);
        take_closable(&dead, now);
    }
    pthread_mutex_unlock(&lock);
    deferred_flush(&log);
    close_list(dead);
    pthread_mutex_unlock(&admin);
    return rc;
}

void latch_plugin_rescan(void)
{
    collect();
    pthread_mutex_lock(&admin);
    if (plugin_dir[0] == '\0')
        latch_warn("connector rescan: no connector directory is configured");
    else
        scan();
    pthread_mutex_unlock(&admin);
    collect();
}

void latch_plugin_collect(void)
{
    collect();
}

struct latch_plugin *latch_plugin_get(const char *factory_id)
{
    struct latch_plugin *p;

    if (factory_id == NULL)
        return NULL;
    pthread_mutex_lock(&lock);
    p = find_current(factory_id);
    if (p != NULL)
        p->refs++;
    pthread_mutex_unlock(&lock);
    return p;
}

struct latch_plugin *latch_plugin_get_version(const char *factory_id, const char *sha256)
{
    struct latch_plugin *found = NULL;
    time_t now = now_s();

    if (factory_id == NULL || sha256 == NULL)
        return NULL;
    pthread_mutex_lock(&lock);
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next) {
        if (strcmp(p->info.id, factory_id) != 0 || strcmp(p->info.sha256, sha256) != 0)
            continue;
        if (p->state == PLUGIN_CURRENT ||
            (p->state == PLUGIN_RETIRED && now - p->retired_at < retire_ttl)) {
            found = p;
            found->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void latch_plugin_ref(struct latch_plugin *p)
{
    pthread_mutex_lock(&lock);
    p->refs++;
    pthread_mutex_unlock(&lock);
}

void latch_plugin_unref(struct latch_plugin *p)
{
    if (p == NULL)
        return;
    /* The last reference to an unloaded version leaves it for the next collect: this may be a
     * loop thread (see the file comment). */
    pthread_mutex_lock(&lock);
    p->refs--;
    pthread_mutex_unlock(&lock);
}

const struct latch_plugin_info *latch_plugin_info(const struct latch_plugin *p)
{
    return &p->info;
}

static int by_id(const void *a, const void *b)
{
    const struct latch_plugin *const *x = a;
    const struct latch_plugin *const *y = b;
    return strcmp((*x)->info.id, (*y)->info.id);
}

void latch_plugin_each(void (*fn)(struct latch_plugin *p, void *arg), void *arg)
{
    struct latch_plugin **list = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&lock);
    for (struct latch_plugin *p = plugins; p != NULL; p = p->next)
        if (p->state == PLUGIN_CURRENT)
            cap++;
    list = cap > 0 ? malloc(cap * sizeof(*list)) : NULL;
    for (struct latch_plugin *p = plugins; p != NULL && list != NULL; p = p->next) {
        if (p->state == PLUGIN_CURRENT) {
            p->refs++;
            list[n++] = p;
        }
    }
    pthread_mutex_unlock(&lock);
    if (cap > 0 && list == NULL) {
        latch_err("connector list: out of memory");
        return;
    }
    if (n == 0)
        return;
    qsort(list, n, sizeof(*list), by_id);
    for (size_t i = 0; i < n; i++)
        fn(list[i], arg);
    for (size_t i = 0; i < n; i++)
        latch_plugin_unref(list[i]);
    free(list);
}

/* ---- operator commands (NOTIFY latch_connectors) ---- */

void latch_plugin_command(const char *payload)
{
    char buf[600];
    struct latch_error err;
    struct latch_plugin_info info;
    const char *arg;

    latch_error_clear(&err);
    if (payload == NULL || strlen(payload) >= sizeof(buf)) {
        latch_warn("connector command ignored: empty or too long");
        return;
    }
    snprintf(buf, sizeof(buf), "%s", payload);
    char *sp = strchr(buf, ' ');
    arg = sp != NULL ? sp + 1 : "";
    if (sp != NULL)
        *sp = '\0';
    if (strcmp(buf, "load") == 0 && arg[0] != '\0') {
        latch_info("connector command: load %s", arg);
        if (latch_plugin_load(arg, &info, &err) != LATCH_OK)
            latch_err("connector not loaded: %s", err.message);
    } else if (strcmp(buf, "unload") == 0 && arg[0] != '\0') {
        latch_info("connector command: unload %s", arg);
        if (latch_plugin_unload(arg, &err) != LATCH_OK)
            latch_err("connector not unloaded: %s", err.message);
    } else if (strcmp(buf, "reload") == 0 && arg[0] == '\0') {
        latch_info("connector command: reload (rescanning %s)", plugin_dir);
        latch_plugin_rescan();
    } else {
        latch_warn("connector command ignored: expected 'load <file>', 'unload <id>' or 'reload'");
    }
}
