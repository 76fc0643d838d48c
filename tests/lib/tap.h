/* A picotest-sized TAP producer for the C unit tests.
 *   ok(cond, "what")   note("fmt", ...)   subtest("name", fn)   return done_testing();
 * Output is TAP 13, read by tests/run. */
#ifndef PULLBOX_TAP_H
#define PULLBOX_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed, tap_depth;

static void tap_indent(void)
{
    for (int i = 0; i < tap_depth; i++)
        fputs("    ", stdout);
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_indent();
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static int tap_ok(int cond, const char *file, int line, const char *what)
{
    tap_count++;
    tap_indent();
    printf("%s %d - %s\n", cond ? "ok" : "not ok", tap_count, what);
    if (!cond) {
        tap_failed++;
        tap_indent();
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}
#define ok(cond, what) tap_ok(!!(cond), __FILE__, __LINE__, (what))

static void subtest(const char *name, void (*fn)(void))
{
    int saved_count = tap_count, saved_failed = tap_failed;
    tap_count = tap_failed = 0;
    tap_depth++;
    fn();
    tap_indent();
    printf("1..%d\n", tap_count);
    tap_depth--;
    int failed = tap_failed;
    tap_count = saved_count;
    tap_failed = saved_failed;
    tap_ok(failed == 0, __FILE__, __LINE__, name);
}

static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
