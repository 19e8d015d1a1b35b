/* pflash.c — a CFI parallel flash with Intel/Sharp commands, as OVMF uses it.
 *
 * The contents live in host memory read from the file at open; what the
 * guest programs or erases is written straight back with pwrite, and
 * fdatasync'd when the guest moves to another sector, finishes an erase,
 * or the device pauses or goes away, not for every byte.
 *
 * Programming overwrites (as QEMU's pflash_cfi01 does) instead of only
 * clearing bits: OVMF is tested against that. Only the command state is
 * saved; the contents are the file.
 *
 * A writable chip in read-array mode is also mapped read-only into the
 * guest (board->map_rom), so the variable reads OVMF does by the hundred
 * thousand need no exits; any command takes the mapping away until the
 * guest returns to read-array mode, so status and query reads reach us.
 */
#include "pflash.h"

#include <errno.h>
#include <fcntl.h>
#include <hangar/vm.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/board.h"
#include "../core/ratelimit.h"

#define CMD_READ_ARRAY      0xff
#define CMD_READ_ARRAY0     0x00
#define CMD_PROGRAM         0x10
#define CMD_PROGRAM_ALT     0x40
#define CMD_ERASE           0x20
#define CMD_CLEAR_STATUS    0x50
#define CMD_LOCK_SETUP      0x60
#define CMD_READ_STATUS     0x70
#define CMD_READ_ID         0x90
#define CMD_CFI_QUERY       0x98
#define CMD_BUFFERED        0xe8
#define CMD_CONFIRM         0xd0

#define SR_READY            0x80
#define SR_ERASE_ERR        0x20
#define SR_PROGRAM_ERR      0x10
#define SR_PROTECTED        0x02

#define WRITE_BUFFER        32u     /* bytes, 2^5 in the CFI table */
#define FVH_OFFSET          40
#define FV_SIGNATURE        "_FVH"

/* What reads return. */
enum { MODE_ARRAY, MODE_STATUS, MODE_ID, MODE_CFI, N_MODES };
/* Which write cycle the next write is. */
enum { PEND_NONE, PEND_PROGRAM, PEND_ERASE, PEND_LOCK, PEND_BUF_COUNT, PEND_BUF_DATA,
       PEND_BUF_CONFIRM, N_PENDS };

typedef struct {
    uint64_t size;              /* must match the file on load */
    uint8_t mode;
    uint8_t pending;
    uint8_t status;
    uint32_t buf_left;          /* buffered write: bytes still to come */
    uint64_t buf_sector;        /* buffered write: the sector it targets */
} PflashState;

typedef struct {
    HgrDevice dev;
    GMutex lock;
    int fd;
    bool readonly;
    uint64_t gpa;
    uint8_t *mem;               /* mmap'd, size bytes */
    bool dirty;                 /* written since the last fdatasync */
    const HgrBoard *board;      /* for the read-array mapping; NULL: none */
    bool mapped;                /* the contents are mapped read-only at gpa */
    uint64_t dirty_sector;
    HgrRateLimit rl;
    uint8_t cfi[0x40];
    PflashState s;
} Pflash;

static void build_cfi(Pflash *f)
{
    uint8_t *q = f->cfi;
    uint32_t sectors = (uint32_t)(f->s.size / HGR_PFLASH_SECTOR);

    memset(q, 0, sizeof(f->cfi));
    q[0x10] = 'Q';
    q[0x11] = 'R';
    q[0x12] = 'Y';
    q[0x13] = 0x01;             /* Intel/Sharp extended command set */
    q[0x1b] = 0x45;             /* Vcc 4.5 V .. 5.5 V */
    q[0x1c] = 0x55;
    q[0x1f] = 0x07;             /* typical program 2^7 us */
    q[0x20] = 0x07;             /* typical buffer write 2^7 us */
    q[0x21] = 0x0a;             /* typical sector erase 2^10 ms */
    q[0x23] = 0x04;
    q[0x24] = 0x04;
    q[0x25] = 0x04;
    q[0x27] = (uint8_t)g_bit_storage(f->s.size - 1);    /* size 2^n bytes */
    q[0x28] = 0x00;             /* x8 interface */
    q[0x2a] = 5;                /* write buffer 2^5 bytes */
    q[0x2c] = 1;                /* one erase region */
    q[0x2d] = (uint8_t)(sectors - 1);
    q[0x2e] = (uint8_t)((sectors - 1) >> 8);
    q[0x2f] = (uint8_t)(HGR_PFLASH_SECTOR >> 8);
    q[0x30] = (uint8_t)(HGR_PFLASH_SECTOR >> 16);
}

