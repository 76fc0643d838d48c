/*
 * pullbox-watchdog: sets the timeout of the VM's watchdog devices and leaves
 * them running, or stops them. A trial boot uses it: the committed slot's
 * initramfs arms the hypervisor's watchdog before it kexecs the trial kernel
 * (the timer lives in the virtual hardware, so it outlives the kernel that set
 * it), the trial's initramfs re-arms it for the whole trial, and the trial's
 * system stops it once the trial is kept. A trial that hangs anywhere before
 * that is reset by the hypervisor, and the reset boots the committed slot.
 *
 *   pullbox-watchdog arm SECONDS   every /dev/watchdogN: timeout SECONDS,
 *                                  pinged, closed without the magic 'V'
 *   pullbox-watchdog stop          every /dev/watchdogN: closed with 'V'
 *
 * The shell cannot do this: the timeout is an ioctl, and /dev/watchdog is
 * only the first device (softdog and a hypervisor's can both be there).
 * One line per device on stdout ("watchdog0 (i6300ESB timer): 180 s").
 * Exits 0 when at least one device was armed or stopped (a device that
 * was not is named on stderr); 1 when there is none; 100 on usage errors;
 * 111 when /dev cannot be read or no device took it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROG "pullbox-watchdog"
#define USAGE "usage: " PROG " arm SECONDS | " PROG " stop\n"

/* Arms (seconds > 0) or stops (0) one device; 0 when done. */
static int handle(const char *name, int seconds)
{
    char path[64];
    snprintf(path, sizeof path, "/dev/%.16s", name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
        return -1;
    }
    struct watchdog_info info;
    memset(&info, 0, sizeof info);
    if (ioctl(fd, WDIOC_GETSUPPORT, &info) != 0)
        snprintf((char *)info.identity, sizeof info.identity, "?");
    int rc = 0;
    if (seconds > 0) {
        int t = seconds;
        /* a device whose maximum is lower keeps its own timeout: still a reset, only sooner */
        if (ioctl(fd, WDIOC_SETTIMEOUT, &t) != 0 && ioctl(fd, WDIOC_GETTIMEOUT, &t) != 0)
            t = -1;
        ioctl(fd, WDIOC_KEEPALIVE, 0);
        printf("%s (%.32s): %d s\n", name, (const char *)info.identity, t);
    } else if (write(fd, "V", 1) != 1) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
        rc = -1;
    }
    /* without 'V' the driver keeps the timer running after the close */
    if (close(fd) != 0 && seconds == 0) {
        fprintf(stderr, "%s: %s: not stopped: %s\n", PROG, path, strerror(errno));
        rc = -1;
    }
    if (seconds == 0 && rc == 0)
        printf("%s (%.32s): stopped\n", name, (const char *)info.identity);
    return rc;
}

int main(int argc, char **argv)
{
    int seconds;
    if (argc == 3 && strcmp(argv[1], "arm") == 0) {
        char *end;
        long v = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || v < 1 || v > 65535) {
            fprintf(stderr, "%s: SECONDS must be 1-65535: %s\n", PROG, argv[2]);
            return 100;
        }
        seconds = (int)v;
    } else if (argc == 2 && strcmp(argv[1], "stop") == 0) {
        seconds = 0;
    } else {
        fputs(USAGE, stderr);
        return 100;
    }
    DIR *d = opendir("/dev");
    if (!d) {
        fprintf(stderr, "%s: /dev: %s\n", PROG, strerror(errno));
        return 111;
    }
    int seen = 0, done = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* watchdogN only: /dev/watchdog is the same device as watchdog0 */
        const char *n = e->d_name;
        if (strncmp(n, "watchdog", 8) != 0 || n[8] < '0' || n[8] > '9' || strlen(n) > 16)
            continue;
        seen++;
        if (handle(n, seconds) == 0)
            done++;
    }
    closedir(d);
    if (fflush(stdout) != 0)
        return 111;
    if (!seen) {
        fprintf(stderr, "%s: no watchdog device\n", PROG);
        return 1;
    }
    return done ? 0 : 111;
}
