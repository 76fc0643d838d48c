/*
 * pullbox-growdata: after the virtual disk was enlarged, grow the data
 * partition (the last one on a GPT disk) and its mounted ext4 to fill it.
 *
 *   pullbox-growdata PARTDEV MOUNTPOINT   at boot: table, kernel, filesystem
 *   pullbox-growdata --table DISK PARTNO  only the partition table of DISK
 *                                         (a block device or an image file)
 *
 * Safe to run on every boot: each step first checks whether it is needed
 * and does nothing when the partition and the filesystem already fill the
 * disk. Nothing is written until the whole table has been read and checked
 * (signatures, CRCs, the partition being the last one); the new backup
 * table is written past the old end of the disk first, then the primary,
 * so a failure in between leaves the old, valid primary in place. The
 * filesystem is grown online by the kernel (EXT4_IOC_RESIZE_FS), which
 * only adds block groups: the data already there is not moved.
 *
 * Prints what it did on one line. Exits 0 when done or nothing was needed,
 * 1 when something failed (nothing or only the table was changed; the next
 * boot tries again), 100 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#define GPT_SIG "EFI PART"
#define ALIGN_BYTES (1024 * 1024) /* partitions end on a MiB boundary, as mkdisk.sh made them */
#define MAX_ENTRIES_BYTES (1024 * 1024)

static const char *prog = "pullbox-growdata";

static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* The disk as read: what the steps below need to decide and to write. */
struct disk {
    int fd;
    int is_blockdev;
    uint64_t ss;        /* logical sector size */
    uint64_t last;      /* last LBA of the disk as it is now */
    unsigned char *hdr; /* primary header sector */
    unsigned char *ent; /* partition entries */
    size_t ent_bytes;
    uint32_t ent_size, ent_count;
};

static int read_table(struct disk *d, const char *path)
{
    struct stat st;
    if (fstat(d->fd, &st) != 0)
        return fail("%s: %s", path, strerror(errno));
    uint64_t bytes = (uint64_t)st.st_size;
    d->ss = 512;
    d->is_blockdev = S_ISBLK(st.st_mode);
    if (d->is_blockdev) {
        int ss = 0;
        if (ioctl(d->fd, BLKGETSIZE64, &bytes) != 0 || ioctl(d->fd, BLKSSZGET, &ss) != 0)
            return fail("%s: cannot read its size: %s", path, strerror(errno));
        d->ss = (uint64_t)ss;
    }
    if (d->ss < 512 || d->ss > 4096 || bytes / d->ss < 68)
        return fail("%s: unexpected sector size %llu or disk size %llu", path,
                    (unsigned long long)d->ss, (unsigned long long)bytes);
    d->last = bytes / d->ss - 1;
    d->hdr = malloc(d->ss);
    if (!d->hdr || pread_all(d->fd, d->hdr, d->ss, d->ss) != 0)
        return fail("%s: cannot read the GPT header", path);
    uint32_t hsize = get32(d->hdr + 12);
    if (memcmp(d->hdr, GPT_SIG, 8) != 0 || hsize < 92 || hsize > d->ss)
        return fail("%s: no GPT header at LBA 1", path);
    uint32_t want = get32(d->hdr + 16);
    put32(d->hdr + 16, 0);
    if (crc32(d->hdr, hsize) != want)
        return fail("%s: the GPT header's CRC does not match: not touching it", path);
    put32(d->hdr + 16, want);
    if (get64(d->hdr + 24) != 1)
        return fail("%s: the primary GPT header does not say it is at LBA 1", path);
    d->ent_count = get32(d->hdr + 80);
    d->ent_size = get32(d->hdr + 84);
    if (d->ent_size < 128 || d->ent_size % 8 || d->ent_count == 0 ||
        (uint64_t)d->ent_size * d->ent_count > MAX_ENTRIES_BYTES)
        return fail("%s: unexpected GPT entry array (%u x %u bytes)", path, d->ent_count,
                    d->ent_size);
    d->ent_bytes = (size_t)d->ent_size * d->ent_count;
    d->ent = malloc(d->ent_bytes);
    if (!d->ent || pread_all(d->fd, d->ent, d->ent_bytes, get64(d->hdr + 72) * d->ss) != 0)
        return fail("%s: cannot read the GPT entries", path);
    if (crc32(d->ent, d->ent_bytes) != get32(d->hdr + 88))
        return fail("%s: the GPT entries' CRC does not match: not touching them", path);
    return 0;
}

