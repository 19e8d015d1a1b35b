/* aml.c — AML encoding (ACPI spec chapter 20) for the few terms we need. */
#include "aml.h"

#include <string.h>

#define ZERO_OP         0x00
#define ONE_OP          0x01
#define NAME_OP         0x08
#define BYTE_PREFIX     0x0a
#define WORD_PREFIX     0x0b
#define DWORD_PREFIX    0x0c
#define STRING_PREFIX   0x0d
#define QWORD_PREFIX    0x0e
#define SCOPE_OP        0x10
#define BUFFER_OP       0x11
#define PACKAGE_OP      0x12
#define METHOD_OP       0x14
#define DUAL_NAME       0x2e
#define MULTI_NAME      0x2f
#define EXT_OP          0x5b
#define DEVICE_OP       0x82    /* after EXT_OP */
#define ROOT_CHAR       '\\'
#define PARENT_CHAR     '^'
#define RETURN_OP       0xa4
#define ONES_OP         0xff

#define RES_IO          0x47    /* small item: IO port descriptor, 7 bytes */
#define RES_IRQ         0x22    /* small item: IRQ mask, no flags */
#define RES_END         0x79
#define RES_MEM32_FIXED 0x86
#define RES_DWORD       0x87
#define RES_WORD        0x88
#define RES_QWORD       0x8a

#define SPACE_MEM       0
#define SPACE_IO        1
#define SPACE_BUS       2
#define PRODUCER_FIXED  0x0c    /* _MAF | _MIF, positive decode, producer */

#define PKG_LENGTH_MAX  (1u << 28)
#define NAME_DEPTH_MAX  32

typedef enum {
    KIND_ROOT,
    KIND_SCOPE,
    KIND_DEVICE,
    KIND_METHOD,
    KIND_PACKAGE,
    KIND_RESOURCES,
} ScopeKind;

typedef struct {
    ScopeKind kind;
    GByteArray *head;   /* bytes between PkgLength and the body: name, flags */
    GByteArray *body;
    unsigned count;     /* data objects emitted directly in this scope */
} Scope;

struct HgrAml {
    GPtrArray *stack;   /* of Scope *, root first */
    bool broken;
};

/* Appends the n low bytes of v, little-endian (ACPI's byte order). */
static void put_le(GByteArray *out, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = v >> (8 * i);
        g_byte_array_append(out, &b, 1);
    }
}

static void put_u8(GByteArray *out, uint8_t v)
{
    g_byte_array_append(out, &v, 1);
}

static void scope_free(gpointer p)
{
    Scope *s = p;
    g_byte_array_unref(s->head);
    g_byte_array_unref(s->body);
    g_free(s);
}

static void push(HgrAml *a, ScopeKind kind)
{
    Scope *s = g_new0(Scope, 1);
    s->kind = kind;
    s->head = g_byte_array_new();
    s->body = g_byte_array_new();
    g_ptr_array_add(a->stack, s);
}

static Scope *top(HgrAml *a)
{
    return g_ptr_array_index(a->stack, a->stack->len - 1);
}

HgrAml *hgr_aml_new(void)
{
    HgrAml *a = g_new0(HgrAml, 1);
    a->stack = g_ptr_array_new_with_free_func(scope_free);
    push(a, KIND_ROOT);
    return a;
}

void hgr_aml_free(HgrAml *a)
{
    if (!a)
        return;
    g_ptr_array_unref(a->stack);
    g_free(a);
}

static void fail(HgrAml *a, const char *what)
{
    g_critical("AML builder: %s", what);
    a->broken = true;
}

GByteArray *hgr_aml_finish(HgrAml *a)
{
    GByteArray *out = NULL;

    if (a->stack->len != 1)
        fail(a, "scope left open");
    if (!a->broken)
        out = g_byte_array_ref(((Scope *)g_ptr_array_index(a->stack, 0))->body);
    g_ptr_array_set_size(a->stack, 0);
    push(a, KIND_ROOT);
    a->broken = false;
    return out;
}

static bool in(HgrAml *a, ScopeKind kind, const char *what)
{
    if (top(a)->kind == kind)
        return true;
    fail(a, what);
    return false;
}

static bool is_term_scope(HgrAml *a)
{
    ScopeKind k = top(a)->kind;

    if (k == KIND_PACKAGE || k == KIND_RESOURCES) {
        fail(a, "named object or scope inside a package or resource template");
        return false;
    }
    return true;
}

