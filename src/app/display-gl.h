/* display-gl.h — the guest frame as a GL texture, and drawing it.
 *
 * Plain GL through libepoxy, no GTK: the display view calls it from its
 * GtkGLArea, the tests and the bench from an offscreen EGL context. Every
 * call needs the context that made the HgrDisplayGl current.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "display-staging.h"

G_BEGIN_DECLS

#define HGR_DISPLAY_ERROR (hgr_display_error_quark())
GQuark hgr_display_error_quark(void);

typedef enum {
    HGR_DISPLAY_ERROR_GL,        /* the context cannot do what the display needs */
} HgrDisplayError;

/* Where the frame lands in a view, in the view's units, y down. */
typedef struct {
    double x, y, width, height;
} HgrDisplayPlacement;

/* fit: as large as fits in the view, aspect kept, centered. Otherwise one
 * frame pixel per view unit, centered (x, y are negative when the frame is
 * larger than the view), at whole units so pixels stay sharp. */
HgrDisplayPlacement hgr_display_place(uint32_t frame_width, uint32_t frame_height,
                                      double view_width, double view_height, bool fit);

/* How many guest pixels one view unit of pointer motion is, for the frame
 * placed as hgr_display_place() does (scale_factor: device pixels per view
 * unit), so the guest's pointer follows the host's across the picture. */
double hgr_display_guest_per_unit(uint32_t frame_width, uint32_t frame_height,
                                  double view_width, double view_height, bool fit,
                                  int scale_factor);

typedef struct _HgrDisplayGl HgrDisplayGl;

/* Compiles the shaders and makes the texture; needs GL 3.2 or GLES 3.0. */
HgrDisplayGl *hgr_display_gl_new(GError **error);
void hgr_display_gl_free(HgrDisplayGl *gl);

/* Uploads the areas st has pending, then marks them done. When the texture
 * does not have the frame's size (a new mode, or a new context) it is
 * remade and gets the whole frame. Returns how many areas it sent. */
unsigned hgr_display_gl_upload(HgrDisplayGl *gl, HgrDisplayStaging *st);

/* Clears the bound framebuffer (width x height pixels) to black and draws
 * the frame placed by hgr_display_place(). */
void hgr_display_gl_draw(HgrDisplayGl *gl, int width, int height, bool fit);

/* The texture (GL_RGBA8 holding the frame's bytes B, G, R, X) and its size. */
unsigned hgr_display_gl_texture(HgrDisplayGl *gl, uint32_t *width, uint32_t *height);

G_END_DECLS
