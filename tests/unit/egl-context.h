/* egl-context.h — an offscreen OpenGL context for the display tests and
 * the display bench: EGL on Mesa's surfaceless platform (llvmpipe when
 * there is no GPU), drawing into a framebuffer object. */
#pragma once

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    EGLDisplay dpy;
    EGLContext ctx;
    GLuint fbo, color;
    int width, height;
} TestEgl;

/* A desktop GL 3.2 core context made current; false with *why set when
 * this machine cannot give one. */
static inline bool test_egl_init(TestEgl *e, char **why)
{
    const char *client = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);

    *e = (TestEgl){ 0 };
    if (!client || !strstr(client, "EGL_MESA_platform_surfaceless")) {
        *why = g_strdup("EGL has no surfaceless platform (install libegl-mesa0 and libgl1-mesa-dri)");
        return false;
    }
    e->dpy = eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
    if (e->dpy == EGL_NO_DISPLAY || !eglInitialize(e->dpy, NULL, NULL)) {
        *why = g_strdup_printf("no EGL device (eglInitialize: 0x%x)", eglGetError());
        return false;
    }
    static const EGLint attrs[] = {
        EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 2,
        EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
        EGL_NONE,
    };
    if (!eglBindAPI(EGL_OPENGL_API) ||
        !(e->ctx = eglCreateContext(e->dpy, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attrs)) ||
        !eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, e->ctx)) {
        *why = g_strdup_printf("no OpenGL 3.2 context through EGL (0x%x)", eglGetError());
        return false;
    }
    return true;
}

/* Renders from now on into a width x height RGBA8 framebuffer object. */
static inline void test_egl_target(TestEgl *e, int width, int height)
{
    if (!e->fbo) {
        glGenFramebuffers(1, &e->fbo);
        glGenRenderbuffers(1, &e->color);
    }
    glBindRenderbuffer(GL_RENDERBUFFER, e->color);
    glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, width, height);
    glBindFramebuffer(GL_FRAMEBUFFER, e->fbo);
    glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, e->color);
    e->width = width;
    e->height = height;
}

/* The bound framebuffer's pixels as RGBA, top row first. */
static inline uint8_t *test_egl_read_target(TestEgl *e)
{
    size_t row = (size_t)e->width * 4;
    uint8_t *up = g_malloc(row * e->height), *down = g_malloc(row * e->height);

    glPixelStorei(GL_PACK_ALIGNMENT, 4);
    glReadPixels(0, 0, e->width, e->height, GL_RGBA, GL_UNSIGNED_BYTE, up);
    for (int y = 0; y < e->height; y++)
        memcpy(down + y * row, up + (size_t)(e->height - 1 - y) * row, row);
    g_free(up);
    return down;
}

/* A texture's bytes, row 0 first, through a framebuffer it is attached to. */
static inline uint8_t *test_egl_read_texture(GLuint texture, int width, int height)
{
    GLuint fbo;
    uint8_t *out = g_malloc((size_t)width * height * 4);

    glGenFramebuffers(1, &fbo);
    glBindFramebuffer(GL_READ_FRAMEBUFFER, fbo);
    glFramebufferTexture2D(GL_READ_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0);
    glPixelStorei(GL_PACK_ALIGNMENT, 4);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, out);
    glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
    glDeleteFramebuffers(1, &fbo);
    return out;
}

static inline void test_egl_fini(TestEgl *e)
{
    if (e->fbo) {
        glDeleteFramebuffers(1, &e->fbo);
        glDeleteRenderbuffers(1, &e->color);
    }
    if (e->ctx) {
        eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        eglDestroyContext(e->dpy, e->ctx);
    }
    if (e->dpy != EGL_NO_DISPLAY && e->dpy)
        eglTerminate(e->dpy);
    *e = (TestEgl){ 0 };
}
