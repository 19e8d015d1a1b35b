/* ps2-keymap.h — what a PS/2 keyboard sends for a key, by Linux evdev code. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The longest sequence: Pause in set 2 (E1 14 77 E1 F0 14 F0 77). */
#define HGR_PS2_SEQ_MAX 8

/* Writes the bytes a keyboard sends when evdev key `code` goes down or up,
 * in scan code set `set` (1 or 2; anything else is taken as 2), and returns
 * how many: 0 for a key PS/2 has no code for, and for the release of Pause,
 * which sends nothing. */
unsigned hgr_ps2_keymap_encode(unsigned code, bool down, unsigned set,
                               uint8_t out[HGR_PS2_SEQ_MAX]);