static void seal_header(unsigned char *h)
{
    put32(h + 16, 0);
    put32(h + 16, crc32(h, get32(h + 12)));
}

/* Grows partition pno (1-based) of the table in d to the end of the disk.
 * *grown is set when the table was changed. */
static int grow_table(struct disk *d, const char *path, unsigned pno, int *grown)
{
    *grown = 0;
    if (pno == 0 || pno > d->ent_count)
        return fail("%s: no partition %u in the GPT", path, pno);
    unsigned char *e = d->ent + (size_t)(pno - 1) * d->ent_size;
    uint64_t first = get64(e + 32), end = get64(e + 40);
    static const unsigned char zero[16];
    if (memcmp(e, zero, 16) == 0 || end < first)
        return fail("%s: partition %u is not in use", path, pno);
    for (uint32_t i = 0; i < d->ent_count; i++) {
        const unsigned char *o = d->ent + (size_t)i * d->ent_size;
        if (i != pno - 1 && memcmp(o, zero, 16) != 0 && get64(o + 40) > end)
            return fail("%s: partition %u is not the last one (partition %u ends after it)", path,
                        pno, i + 1);
    }
    uint64_t old_alt = get64(d->hdr + 32);
    uint64_t ent_sectors = (d->ent_bytes + d->ss - 1) / d->ss;
    if (old_alt > d->last)
        return fail("%s: the disk is smaller than its GPT says (backup header at LBA %llu, "
                    "last LBA %llu): not touching it",
                    path, (unsigned long long)old_alt, (unsigned long long)d->last);
    uint64_t last_usable = d->last - ent_sectors - 1;
    uint64_t align = ALIGN_BYTES / d->ss;
    uint64_t new_end = (last_usable + 1) / align * align - 1;
    if (new_end <= end && old_alt == d->last)
        return 0; /* already fills the disk */
    if (new_end < end)
        new_end = end; /* only the backup header moves */
    /* the new table: the partition's end, the usable area and where the backup is */
    put64(e + 40, new_end);
    uint32_t ecrc = crc32(d->ent, d->ent_bytes);
    put32(d->hdr + 88, ecrc);
    put64(d->hdr + 32, d->last);
    put64(d->hdr + 48, last_usable);
    seal_header(d->hdr);
    unsigned char *bak = malloc(d->ss);
    if (!bak)
        return fail("out of memory");
    memcpy(bak, d->hdr, d->ss);
    put64(bak + 24, d->last);
    put64(bak + 32, 1);
    put64(bak + 72, d->last - ent_sectors);
    seal_header(bak);
    /* backup first (past the old end: nothing lives there), then the primary */
    int rc = pwrite_all(d->fd, d->ent, d->ent_bytes, (d->last - ent_sectors) * d->ss) ||
             pwrite_all(d->fd, bak, d->ss, d->last * d->ss) || fsync(d->fd);
    if (rc)
        rc = fail("%s: writing the backup GPT: %s", path, strerror(errno));
    else if (pwrite_all(d->fd, d->ent, d->ent_bytes, get64(d->hdr + 72) * d->ss) ||
             pwrite_all(d->fd, d->hdr, d->ss, d->ss) || fsync(d->fd))
        rc = fail("%s: writing the primary GPT: %s", path, strerror(errno));
    if (rc == 0 && old_alt != d->last) {
        /* the old backup header is now inside the partition: clear it, so
         * nothing mistakes it for a table */
        memset(bak, 0, d->ss);
        if (pwrite_all(d->fd, bak, d->ss, old_alt * d->ss) || fsync(d->fd))
            rc = fail("%s: clearing the old backup GPT header: %s", path, strerror(errno));
    }
    free(bak);
    if (rc == 0) {
        /* the protective MBR's partition covers the whole disk (or as much as fits) */
        unsigned char mbr[512];
        if (pread_all(d->fd, mbr, sizeof mbr, 0) == 0 && mbr[510] == 0x55 && mbr[511] == 0xaa &&
            mbr[446 + 4] == 0xee) {
            uint64_t n = d->last > 0xffffffffu ? 0xffffffffu : d->last;
            put32(mbr + 446 + 12, (uint32_t)n);
            if (pwrite_all(d->fd, mbr, sizeof mbr, 0) || fsync(d->fd))
                rc = fail("%s: updating the protective MBR: %s", path, strerror(errno));
        }
    }
    if (rc != 0)
        return rc;
    *grown = 1;
    printf("%s: partition %u: %llu -> %llu MiB, backup GPT at the disk's end (LBA %llu)\n", path,
           pno, (unsigned long long)((end - first + 1) * d->ss >> 20),
           (unsigned long long)((new_end - first + 1) * d->ss >> 20), (unsigned long long)d->last);
    return 0;
}