static void flush(Pflash *f)
{
    if (!f->dirty)
        return;
    f->dirty = false;
    if (fdatasync(f->fd) < 0)
        hgr_warn_ratelimited(&f->rl, f->dev.id, "cannot flush the variable store: %s",
                             g_strerror(errno));
}

/* Writes [off, off + len) of the contents back to the file. */
static void persist(Pflash *f, uint64_t off, uint64_t len)
{
    uint64_t sector = off & ~(uint64_t)(HGR_PFLASH_SECTOR - 1);

    if (f->dirty && sector != f->dirty_sector)
        flush(f);
    while (len > 0) {
        ssize_t n = pwrite(f->fd, f->mem + off, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            hgr_warn_ratelimited(&f->rl, f->dev.id, "cannot write the variable store: %s",
                                 n < 0 ? g_strerror(errno) : "short write");
            return;
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    f->dirty = true;
    f->dirty_sector = sector;
}

/* Programs data at off, clipped to the flash. False for a read-only flash. */
static bool program(Pflash *f, uint64_t off, const uint8_t *data, unsigned len)
{
    if (f->readonly) {
        f->s.status |= SR_PROGRAM_ERR | SR_PROTECTED;
        return false;
    }
    if (off >= f->s.size)
        return true;
    uint64_t n = MIN((uint64_t)len, f->s.size - off);
    memcpy(f->mem + off, data, n);
    persist(f, off, n);
    return true;
}

static void erase(Pflash *f, uint64_t off)
{
    uint64_t sector = off & ~(uint64_t)(HGR_PFLASH_SECTOR - 1);

    if (f->readonly) {
        f->s.status |= SR_ERASE_ERR | SR_PROTECTED;
        return;
    }
    memset(f->mem + sector, 0xff, HGR_PFLASH_SECTOR);
    persist(f, sector, HGR_PFLASH_SECTOR);
    flush(f);
}

static void sequence_error(Pflash *f)
{
    f->s.status |= SR_ERASE_ERR | SR_PROGRAM_ERR;
    f->s.pending = PEND_NONE;
    f->s.mode = MODE_STATUS;
}

static void command(Pflash *f, uint64_t off, uint8_t cmd)
{
    PflashState *s = &f->s;

    switch (cmd) {
    case CMD_READ_ARRAY:
    case CMD_READ_ARRAY0:
        s->mode = MODE_ARRAY;
        break;
    case CMD_PROGRAM:
    case CMD_PROGRAM_ALT:
        s->pending = PEND_PROGRAM;
        s->mode = MODE_STATUS;
        break;
    case CMD_ERASE:
        s->pending = PEND_ERASE;
        s->mode = MODE_STATUS;
        break;
    case CMD_CLEAR_STATUS:
        /* OVMF's probe expects 0 after this, not the ready bit. */
        s->status = 0;
        s->mode = MODE_ARRAY;
        break;
    case CMD_LOCK_SETUP:
        s->pending = PEND_LOCK;
        s->mode = MODE_STATUS;
        break;
    case CMD_READ_STATUS:
        s->mode = MODE_STATUS;
        break;
    case CMD_READ_ID:
        s->mode = MODE_ID;
        break;
    case CMD_CFI_QUERY:
        s->mode = MODE_CFI;
        break;
    case CMD_BUFFERED:
        s->pending = PEND_BUF_COUNT;
        s->buf_sector = off & ~(uint64_t)(HGR_PFLASH_SECTOR - 1);
        s->mode = MODE_STATUS;  /* reads the ready bit: the buffer is free */
        s->status |= SR_READY;
        break;
    case CMD_CONFIRM:           /* resume: nothing is ever suspended */
        break;
    default:
        hgr_warn_ratelimited(&f->rl, f->dev.id, "unknown command 0x%02x", cmd);
        s->mode = MODE_ARRAY;
        break;
    }
}

static void flash_write(Pflash *f, uint64_t off, const uint8_t *data, unsigned len)
{
    PflashState *s = &f->s;
    uint8_t cmd = data[0];

    switch (s->pending) {
    case PEND_PROGRAM:
        s->pending = PEND_NONE;
        program(f, off, data, len);
        s->status |= SR_READY;
        break;
    case PEND_ERASE:
        s->pending = PEND_NONE;
        if (cmd == CMD_CONFIRM) {
            erase(f, off);
            s->status |= SR_READY;
        } else if (cmd == CMD_READ_ARRAY) {
            s->mode = MODE_ARRAY;
        } else {
            sequence_error(f);
        }
        break;
    case PEND_LOCK:
        /* Lock, unlock, lock-down: accepted, and nothing is ever locked. */
        s->pending = PEND_NONE;
        if (cmd != 0x01 && cmd != CMD_CONFIRM && cmd != 0x2f)
            sequence_error(f);
        break;
    case PEND_BUF_COUNT:
        if (cmd >= WRITE_BUFFER) {
            sequence_error(f);
            break;
        }
        s->buf_left = cmd + 1u;
        s->pending = PEND_BUF_DATA;
        break;
    case PEND_BUF_DATA:
        if ((off & ~(uint64_t)(HGR_PFLASH_SECTOR - 1)) != s->buf_sector || len > s->buf_left) {
            sequence_error(f);
            break;
        }
        if (!program(f, off, data, len)) {
            s->pending = PEND_NONE;
            break;
        }
        s->buf_left -= len;
        if (s->buf_left == 0)
            s->pending = PEND_BUF_CONFIRM;
        break;
    case PEND_BUF_CONFIRM:
        if (cmd == CMD_CONFIRM) {
            s->pending = PEND_NONE;
            s->status |= SR_READY;
        } else {
            sequence_error(f);
        }
        break;
    default:
        command(f, off, cmd);
        break;
    }
}

static uint8_t flash_read_byte(Pflash *f, uint64_t off)
{
    switch (f->s.mode) {
    case MODE_STATUS:
        return f->s.status;
    case MODE_ID:
        /* Intel manufacturer and a 28F128-style id; no sector is locked. */
        return (off & 0xff) == 0 ? 0x89 : (off & 0xff) == 1 ? 0x18 : 0x00;
    case MODE_CFI:
        return (off & 0xff) < sizeof(f->cfi) ? f->cfi[off & 0xff] : 0;
    default:
        return f->mem[off];
    }
}

/* Maps the contents while reads return them (read-array mode), and only
 * then. Called with the lock held. */
static void update_mapping(Pflash *f)
{
    bool want = f->board && f->board->map_rom && !f->readonly && f->s.mode == MODE_ARRAY;

    if (want == f->mapped)
        return;
    f->mapped = f->board->map_rom(f->board->opaque, f->mem, want ? f->gpa : HGR_BOARD_UNMAPPED,
                                  f->s.size) && want;
}

static void pflash_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
    Pflash *f = opaque;

    g_mutex_lock(&f->lock);
    if (offset >= f->s.size) {
        if (!is_write)
            memset(data, 0xff, len);
    } else if (is_write) {
        flash_write(f, offset, data, len);
        update_mapping(f);
    } else {
        for (unsigned i = 0; i < len; i++)
            data[i] = offset + i < f->s.size ? flash_read_byte(f, offset + i) : 0xff;
    }
    g_mutex_unlock(&f->lock);
}

static void reset_state(PflashState *s)
{
    uint64_t size = s->size;

    memset(s, 0, sizeof(*s));
    s->size = size;
    s->mode = MODE_ARRAY;
    s->status = SR_READY;
}

static void pflash_reset(HgrDevice *dev)
{
    Pflash *f = (Pflash *)dev;

    g_mutex_lock(&f->lock);
    reset_state(&f->s);
    flush(f);
    update_mapping(f);
    g_mutex_unlock(&f->lock);
}

static void pflash_pause(HgrDevice *dev)
{
    Pflash *f = (Pflash *)dev;

    g_mutex_lock(&f->lock);
    flush(f);
    g_mutex_unlock(&f->lock);
}

static bool pflash_realize(HgrDevice *dev, HgrBoard *board, GError **error)
{
    Pflash *f = (Pflash *)dev;

    if (!hgr_io_bus_register(board->mmio, f->gpa, f->s.size, pflash_io, f, dev->id)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG,
                    "%s: addresses 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                    "x are already taken", dev->id, f->gpa, f->gpa + f->s.size - 1);
        return false;
    }
    g_mutex_lock(&f->lock);
    f->board = board;
    update_mapping(f);
    g_mutex_unlock(&f->lock);
    return true;
}

static void pflash_get_state(HgrDevice *dev, void *state)
{
    Pflash *f = (Pflash *)dev;

    g_mutex_lock(&f->lock);
    memcpy(state, &f->s, sizeof(f->s));
    g_mutex_unlock(&f->lock);
}

static void pflash_visit_state(HgrVisitor *v, void *state)
{
    PflashState *s = state;

    hgr_visit_u64(v, &s->size);
    hgr_visit_u8(v, &s->mode);
    hgr_visit_u8(v, &s->pending);
    hgr_visit_u8(v, &s->status);
    hgr_visit_u32(v, &s->buf_left);
    hgr_visit_u64(v, &s->buf_sector);
}

static bool pflash_check_state(HgrDevice *dev, const void *state, GError **error)
{
    Pflash *f = (Pflash *)dev;
    const PflashState *s = state;
    const char *why = NULL;

    if (s->size != f->s.size)
        why = "the flash file has a different size";
    else if (s->mode >= N_MODES || s->pending >= N_PENDS)
        why = "unknown command state";
    else if (s->status & ~(SR_READY | SR_ERASE_ERR | SR_PROGRAM_ERR | SR_PROTECTED))
        why = "reserved status bits set";
    else if (s->buf_left > WRITE_BUFFER || (s->pending == PEND_BUF_DATA && s->buf_left == 0))
        why = "buffered write count out of range";
    else if (s->buf_sector >= s->size || s->buf_sector % HGR_PFLASH_SECTOR)
        why = "buffered write outside the flash";
    if (why) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE, "saved state of %s: %s",
                    dev->id, why);
        return false;
    }
    return true;
}

