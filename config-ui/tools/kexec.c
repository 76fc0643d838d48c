/*
 * pullbox-kexec: the initramfs of the committed system slot starts the
 * trial boot of the other slot with it, without going through the firmware
 * and the boot menu, so that the menu never names an untried slot: whatever
 * stops the trial (a panic, a reset, a power cut) ends in the firmware, whose
 * menu boots the committed slot again.
 *
 *   pullbox-kexec load KERNEL INITRD CMDLINE   hand both files to the kernel
 *   pullbox-kexec exec                         boot what was loaded
 *
 * load uses kexec_file_load(2): the running kernel reads and checks the
 * files itself (a file that is not a kernel it can boot is refused here,
 * before anything was given up). exec is reboot(LINUX_REBOOT_CMD_KEXEC):
 * the caller has unmounted and synced what it wrote, as for any reboot.
 *
 * Exits 0 when loaded; 1 with "refused: WHY" on stderr when the kernel
 * refuses the files; 100 on usage errors; 111 when a file cannot be opened
 * or exec returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG "pullbox-kexec"
#define USAGE "usage: " PROG " load KERNEL INITRD CMDLINE | " PROG " exec\n"

static int open_ro(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
    return fd;
}

/* Why the kernel refused (kexec_file_load's errors, in words an admin can act on). */
static const char *load_error(int err)
{
    switch (err) {
    case ENOEXEC:
        return "the kernel is not an image the running kernel can boot";
    case EKEYREJECTED:
    case EPERM:
        return "the running kernel does not allow it (lockdown or a signature policy)";
    case ENOMEM:
    case EADDRNOTAVAIL:
        return "not enough memory for the kernel and its initramfs";
    case ENOSYS:
        return "the running kernel has no kexec_file_load";
    default:
        return strerror(err);
    }
}

static int cmd_load(const char *kernel, const char *initrd, const char *cmdline)
{
    int kfd = open_ro(kernel);
    if (kfd < 0)
        return 111;
    int ifd = open_ro(initrd);
    if (ifd < 0) {
        close(kfd);
        return 111;
    }
    /* the length counts the terminating NUL */
    long r = syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL);
    int err = errno;
    close(kfd);
    close(ifd);
    if (r != 0) {
        fprintf(stderr, "%s: refused: %s (%s)\n", PROG, load_error(err), strerror(err));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2], argv[3], argv[4]);
    if (argc == 2 && strcmp(argv[1], "exec") == 0) {
        reboot(LINUX_REBOOT_CMD_KEXEC);
        fprintf(stderr, "%s: exec: %s\n", PROG, strerror(errno));
        return 111;
    }
    fputs(USAGE, stderr);
    return 100;
}
