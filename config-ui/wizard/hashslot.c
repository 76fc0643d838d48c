/* Slots for password hashing (see hashslot.h). */
#include "hashslot.h"

#include "root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define HASHSLOT_POLL_MS 25

static int hashslot_try(int i)
{
    char rel[64], path[512];
    snprintf(rel, sizeof(rel), "%s/hash-slot-%d", PATH_STATE, i);
    if (root_path(path, sizeof(path), rel) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
    close(fd);
    return -1;
}

int hashslot_acquire(long wait_ms)
{
    const struct timespec pause = {0, HASHSLOT_POLL_MS * 1000000L};
    for (long waited = 0;; waited += HASHSLOT_POLL_MS) {
        for (int i = 0; i < HASHSLOT_COUNT; i++) {
            int fd = hashslot_try(i);
            if (fd >= 0)
                return fd;
        }
        if (waited >= wait_ms)
            return -1;
        while (nanosleep(&pause, NULL) < 0 && errno == EINTR)
            ;
    }
}

void hashslot_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