static void pflash_set_state(HgrDevice *dev, const void *state)
{
    Pflash *f = (Pflash *)dev;

    g_mutex_lock(&f->lock);
    memcpy(&f->s, state, sizeof(f->s));
    update_mapping(f);
    g_mutex_unlock(&f->lock);
}

static void pflash_destroy(HgrDevice *dev)
{
    Pflash *f = (Pflash *)dev;

    flush(f);
    if (f->mapped)              /* before the memory behind the mapping goes */
        f->board->map_rom(f->board->opaque, f->mem, HGR_BOARD_UNMAPPED, f->s.size);
    if (f->mem)
        munmap(f->mem, f->s.size);
    if (f->fd >= 0)
        close(f->fd);
    g_mutex_clear(&f->lock);
    g_free(f);
}

static const HgrDeviceOps pflash_ops = {
    .name = "pflash",
    .state_version = 1,
    .state_size = sizeof(PflashState),
    .realize = pflash_realize,
    .reset = pflash_reset,
    .pause = pflash_pause,
    .get_state = pflash_get_state,
    .visit_state = pflash_visit_state,
    .check_state = pflash_check_state,
    .set_state = pflash_set_state,
    .destroy = pflash_destroy,
};

static bool read_all(int fd, uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

/* Reads and checks a flash image: its size, and for a variable store its
 * firmware volume header. Returns the size, or 0 with error set. */
static uint64_t check_image(int fd, const char *path, bool vars, GError **error)
{
    struct stat st;
    char sig[4];

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s: not a regular file", path);
        return 0;
    }
    if (st.st_size <= 0 || st.st_size % HGR_PFLASH_SECTOR || st.st_size > HGR_PFLASH_MAX_SIZE) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s: a flash image is a multiple of 4 KiB up to 8 MiB, this one is "
                    "%" G_GINT64_FORMAT " bytes", path, (gint64)st.st_size);
        return 0;
    }
    if (vars && (pread(fd, sig, sizeof(sig), FVH_OFFSET) != sizeof(sig) ||
                 memcmp(sig, FV_SIGNATURE, sizeof(sig)) != 0)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s: not a UEFI variable store; reset it from OVMF_VARS_4M.fd "
                    "(hangarctl firmware reset-vars)", path);
        return 0;
    }
    return (uint64_t)st.st_size;
}

