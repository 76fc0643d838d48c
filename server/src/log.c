#include "first.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void log_v(enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "pullboxd: %s: ", level_names[lvl]);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* one event, one line: control characters from clients never split it */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    fprintf(stderr, "%s%s%s\n", line, suffix ? ": " : "", suffix ? suffix : "");
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, NULL, fmt, ap);
    va_end(ap);
}

void log_syserr(const char *fmt, ...)
{
    const char *err = strerror(errno);
    va_list ap;
    va_start(ap, fmt);
    log_v(LOG_LVL_ERR, err, fmt, ap);
    va_end(ap);
}
