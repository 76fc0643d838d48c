/* Parser inputs that end right before a PROT_NONE page, so that a read past
 * their end faults at once, with or without ASan (picohttpparser's test.c).
 *   p = guard_copy(bytes, len);   the copy; it replaces the previous one
 *   p = guard_space(len);         len writable bytes ending at the guard
 * One mapping, grown when an input needs more room. Header-only, like tap.h. */
#ifndef PULLBOX_GUARD_H
#define PULLBOX_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char *guard_map;
static size_t guard_room; /* bytes before the PROT_NONE page */

static void *guard_space(size_t len)
{
    if (len > guard_room || guard_map == NULL) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (guard_map)
            munmap(guard_map, guard_room + page);
        guard_room = (len / page + 1) * page;
        guard_map = mmap(NULL, guard_room + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (guard_map == MAP_FAILED || mprotect(guard_map + guard_room, page, PROT_NONE) != 0) {
            perror("guard page");
            exit(1);
        }
    }
    return guard_map + guard_room - len;
}

static void *guard_copy(const void *src, size_t len)
{
    void *p = guard_space(len);
    if (len)
        memcpy(p, src, len);
    return p;
}

#endif
