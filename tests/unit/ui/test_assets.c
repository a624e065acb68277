/*
 * Unit tests of the compiled-in page files (core/ui/assets.h), for the admin console's: its page
 * template, script, translations and the UI library copied from npm by core/console/vendor.py,
 * which must import one another by relative paths (a bare "preact" specifier would need an import
 * map, that is inline script, which the console's CSP forbids) and carry no source-map comment
 * naming files that are not served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ui/assets.h"

/* Whether the asset holds needle. */
static bool has(const struct latch_ui_asset *a, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= a->len; i++)
        if (memcmp(a->data + i, needle, n) == 0)
            return true;
    return false;
}

static void test_console_files_present(void **state)
{
    static const char *const names[] = {"console.html",    "console.js",      "console.css",
                                        "console-en.json", "console-es.json", "preact.js",
                                        "preact-hooks.js", "htm.js",          NULL};
    for (const char *const *n = names; *n; n++) {
        const struct latch_ui_asset *a = latch_ui_asset_find(*n);
        assert_non_null(a);
        assert_true(a->len > 0);
    }
    assert_string_equal(latch_ui_asset_find("preact.js")->content_type,
                        "text/javascript; charset=utf-8");
}

static void test_library_imports_are_relative(void **state)
{
    const struct latch_ui_asset *hooks = latch_ui_asset_find("preact-hooks.js");
    assert_true(has(hooks, "from\"./preact.js\""));
    assert_false(has(hooks, "from\"preact\""));
    assert_false(has(latch_ui_asset_find("preact.js"), "sourceMappingURL"));
    assert_false(has(hooks, "sourceMappingURL"));
    const struct latch_ui_asset *app = latch_ui_asset_find("console.js");
    assert_true(has(app, "from './preact.js'"));
    assert_true(has(app, "from './preact-hooks.js'"));
    assert_true(has(app, "from './htm.js'"));
}

static void test_page_has_no_inline_script(void **state)
{
    const struct latch_ui_asset *page = latch_ui_asset_find("console.html");
    assert_true(has(page, "<script type=\"module\" src=\"{{ui}}console.js?v={{v}}\"></script>"));
    /* The one script element is the one above: any other would be inline or foreign. */
    const char *p = (const char *)page->data;
    int scripts = 0;
    for (size_t i = 0; i + 7 <= page->len; i++)
        scripts += memcmp(p + i, "<script", 7) == 0;
    assert_int_equal(scripts, 1);
    assert_false(has(page, "style=\""));
}

static void test_lookup_is_exact(void **state)
{
    assert_null(latch_ui_asset_find("../console.js"));
    assert_null(latch_ui_asset_find("console.js/"));
    assert_null(latch_ui_asset_find("CONSOLE.JS"));
    assert_null(latch_ui_asset_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_files_present),
        cmocka_unit_test(test_library_imports_are_relative),
        cmocka_unit_test(test_page_has_no_inline_script),
        cmocka_unit_test(test_lookup_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