HgrDevice *hgr_pflash_new(const char *id, const char *path, uint64_t gpa, bool readonly,
                          GError **error)
{
    Pflash *f = g_new0(Pflash, 1);

    hgr_device_init(&f->dev, &pflash_ops, id);
    g_mutex_init(&f->lock);
    f->gpa = gpa;
    f->readonly = readonly;
    f->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
    if (f->fd < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: %s", path,
                    g_strerror(errno));
        goto fail;
    }
    f->s.size = check_image(f->fd, path, !readonly, error);
    if (f->s.size == 0)
        goto fail;
    if (!readonly && flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE,
                    "%s: in use by another virtual machine", path);
        goto fail;
    }
    f->mem = mmap(NULL, f->s.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f->mem == MAP_FAILED) {
        f->mem = NULL;
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY, "%s: %s", path,
                    g_strerror(errno));
        goto fail;
    }
    if (!read_all(f->fd, f->mem, f->s.size)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: cannot read it", path);
        goto fail;
    }
    reset_state(&f->s);
    build_cfi(f);
    return &f->dev;

fail:
    hgr_device_free(&f->dev);
    return NULL;
}

const uint8_t *hgr_pflash_host_mem(HgrDevice *dev, uint64_t *size)
{
    Pflash *f = (Pflash *)dev;

    *size = f->s.size;
    return f->mem;
}

