/*
 * Unit tests for core/util/template.c: placeholders with and without spaces, unknown names and
 * NULL values rendered as "", the first of equal names winning, text and stray braces copied as
 * is, names that are not placeholders (too long, foreign characters, unclosed), values not
 * rendered again, HTML escaping of values (and only of values) with LATCH_TEMPLATE_HTML, and the
 * output bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/template.h"

static struct latch_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = latch_arena_new(0);
    return arena == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    latch_arena_free(arena);
    return 0;
}

static const char *const names[] = {"code", "link", "organization.name", "empty", "code"};
static const char *const values[] = {"123456", "https://example.com/a?b=1&c=2", "Acme <Corp>", NULL,
                                     "second"};
#define NVARS (sizeof(names) / sizeof(names[0]))

static char *render(const char *tpl, unsigned flags)
{
    return latch_template_render(arena, tpl, names, values, NVARS, flags);
}

static void test_placeholders(void **state)
{
    (void)state;
    assert_string_equal(render("Your code is {{code}}.", 0), "Your code is 123456.");
    assert_string_equal(render("{{ code }}|{{\tcode\t}}|{{code  }}|{{   code}}", 0),
                        "123456|123456|123456|123456");
    assert_string_equal(render("{{code}}{{code}}", 0), "123456123456");
    assert_string_equal(render("{{organization.name}}", 0), "Acme <Corp>");
    assert_string_equal(render("", 0), "");
    assert_string_equal(render("no placeholders, \xc3\xa9 & <b>", 0),
                        "no placeholders, \xc3\xa9 & <b>");
    /* Unknown names and NULL values become "". */
    assert_string_equal(render("[{{inviter}}][{{ empty }}]", 0), "[][]");
    /* No variables at all. */
    assert_string_equal(latch_template_render(arena, "a{{code}}b", NULL, NULL, 0, 0), "ab");
}

static void test_not_placeholders(void **state)
{
    static const char *const kept[] = {
        "{{code",    "{{code}",    "{code}}", "{ {code}}", "{{}}", "{{ }}", "{{co de}}",
        "{{code!}}", "{{\ncode}}", "}}{{",    "{{",        "{",    "}}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        assert_string_equal(render(kept[i], 0), kept[i]);
    /* A stray brace before a placeholder is text; the placeholder after it still counts. */
    assert_string_equal(render("{{{code}}}", 0), "{123456}");
    assert_string_equal(render("{{x{{code}}", 0), "{{x123456");

    /* Names up to LATCH_TEMPLATE_NAME_MAX characters; one more is text. */
    char name[LATCH_TEMPLATE_NAME_MAX + 2];
    char tpl[LATCH_TEMPLATE_NAME_MAX + 8];
    memset(name, 'n', sizeof(name));
    name[LATCH_TEMPLATE_NAME_MAX] = '\0';
    const char *v = "ok";
    const char *const *n1 = (const char *const[]){name};
    snprintf(tpl, sizeof(tpl), "{{%s}}", name);
    assert_string_equal(latch_template_render(arena, tpl, n1, &v, 1, 0), "ok");
    name[LATCH_TEMPLATE_NAME_MAX] = 'n';
    name[LATCH_TEMPLATE_NAME_MAX + 1] = '\0';
    snprintf(tpl, sizeof(tpl), "{{%s}}", name);
    assert_string_equal(latch_template_render(arena, tpl, n1, &v, 1, 0), tpl);
}

static void test_first_name_wins_and_no_rerendering(void **state)
{
    static const char *const n[] = {"a", "b", "a"};
    static const char *const v[] = {"{{b}}", "B", "second"};
    (void)state;
    /* "code" appears twice in names: the first value is used. */
    assert_string_equal(render("{{code}}", 0), "123456");
    /* A value that looks like a placeholder is copied, not filled in. */
    assert_string_equal(latch_template_render(arena, "{{a}}{{b}}", n, v, 3, 0), "{{b}}B");
}

static void test_html_escaping(void **state)
{
    static const char *const n[] = {"name", "link"};
    static const char *const v[] = {"<script>alert('x')</script> & \"you\"",
                                    "https://e.com/?a=1&b=\"><img src=x>"};
    (void)state;
    /* Values are escaped; the template's own markup is not. */
    assert_string_equal(
        latch_template_render(arena, "<p>Hi {{name}}</p><a href=\"{{ link }}\">go</a>", n, v, 2,
                              LATCH_TEMPLATE_HTML),
        "<p>Hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;you&quot;</p>"
        "<a href=\"https://e.com/?a=1&amp;b=&quot;&gt;&lt;img src=x&gt;\">go</a>");
    /* Without the flag the same values are copied as they are (plain-text mail, SMS). */
    assert_string_equal(latch_template_render(arena, "Hi {{name}}", n, v, 2, 0),
                        "Hi <script>alert('x')</script> & \"you\"");
    assert_string_equal(
        render("<b>{{organization.name}}</b> {{link}} {{empty}}", LATCH_TEMPLATE_HTML),
        "<b>Acme &lt;Corp&gt;</b> https://example.com/a?b=1&amp;c=2 ");
    /* The same variable used twice is escaped once per use, not twice over. */
    assert_string_equal(render("{{link}}{{link}}", LATCH_TEMPLATE_HTML),
                        "https://example.com/a?b=1&amp;c=2https://example.com/a?b=1&amp;c=2");
}

static void test_bounds_and_refusals(void **state)
{
    (void)state;
    assert_null(latch_template_render(arena, NULL, names, values, NVARS, 0));
    assert_null(latch_template_render(arena, "{{code}}", NULL, values, 1, 0));

    /* A value of half the bound used twice fits exactly; once more does not. */
    struct latch_arena *big = latch_arena_new(16u * 1024u * 1024u);
    assert_non_null(big);
    size_t half = LATCH_TEMPLATE_OUTPUT_MAX / 2;
    char *value = malloc(half + 1);
    assert_non_null(value);
    memset(value, 'x', half);
    value[half] = '\0';
    const char *n = "v";
    const char *v = value;
    char *out = latch_template_render(big, "{{v}}{{v}}", &n, &v, 1, 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), LATCH_TEMPLATE_OUTPUT_MAX);
    assert_null(latch_template_render(big, "{{v}}{{v}}!", &n, &v, 1, 0));
    assert_null(latch_template_render(big, "{{v}}{{v}}{{v}}", &n, &v, 1, 0));
    /* The bound applies to the escaped text: half of it in '&' escapes to 2.5 times it. */
    memset(value, '&', half);
    assert_null(latch_template_render(big, "{{v}}", &n, &v, 1, LATCH_TEMPLATE_HTML));
    free(value);
    latch_arena_free(big);

    /* An exhausted arena gives NULL, not a short result. */
    struct latch_arena *tiny = latch_arena_new(64);
    assert_non_null(tiny);
    const char *lv = "0123456789012345678901234567890123456789012345678901234567890123456789";
    assert_null(latch_template_render(tiny, "{{v}}", &n, &lv, 1, 0));
    latch_arena_free(tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_not_placeholders),
        cmocka_unit_test(test_first_name_wins_and_no_rerendering),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_bounds_and_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