static int read_sysfs_u64(const char *dev, const char *what, uint64_t *v)
{
    char path[PATH_MAX], buf[64];
    snprintf(path, sizeof path, "/sys/class/block/%s/%s", dev, what);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *end = NULL;
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    errno = 0;
    unsigned long long n = strtoull(buf, &end, 10);
    if (errno || end == buf)
        return -1;
    *v = n;
    return 0;
}

/* The kernel's idea of the partition's size follows the table (the disk
 * holds mounted partitions, so it cannot re-read the whole table). */
static int tell_kernel(struct disk *d, const char *dev, unsigned pno)
{
    unsigned char *e = d->ent + (size_t)(pno - 1) * d->ent_size;
    struct blkpg_partition part = {
        .start = (long long)(get64(e + 32) * d->ss),
        .length = (long long)((get64(e + 40) - get64(e + 32) + 1) * d->ss),
        .pno = (int)pno,
    };
    struct blkpg_ioctl_arg arg = {
        .op = BLKPG_RESIZE_PARTITION, .datalen = sizeof part, .data = &part};
    if (ioctl(d->fd, BLKPG, &arg) != 0)
        return fail("%s: the kernel did not take the new size of partition %u: %s", dev, pno,
                    strerror(errno));
    return 0;
}

/* ext4's block count, from its superblock on the partition. */
static int fs_blocks(const char *partdev, uint64_t *blocks, uint64_t *bsize)
{
    unsigned char sb[1024];
    int fd = open(partdev, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("%s: %s", partdev, strerror(errno));
    int r = pread_all(fd, sb, sizeof sb, 1024);
    close(fd);
    if (r != 0 || sb[56] != 0x53 || sb[57] != 0xef)
        return fail("%s: no ext4 superblock", partdev);
    uint32_t log = get32(sb + 24);
    if (log > 6)
        return fail("%s: unexpected ext4 block size", partdev);
    *bsize = 1024u << log;
    *blocks = get32(sb + 4);
    if (get32(sb + 0x60) & 0x80) /* INCOMPAT_64BIT */
        *blocks |= (uint64_t)get32(sb + 0x150) << 32;
    return 0;
}

static int grow_fs(const char *partdev, const char *mnt, uint64_t part_bytes, int *grown)
{
    uint64_t blocks = 0, bsize = 1;
    if (fs_blocks(partdev, &blocks, &bsize) != 0)
        return 1;
    uint64_t want = part_bytes / bsize;
    if (want <= blocks)
        return 0;
    int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail("%s: %s", mnt, strerror(errno));
    int r = ioctl(fd, EXT4_IOC_RESIZE_FS, &want);
    int err = errno;
    close(fd);
    if (r != 0)
        return fail("%s: growing the filesystem to %llu blocks: %s", mnt, (unsigned long long)want,
                    strerror(err));
    *grown = 1;
    printf("%s: filesystem on %s grown from %llu to %llu MiB\n", mnt, partdev,
           (unsigned long long)(blocks * bsize >> 20), (unsigned long long)(want * bsize >> 20));
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: %s PARTDEV MOUNTPOINT\n       %s --table DISK PARTNO\n", prog, prog);
    return 100;
}

static int parse_pno(const char *s, unsigned *pno)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno || end == s || *end || n == 0 || n > 256)
        return -1;
    *pno = (unsigned)n;
    return 0;
}