static bool valid_seg(const char *s, size_t len)
{
    if (len == 0 || len > 4 || g_ascii_isdigit(s[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isupper(s[i]) && !g_ascii_isdigit(s[i]) && s[i] != '_')
            return false;
    return true;
}

/* "\\_SB.PCI0", "^FOO", "_S5": prefix, then 4-char segments padded with '_'. */
static bool put_namestring(GByteArray *out, const char *path)
{
    g_autoptr(GByteArray) segs = g_byte_array_new();
    const char *p = path;
    unsigned n = 0;

    if (*p == ROOT_CHAR) {
        put_u8(out, ROOT_CHAR);
        p++;
    } else {
        while (*p == PARENT_CHAR) {
            put_u8(out, PARENT_CHAR);
            p++;
        }
    }
    while (*p && n < NAME_DEPTH_MAX) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_seg(p, len))
            return false;
        g_byte_array_append(segs, (const uint8_t *)p, len);
        g_byte_array_append(segs, (const uint8_t *)"____", 4 - len);
        n++;
        p += len + (dot ? 1 : 0);
        if (dot && !*p)
            return false;
    }
    if (*p)
        return false;
    if (n == 0) {
        put_u8(out, ZERO_OP);   /* NullName */
    } else if (n == 2) {
        put_u8(out, DUAL_NAME);
    } else if (n > 2) {
        put_u8(out, MULTI_NAME);
        put_u8(out, n);
    }
    g_byte_array_append(out, segs->data, segs->len);
    return true;
}

static void put_int(GByteArray *out, uint64_t v)
{
    if (v == 0) {
        put_u8(out, ZERO_OP);
    } else if (v == 1) {
        put_u8(out, ONE_OP);
    } else if (v == UINT64_MAX) {
        put_u8(out, ONES_OP);
    } else if (v <= UINT8_MAX) {
        put_u8(out, BYTE_PREFIX);
        put_u8(out, v);
    } else if (v <= UINT16_MAX) {
        put_u8(out, WORD_PREFIX);
        put_le(out, v, 2);
    } else if (v <= UINT32_MAX) {
        put_u8(out, DWORD_PREFIX);
        put_le(out, v, 4);
    } else {
        put_u8(out, QWORD_PREFIX);
        put_le(out, v, 8);
    }
}

/* PkgLength counts its own bytes: 1 byte up to 63, else 2-4 bytes with the
 * low nibble in the lead byte. */
static bool put_pkg_length(GByteArray *out, size_t content)
{
    for (unsigned extra = 0; extra <= 3; extra++) {
        size_t total = content + 1 + extra;
        size_t limit = extra == 0 ? 0x40 : (size_t)1 << (4 + 8 * extra);
        if (total >= limit)
            continue;
        if (extra == 0) {
            put_u8(out, total);
            return true;
        }
        put_u8(out, (extra << 6) | (total & 0xf));
        for (unsigned i = 0; i < extra; i++)
            put_u8(out, total >> (4 + 8 * i));
        return true;
    }
    return false;
}

void hgr_aml_int(HgrAml *a, uint64_t v)
{
    put_int(top(a)->body, v);
    top(a)->count++;
}

void hgr_aml_string(HgrAml *a, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c > 0x7f) {
            fail(a, "string not 7-bit ASCII");
            return;
        }
    }
    put_u8(top(a)->body, STRING_PREFIX);
    g_byte_array_append(top(a)->body, (const uint8_t *)s, strlen(s) + 1);
    top(a)->count++;
}

/* Three letters of 5 bits each, then four hex digits, stored big-endian. */
void hgr_aml_eisaid(HgrAml *a, const char *id)
{
    bool ok = strlen(id) == 7;
    for (unsigned i = 0; ok && i < 3; i++)
        ok = g_ascii_isupper(id[i]);
    for (unsigned i = 3; ok && i < 7; i++)
        ok = g_ascii_isxdigit(id[i]) && !g_ascii_islower(id[i]);
    if (!ok) {
        fail(a, "malformed EISA ID");
        return;
    }
    uint32_t be = ((uint32_t)(id[0] - 0x40) << 26) | ((uint32_t)(id[1] - 0x40) << 21) |
                  ((uint32_t)(id[2] - 0x40) << 16);
    for (unsigned i = 3; i < 7; i++)
        be |= (uint32_t)g_ascii_xdigit_value(id[i]) << (4 * (6 - i));
    /* Always a DWordConst, as iasl emits it, so disassemblers show EisaId(). */
    put_u8(top(a)->body, DWORD_PREFIX);
    put_le(top(a)->body, GUINT32_SWAP_LE_BE(be), 4);
    top(a)->count++;
}

void hgr_aml_name(HgrAml *a, const char *path)
{
    if (!is_term_scope(a))
        return;
    put_u8(top(a)->body, NAME_OP);
    if (!put_namestring(top(a)->body, path))
        fail(a, "malformed name");
}

void hgr_aml_return(HgrAml *a)
{
    if (in(a, KIND_METHOD, "Return outside a method"))
        put_u8(top(a)->body, RETURN_OP);
}

static void open_named(HgrAml *a, ScopeKind kind, const char *path)
{
    if (!is_term_scope(a))
        return;
    push(a, kind);
    if (!put_namestring(top(a)->head, path))
        fail(a, "malformed name");
}

void hgr_aml_scope(HgrAml *a, const char *path)
{
    open_named(a, KIND_SCOPE, path);
}

void hgr_aml_device(HgrAml *a, const char *path)
{
    open_named(a, KIND_DEVICE, path);
}

void hgr_aml_method(HgrAml *a, const char *path, unsigned n_args, bool serialized)
{
    if (n_args > 7) {
        fail(a, "a method takes at most 7 arguments");
        return;
    }
    open_named(a, KIND_METHOD, path);
    put_u8(top(a)->head, n_args | (serialized ? 0x08 : 0));
}