bool hgr_pflash_copy_vars(const char *template_path, const char *dest, GError **error)
{
    g_autofree char *tmp = g_strconcat(dest, ".XXXXXX", NULL);
    g_autofree char *dir = g_path_get_dirname(dest);
    g_autofree uint8_t *buf = NULL;
    bool ok = false;
    int in = -1, out = -1, dfd = -1;
    uint64_t size;

    in = open(template_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: %s", template_path,
                    g_strerror(errno));
        goto out;
    }
    size = check_image(in, template_path, true, error);
    if (size == 0)
        goto out;
    buf = g_malloc(size);
    if (!read_all(in, buf, size)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: cannot read it",
                    template_path);
        goto out;
    }
    out = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
    if (out < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: %s", tmp,
                    g_strerror(errno));
        goto out;
    }
    for (uint64_t done = 0; done < size;) {
        ssize_t n = write(out, buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: %s", tmp,
                        n < 0 ? g_strerror(errno) : "short write");
            goto out_unlink;
        }
        done += (uint64_t)n;
    }
    if (fsync(out) < 0 || rename(tmp, dest) < 0) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_FIRMWARE, "%s: %s", dest,
                    g_strerror(errno));
        goto out_unlink;
    }
    /* The rename itself must reach the disk too. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        fsync(dfd);
    ok = true;
    goto out;

out_unlink:
    unlink(tmp);
out:
    if (dfd >= 0)
        close(dfd);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    return ok;
}
