/* aml.h — a small builder for the AML byte code of our DSDT.
 *
 * Scopes nest on a stack: hgr_aml_device(), hgr_aml_package(), ... open one,
 * hgr_aml_end() closes the innermost and appends it, length-prefixed, to
 * its parent. Objects that take a value (hgr_aml_name, hgr_aml_return) are
 * followed by the call that emits the value:
 *
 *     hgr_aml_name(a, "_HID");
 *     hgr_aml_eisaid(a, "PNP0A08");
 *
 * Everything fed to the builder comes from Hangar itself; a malformed name
 * or an unbalanced hgr_aml_end() is a programming error that makes
 * hgr_aml_finish() return NULL (and logs a critical).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct HgrAml HgrAml;

HgrAml *hgr_aml_new(void);
void hgr_aml_free(HgrAml *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrAml, hgr_aml_free)

/* The encoded term list, or NULL if a scope is still open or a call was
 * malformed. The builder is empty afterwards. */
GByteArray *hgr_aml_finish(HgrAml *a);

/* Data objects. */
void hgr_aml_int(HgrAml *a, uint64_t v);
void hgr_aml_string(HgrAml *a, const char *s);
void hgr_aml_eisaid(HgrAml *a, const char *id);    /* "PNP0A08": a compressed ID */

/* Name (path, <next object>) and Return (<next object>). */
void hgr_aml_name(HgrAml *a, const char *path);
void hgr_aml_return(HgrAml *a);

/* Scopes, closed by hgr_aml_end(). */
void hgr_aml_scope(HgrAml *a, const char *path);
void hgr_aml_device(HgrAml *a, const char *path);
void hgr_aml_method(HgrAml *a, const char *path, unsigned n_args, bool serialized);
void hgr_aml_package(HgrAml *a);                   /* elements counted for you */
void hgr_aml_resources(HgrAml *a);                 /* ResourceTemplate () { ... } */
void hgr_aml_end(HgrAml *a);

/* Resource descriptors, only inside hgr_aml_resources(). */
void hgr_aml_res_io(HgrAml *a, uint16_t base, uint8_t len);        /* IO (Decode16) */
void hgr_aml_res_irq(HgrAml *a, unsigned irq);                     /* IRQNoFlags, edge/high */
void hgr_aml_res_mem32_fixed(HgrAml *a, uint32_t base, uint32_t len);
/* Bridge windows: ResourceProducer, MinFixed, MaxFixed, PosDecode. */
void hgr_aml_res_word_bus(HgrAml *a, uint16_t min, uint16_t max);
void hgr_aml_res_word_io(HgrAml *a, uint16_t min, uint16_t max);
void hgr_aml_res_dword_mem(HgrAml *a, uint32_t min, uint32_t max, bool cacheable);
void hgr_aml_res_qword_mem(HgrAml *a, uint64_t min, uint64_t max, bool cacheable);
