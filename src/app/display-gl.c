/* display-gl.c — the guest frame as a GL texture (see display-gl.h). */
#include <epoxy/gl.h>
#include <math.h>

#include "display-gl.h"

G_DEFINE_QUARK(hgr-display-error-quark, hgr_display_error)

struct _HgrDisplayGl {
    GLuint program, vao, texture;
    GLint u_rect, u_tex;
    uint32_t tex_width, tex_height;
};

/* A quad from gl_VertexID: no vertex buffer to keep. The texture holds the
 * frame's bytes as they are (B, G, R, X read as r, g, b, a), so each upload
 * is a plain copy; the shader swaps red and blue and ignores X. */
static const char vertex_src[] =
    "uniform vec4 u_rect;   /* left, top, right, bottom in clip space */\n"
    "out vec2 v_uv;\n"
    "void main() {\n"
    "    vec2 c = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));\n"
    "    v_uv = c;\n"
    "    gl_Position = vec4(mix(u_rect.x, u_rect.z, c.x), mix(u_rect.y, u_rect.w, c.y), 0.0, 1.0);\n"
    "}\n";

static const char fragment_src[] =
    "uniform sampler2D u_tex;\n"
    "in vec2 v_uv;\n"
    "out vec4 color;\n"
    "void main() {\n"
    "    vec4 t = texture(u_tex, v_uv);\n"
    "    color = vec4(t.b, t.g, t.r, 1.0);\n"
    "}\n";

HgrDisplayPlacement hgr_display_place(uint32_t fw, uint32_t fh, double vw, double vh, bool fit)
{
    HgrDisplayPlacement p = { 0, 0, 0, 0 };

    if (!fw || !fh || vw <= 0 || vh <= 0)
        return p;
    if (fit) {
        double scale = MIN(vw / fw, vh / fh);
        p.width = fw * scale;
        p.height = fh * scale;
        p.x = (vw - p.width) / 2;
        p.y = (vh - p.height) / 2;
    } else {
        p.width = fw;
        p.height = fh;
        p.x = floor((vw - fw) / 2);
        p.y = floor((vh - fh) / 2);
    }
    return p;
}

double hgr_display_guest_per_unit(uint32_t fw, uint32_t fh, double vw, double vh, bool fit,
                                  int scale_factor)
{
    if (!fit)
        return scale_factor > 0 ? scale_factor : 1;     /* 1:1 is per device pixel */
    HgrDisplayPlacement p = hgr_display_place(fw, fh, vw, vh, true);
    return p.width > 0 ? fw / p.width : 1.0;
}

static GLuint compile(GLenum type, const char *body, GError **error)
{
    const char *header = epoxy_is_desktop_gl()
        ? "#version 150\n"
        : "#version 300 es\nprecision mediump float;\n";
    const char *parts[] = { header, body };
    GLuint shader = glCreateShader(type);
    GLint ok = 0;

    glShaderSource(shader, 2, parts, NULL);
    glCompileShader(shader);
    glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[512] = "";
        glGetShaderInfoLog(shader, sizeof(log), NULL, log);
        g_set_error(error, HGR_DISPLAY_ERROR, HGR_DISPLAY_ERROR_GL,
                    "cannot compile the display's shader: %s", log);
        glDeleteShader(shader);
        return 0;
    }
    return shader;
}

static GLuint link_program(GError **error)
{
    GLuint vs = compile(GL_VERTEX_SHADER, vertex_src, error);
    if (!vs)
        return 0;
    GLuint fs = compile(GL_FRAGMENT_SHADER, fragment_src, error);
    if (!fs) {
        glDeleteShader(vs);
        return 0;
    }
    GLuint prog = glCreateProgram();
    GLint ok = 0;

    glAttachShader(prog, vs);
    glAttachShader(prog, fs);
    glLinkProgram(prog);
    glDeleteShader(vs);
    glDeleteShader(fs);
    glGetProgramiv(prog, GL_LINK_STATUS, &ok);
    if (!ok) {
        char log[512] = "";
        glGetProgramInfoLog(prog, sizeof(log), NULL, log);
        g_set_error(error, HGR_DISPLAY_ERROR, HGR_DISPLAY_ERROR_GL,
                    "cannot link the display's shaders: %s", log);
        glDeleteProgram(prog);
        return 0;
    }
    return prog;
}