void hgr_aml_package(HgrAml *a)
{
    push(a, KIND_PACKAGE);
}

void hgr_aml_resources(HgrAml *a)
{
    push(a, KIND_RESOURCES);
}

void hgr_aml_end(HgrAml *a)
{
    static const uint8_t ops[][2] = {
        [KIND_SCOPE] = { SCOPE_OP }, [KIND_DEVICE] = { EXT_OP, DEVICE_OP },
        [KIND_METHOD] = { METHOD_OP }, [KIND_PACKAGE] = { PACKAGE_OP },
        [KIND_RESOURCES] = { BUFFER_OP },
    };

    if (a->stack->len < 2) {
        fail(a, "end without an open scope");
        return;
    }
    Scope *s = g_ptr_array_steal_index(a->stack, a->stack->len - 1);
    bool data = s->kind == KIND_PACKAGE || s->kind == KIND_RESOURCES;

    if (s->kind == KIND_PACKAGE) {
        if (s->count > UINT8_MAX)
            fail(a, "package with more than 255 elements");
        put_u8(s->head, s->count);
    } else if (s->kind == KIND_RESOURCES) {
        put_u8(s->body, RES_END);
        put_u8(s->body, 0);     /* checksum 0: "treat as correct" */
        put_int(s->head, s->body->len);
    }
    GByteArray *out = top(a)->body;
    g_byte_array_append(out, ops[s->kind], s->kind == KIND_DEVICE ? 2 : 1);
    if (!put_pkg_length(out, s->head->len + s->body->len))
        fail(a, "object longer than 256 MiB");
    g_byte_array_append(out, s->head->data, s->head->len);
    g_byte_array_append(out, s->body->data, s->body->len);
    if (data)
        top(a)->count++;
    scope_free(s);
}

void hgr_aml_res_io(HgrAml *a, uint16_t base, uint8_t len)
{
    if (!in(a, KIND_RESOURCES, "IO outside a resource template"))
        return;
    GByteArray *b = top(a)->body;
    put_u8(b, RES_IO);
    put_u8(b, 0x01);            /* decodes 16 address bits */
    put_le(b, base, 2);
    put_le(b, base, 2);
    put_u8(b, 1);               /* alignment */
    put_u8(b, len);
}

void hgr_aml_res_irq(HgrAml *a, unsigned irq)
{
    if (!in(a, KIND_RESOURCES, "IRQ outside a resource template"))
        return;
    if (irq > 15) {
        fail(a, "ISA IRQ above 15");
        return;
    }
    put_u8(top(a)->body, RES_IRQ);
    put_le(top(a)->body, 1u << irq, 2);
}

void hgr_aml_res_mem32_fixed(HgrAml *a, uint32_t base, uint32_t len)
{
    if (!in(a, KIND_RESOURCES, "Memory32Fixed outside a resource template"))
        return;
    GByteArray *b = top(a)->body;
    put_u8(b, RES_MEM32_FIXED);
    put_le(b, 9, 2);
    put_u8(b, 0x01);            /* read/write */
    put_le(b, base, 4);
    put_le(b, len, 4);
}

/* Word/DWord/QWord address space descriptors differ only in field width. */
static void res_address(HgrAml *a, uint8_t tag, unsigned width, uint8_t space,
                        uint8_t type_flags, uint64_t min, uint64_t max)
{
    uint64_t field_max = width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;

    if (!in(a, KIND_RESOURCES, "address space outside a resource template"))
        return;
    if (max < min || max > field_max || max - min >= field_max) {
        fail(a, "address range empty or too large for its descriptor");
        return;
    }
    GByteArray *b = top(a)->body;
    put_u8(b, tag);
    put_le(b, 3 + 5 * width, 2);
    put_u8(b, space);
    put_u8(b, PRODUCER_FIXED);
    put_u8(b, type_flags);
    put_le(b, 0, width);             /* granularity */
    put_le(b, min, width);
    put_le(b, max, width);
    put_le(b, 0, width);             /* translation offset */
    put_le(b, max - min + 1, width);
}

void hgr_aml_res_word_bus(HgrAml *a, uint16_t min, uint16_t max)
{
    res_address(a, RES_WORD, 2, SPACE_BUS, 0, min, max);
}

void hgr_aml_res_word_io(HgrAml *a, uint16_t min, uint16_t max)
{
    res_address(a, RES_WORD, 2, SPACE_IO, 0x03 /* ISA and non-ISA ranges */, min, max);
}

/* Memory type flags: bit 0 read/write, bits 2:1 cacheability. */
void hgr_aml_res_dword_mem(HgrAml *a, uint32_t min, uint32_t max, bool cacheable)
{
    res_address(a, RES_DWORD, 4, SPACE_MEM, cacheable ? 0x03 : 0x01, min, max);
}

void hgr_aml_res_qword_mem(HgrAml *a, uint64_t min, uint64_t max, bool cacheable)
{
    res_address(a, RES_QWORD, 8, SPACE_MEM, cacheable ? 0x03 : 0x01, min, max);
}
