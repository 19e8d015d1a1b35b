/* hangar/host.h — what this host's KVM can do, measured. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
    double loops_per_sec;      /* iterations of a 2-instruction guest loop per second */
    bool emulated;             /* far below hardware speed: guests will crawl */
} HgrKvmSpeed;

/* Below this, KVM is not running guest code on hardware (emulated or
 * heavily nested): hardware does several hundred million per second, the
 * software KVM seen on some cloud machines about one million. */
#define HGR_KVM_HARDWARE_LOOPS_PER_SEC 50e6

/* Runs a tiny real-mode guest on kvm_path (NULL: /dev/kvm) and times it. */
bool hgr_kvm_measure_speed(const char *kvm_path, HgrKvmSpeed *out, GError **error);

G_END_DECLS