HgrDisplayGl *hgr_display_gl_new(GError **error)
{
    int version = epoxy_gl_version();

    if (version < (epoxy_is_desktop_gl() ? 32 : 30)) {
        g_set_error(error, HGR_DISPLAY_ERROR, HGR_DISPLAY_ERROR_GL,
                    "the display needs OpenGL 3.2 or OpenGL ES 3.0; this one is %d.%d "
                    "(update the graphics driver, or try GDK_DEBUG=gl-gles)",
                    version / 10, version % 10);
        return NULL;
    }
    GLuint prog = link_program(error);
    if (!prog)
        return NULL;

    HgrDisplayGl *gl = g_new0(HgrDisplayGl, 1);
    gl->program = prog;
    gl->u_rect = glGetUniformLocation(prog, "u_rect");
    gl->u_tex = glGetUniformLocation(prog, "u_tex");
    glGenVertexArrays(1, &gl->vao);
    glGenTextures(1, &gl->texture);
    glBindTexture(GL_TEXTURE_2D, gl->texture);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    return gl;
}

void hgr_display_gl_free(HgrDisplayGl *gl)
{
    if (!gl)
        return;
    glDeleteTextures(1, &gl->texture);
    glDeleteVertexArrays(1, &gl->vao);
    glDeleteProgram(gl->program);
    g_free(gl);
}

static void upload_rect(const HgrDisplayStaging *st, HgrConsoleRect r)
{
    if (!hgr_display_rect_clip(&r, st->width, st->height))
        return;
    const uint8_t *at = st->pixels + ((size_t)r.y * st->width + r.x) * 4;
    glTexSubImage2D(GL_TEXTURE_2D, 0, (GLint)r.x, (GLint)r.y, (GLsizei)r.width,
                    (GLsizei)r.height, GL_RGBA, GL_UNSIGNED_BYTE, at);
}

unsigned hgr_display_gl_upload(HgrDisplayGl *gl, HgrDisplayStaging *st)
{
    unsigned n = 0;

    glBindTexture(GL_TEXTURE_2D, gl->texture);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    glPixelStorei(GL_UNPACK_ROW_LENGTH, (GLint)st->width);
    if (st->pixels && (st->width != gl->tex_width || st->height != gl->tex_height)) {
        /* A new mode, or a texture newer than the frame (the view was
         * realized again): the texture is remade and gets the whole frame,
         * whatever is pending. */
        glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, (GLsizei)st->width, (GLsizei)st->height, 0,
                     GL_RGBA, GL_UNSIGNED_BYTE, NULL);
        upload_rect(st, (HgrConsoleRect){ 0, 0, st->width, st->height });
        n = 1;
    } else if (st->pixels) {
        for (unsigned i = 0; i < st->n_pending; i++)
            upload_rect(st, st->pending[i]);
        n = st->n_pending;
    }
    glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    gl->tex_width = st->pixels ? st->width : 0;
    gl->tex_height = st->pixels ? st->height : 0;
    hgr_display_staging_done(st);
    return n;
}

void hgr_display_gl_draw(HgrDisplayGl *gl, int width, int height, bool fit)
{
    glViewport(0, 0, width, height);
    glDisable(GL_BLEND);
    glDisable(GL_DEPTH_TEST);
    glDisable(GL_SCISSOR_TEST);
    glClearColor(0, 0, 0, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    if (!gl->tex_width || width <= 0 || height <= 0)
        return;

    HgrDisplayPlacement p = hgr_display_place(gl->tex_width, gl->tex_height, width, height, fit);
    /* Exact pixels stay exact; a scaled frame is filtered. */
    bool exact = p.width == gl->tex_width && p.height == gl->tex_height;
    GLint filter = exact ? GL_NEAREST : GL_LINEAR;

    glUseProgram(gl->program);
    glBindVertexArray(gl->vao);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, gl->texture);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
    glUniform1i(gl->u_tex, 0);
    /* View units, y down, to clip space, y up. */
    glUniform4f(gl->u_rect,
                (float)(2 * p.x / width - 1), (float)(1 - 2 * p.y / height),
                (float)(2 * (p.x + p.width) / width - 1),
                (float)(1 - 2 * (p.y + p.height) / height));
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
    glBindVertexArray(0);
    glUseProgram(0);
}

unsigned hgr_display_gl_texture(HgrDisplayGl *gl, uint32_t *width, uint32_t *height)
{
    if (width)
        *width = gl->tex_width;
    if (height)
        *height = gl->tex_height;
    return gl->texture;
}
