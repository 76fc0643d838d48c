/* The escaping writer (see html.h). */
#include "html.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static FILE *html_out;

void html_set_output(FILE *out)
{
    html_out = out;
}

static FILE *out_file(void)
{
    return html_out ? html_out : stdout;
}

void html_escape_n(const char *s, size_t len)
{
    FILE *o = out_file();
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default: fputc(s[i], o);
        }
    }
}

/* Called by every page. Walks fmt itself instead of calling vfprintf so
 * that the escaping is decided here, per conversion, and not by the
 * caller remembering to. */
void html_printf(const char *fmt, ...)
{
    FILE *o = out_file();
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            fputc(*p, o);
            continue;
        }
        p++;
        int longs = 0;
        bool size = false;
        while (*p == 'l')
            longs++, p++;
        if (*p == 'z')
            size = true, p++;
        switch (*p) {
        case '%':
            fputc('%', o);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s)
                html_escape_n(s, strlen(s));
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            html_escape_n(&c, 1);
            break;
        }
        case 'd':
            if (longs == 2)
                fprintf(o, "%lld", va_arg(ap, long long));
            else if (longs == 1)
                fprintf(o, "%ld", va_arg(ap, long));
            else
                fprintf(o, "%d", va_arg(ap, int));
            break;
        case 'u':
            if (size)
                fprintf(o, "%zu", va_arg(ap, size_t));
            else if (longs == 2)
                fprintf(o, "%llu", va_arg(ap, unsigned long long));
            else if (longs == 1)
                fprintf(o, "%lu", va_arg(ap, unsigned long));
            else
                fprintf(o, "%u", va_arg(ap, unsigned));
            break;
        default:
            fprintf(stderr, "html_printf: unsupported conversion in \"%s\"\n", fmt);
            abort();
        }
    }
    va_end(ap);
}
