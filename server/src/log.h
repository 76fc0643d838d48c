/* One line per event on stderr; runit's svlogd adds timestamps. Never log
 * secrets (keys, signatures, tokens). */
#ifndef PULLBOX_LOG_H
#define PULLBOX_LOG_H

#include "first.h"

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_level;

void log_msg(enum log_level lvl, const char *fmt, ...) PB_PRINTF(2, 3);
/* Appends ": strerror(errno)". */
void log_syserr(const char *fmt, ...) PB_PRINTF(1, 2);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_level >= LOG_LVL_DEBUG)                                                            \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