static int run(struct disk *d, int argc, char **argv)
{
    int grown = 0, rc;
    if (argc == 4 && strcmp(argv[1], "--table") == 0) {
        unsigned pno;
        if (parse_pno(argv[3], &pno) != 0)
            return usage();
        d->fd = open(argv[2], O_RDWR | O_CLOEXEC);
        if (d->fd < 0)
            return fail("%s: %s", argv[2], strerror(errno));
        rc = read_table(d, argv[2]) || grow_table(d, argv[2], pno, &grown);
        if (rc == 0 && !grown)
            printf("%s: partition %u already fills the disk\n", argv[2], pno);
        return rc;
    }
    if (argc != 3 || argv[1][0] == '-')
        return usage();
    /* /dev/vda3 -> sysfs vda3: its number and its disk (the parent directory) */
    const char *partdev = argv[1], *mnt = argv[2];
    const char *name = strrchr(partdev, '/') ? strrchr(partdev, '/') + 1 : partdev;
    char link[PATH_MAX], target[PATH_MAX], diskdev[PATH_MAX];
    uint64_t pno64, start512;
    snprintf(link, sizeof link, "/sys/class/block/%s", name);
    if (read_sysfs_u64(name, "partition", &pno64) != 0 ||
        read_sysfs_u64(name, "start", &start512) || !realpath(link, target) || pno64 == 0 ||
        pno64 > 256)
        return fail("%s: not a partition the kernel knows", partdev);
    *strrchr(target, '/') = '\0';
    snprintf(diskdev, sizeof diskdev, "/dev/%s", strrchr(target, '/') + 1);
    unsigned pno = (unsigned)pno64;
    d->fd = open(diskdev, O_RDWR | O_CLOEXEC);
    if (d->fd < 0)
        return fail("%s: %s", diskdev, strerror(errno));
    if (read_table(d, diskdev) != 0)
        return 1;
    const unsigned char *e = pno <= d->ent_count ? d->ent + (size_t)(pno - 1) * d->ent_size : NULL;
    if (!e || get64(e + 32) * d->ss != start512 * 512)
        return fail("%s: the GPT's partition %u does not start where the kernel says", diskdev,
                    pno);
    if (grow_table(d, diskdev, pno, &grown) != 0)
        return 1;
    uint64_t kernel_size512;
    e = d->ent + (size_t)(pno - 1) * d->ent_size;
    uint64_t part_bytes = (get64(e + 40) - get64(e + 32) + 1) * d->ss;
    if (read_sysfs_u64(name, "size", &kernel_size512) != 0)
        return fail("%s: cannot read its size from sysfs", partdev);
    if (kernel_size512 * 512 != part_bytes && tell_kernel(d, partdev, pno) != 0)
        return 1;
    rc = grow_fs(partdev, mnt, part_bytes, &grown);
    if (rc == 0 && !grown)
        printf("%s already fills the disk (%llu MiB)\n", partdev,
               (unsigned long long)(part_bytes >> 20));
    return rc;
}

int main(int argc, char **argv)
{
    struct disk d = {.fd = -1};
    int rc = run(&d, argc, argv);

    free(d.hdr);
    free(d.ent);
    if (d.fd >= 0)
        close(d.fd);
    return rc;
}
