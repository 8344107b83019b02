/*
 * A JPEG decoded as IJG libjpeg 9f decodes it, pixel for pixel, at full size or at 1/2, 1/4 or 1/8 scale.
 *
 * Why: Meta's reference PDQ hashes were made on JPEGs decoded by Pillow linked against IJG libjpeg 9 (reduced
 * "draft" decoding for large images, full size for the rest). Pillow's wheels ship libjpeg-turbo, whose inverse
 * DCTs, reduced decoding and chroma upsampling differ from IJG 9's, which moves PDQ by a few bits. Here the
 * quantised coefficients are read with the system libjpeg (jpeg_read_coefficients: baseline, progressive,
 * arithmetic), and everything after that is done as IJG 9f does it with the parameters Pillow leaves at their
 * defaults (JDCT_ISLOW, do_fancy_upsampling TRUE):
 *   - the colour space is guessed as IJG 9f's jdapimin.c default_decompress_parms guesses it;
 *   - each component's DCT_h/v_scaled_size is chosen as jdmaster.c jpeg_calc_output_dimensions chooses it
 *     (subsampled chroma is scaled up by a larger inverse DCT, the h/v ratio limited to 2);
 *   - the inverse DCTs are IJG 9f's own integer ones (jidctint.c, see detection/ijg_idct.h);
 *   - a progressive file whose scans leave some of the first five AC coefficients unrefined is block-smoothed
 *     first, as jdcoefct.c decompress_smooth_data does (JPEG standard K.8);
 *   - what the DCT scaling leaves is upsampled by replication (jdsample.c: IJG 9 has no other upsampling);
 *   - colours are converted with jdcolor.c's tables (YCbCr and big-gamut YCC -> RGB, YCCK -> CMYK; grey, RGB
 *     and CMYK are copied).
 * See detection/downscale.py.
 *
 * decode(data: bytes, scale: int) -> (mode, width, height, pixels) or None
 *   scale 1, 2, 4 or 8; mode "L", "RGB" or "CMYK" (CMYK as IJG outputs it: Pillow reads it as "CMYK;I");
 *   pixels row-major bytes. None where IJG 9f would not decode the file as we do (see `unsupported` below): the
 *   caller then lets Pillow decode it.
 * Raises ValueError on any decoding error or warning (a truncated file is only a warning to libjpeg), except the
 * two warnings that do not touch pixels (extraneous bytes between markers, an unknown Adobe transform code).
 * libjpeg never prints and never exits the process here: errors longjmp back to us.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "ijg_idct.h"

struct guarded_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
};

static void guarded_error_exit(j_common_ptr cinfo) {
    struct guarded_error_mgr *err = (struct guarded_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->escape, 1);
}

static void guarded_emit_message(j_common_ptr cinfo, int msg_level) {
    /* Level -1 is a warning (corrupt or truncated data): an error for us, as Pillow treats a truncated file.
     * Trace messages (level >= 0) are ignored, and so are the warnings that change no pixel. */
    int code = cinfo->err->msg_code;
    if (msg_level < 0 && code != JWRN_EXTRANEOUS_DATA && code != JWRN_ADOBE_XFORM) {
        guarded_error_exit(cinfo);
    }
}

static void silent_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Largest image we decode this way. */
#define MAX_SOURCE_PIXELS (400.0 * 1000.0 * 1000.0)

/* IJG 9f's colour spaces as its default_decompress_parms guesses them (not libjpeg-turbo's guess). */
enum ijg_space { SPACE_UNSUPPORTED, SPACE_GRAY, SPACE_YCC, SPACE_BG_YCC, SPACE_RGB, SPACE_CMYK, SPACE_YCCK };

static enum ijg_space ijg_color_space(const struct jpeg_decompress_struct *cinfo) {
    const jpeg_component_info *c = cinfo->comp_info;
    if (cinfo->num_components == 1) {
        return SPACE_GRAY;
    }
    if (cinfo->num_components == 3) {
        int id0 = c[0].component_id, id1 = c[1].component_id, id2 = c[2].component_id;
        if (id0 == 0x01 && id1 == 0x02 && id2 == 0x03) {
            return SPACE_YCC;
        }
        if (id0 == 0x01 && id1 == 0x22 && id2 == 0x23) {
            return SPACE_BG_YCC;
        }
        if (id0 == 'R' && id1 == 'G' && id2 == 'B') {
            return SPACE_RGB;
        }
        if (id0 == 'r' && id1 == 'g' && id2 == 'b') {
            return SPACE_UNSUPPORTED; /* big-gamut RGB: IJG 9f cannot convert it to RGB output either */
        }
        if (cinfo->saw_JFIF_marker) {
            return SPACE_YCC;
        }
        if (cinfo->saw_Adobe_marker && cinfo->Adobe_transform == 0) {
            return SPACE_RGB;
        }
        return SPACE_YCC;
    }
    if (cinfo->num_components == 4) {
        int id0 = c[0].component_id, id1 = c[1].component_id, id2 = c[2].component_id, id3 = c[3].component_id;
        if (id0 == 0x01 && id1 == 0x02 && id2 == 0x03 && id3 == 0x04) {
            return SPACE_YCCK;
        }
        if (id0 == 'C' && id1 == 'M' && id2 == 'Y' && id3 == 'K') {
            return SPACE_CMYK;
        }
        if (cinfo->saw_Adobe_marker) {
            return cinfo->Adobe_transform == 0 ? SPACE_CMYK : SPACE_YCCK;
        }
        return SPACE_CMYK;
    }
    return SPACE_UNSUPPORTED;
}

/* IJG 9f's jdcoefct.c smoothing_ok: a progressive file whose scans leave some of the first five AC coefficients
 * unrefined (in zigzag order) is decoded with block smoothing (see smooth_block). */
static int ijg_would_smooth(const struct jpeg_decompress_struct *cinfo) {
    static const int zigzag_positions[6] = {0, 1, 8, 16, 9, 2}; /* natural order of coefficients 0..5 */
    if (!cinfo->progressive_mode || cinfo->coef_bits == NULL) {
        return 0;
    }
    int useful = 0;
    for (int ci = 0; ci < cinfo->num_components; ci++) {
        const JQUANT_TBL *table = cinfo->comp_info[ci].quant_table;
        if (table == NULL) {
            return 0;
        }
        for (int k = 0; k < 6; k++) {
            if (table->quantval[zigzag_positions[k]] == 0) {
                return 0;
            }
        }
        if (cinfo->coef_bits[ci][0] < 0) {
            return 0;
        }
        for (int k = 1; k <= 5; k++) {
            if (cinfo->coef_bits[ci][k] != 0) {
                useful = 1;
            }
        }
    }
    return useful;
}

/* jdmaster.c jpeg_calc_output_dimensions with do_fancy_upsampling TRUE: scale subsampled components up by the
 * inverse DCT while the size stays within DCTSIZE and the sampling ratio allows, then limit the h/v ratio to 2. */
static void ijg_scaled_sizes(int min_size, int max_h, int max_v, int samp_h, int samp_v, int *size_h, int *size_v) {
    int ssize = 1;
    while (min_size * ssize <= DCTSIZE && max_h % (samp_h * ssize * 2) == 0) {
        ssize *= 2;
    }
    *size_h = min_size * ssize;
    ssize = 1;
    while (min_size * ssize <= DCTSIZE && max_v % (samp_v * ssize * 2) == 0) {
        ssize *= 2;
    }
    *size_v = min_size * ssize;
    if (*size_h > *size_v * 2) {
        *size_h = *size_v * 2;
    } else if (*size_v > *size_h * 2) {
        *size_v = *size_h * 2;
    }
}

struct plane {
    unsigned char *pixels;
    int width, height;       /* in component pixels, whole blocks */
    int expand_h, expand_v;  /* jdsample.c's replication to the output grid */
};

/* The smoothing of jdcoefct.c decompress_smooth_data (JPEG standard K.8): a coefficient among AC01, AC10, AC20,
 * AC11, AC02 that is still zero and not fully refined (coef_bits != 0) is estimated from the DC values of the 3x3
 * neighbourhood of blocks (clamped at the image's edges): dc[row][column], row 0 above, column 0 to the left. */
static long smoothing_estimate(long q00, long q, long weighted_dc_difference, int al) {
    long num = q00 * weighted_dc_difference;
    long pred = ((q << 7) + (num >= 0 ? num : -num)) / (q << 8);
    if (al > 0 && pred >= (1L << al)) {
        pred = (1L << al) - 1;
    }
    return num >= 0 ? pred : -pred;
}

static void smooth_block(JCOEF *block, const int dc[3][3], const int coef_bits[6], const UINT16 *quant) {
    long q00 = quant[0];
    /* zigzag index k -> natural position, and the weighted DC difference of K.8 */
    const struct {
        int position;
        long difference;
    } terms[5] = {
        {1, 36L * (dc[1][0] - dc[1][2])},                          /* AC01 */
        {8, 36L * (dc[0][1] - dc[2][1])},                          /* AC10 */
        {16, 9L * (dc[0][1] + dc[2][1] - 2 * dc[1][1])},           /* AC20 */
        {9, 5L * (dc[0][0] - dc[0][2] - dc[2][0] + dc[2][2])},     /* AC11 */
        {2, 9L * (dc[1][0] + dc[1][2] - 2 * dc[1][1])},            /* AC02 */
    };
    for (int k = 1; k <= 5; k++) {
        int position = terms[k - 1].position;
        if (coef_bits[k] != 0 && block[position] == 0) {
            block[position] = (JCOEF)smoothing_estimate(q00, quant[position], terms[k - 1].difference, coef_bits[k]);
        }
    }
}

/* Returns -1 if out of memory. `coef_bits` is NULL unless IJG would smooth. */
static int decode_component(j_decompress_ptr cinfo, jvirt_barray_ptr array, const jpeg_component_info *comp,
                            const struct ijg_idct *idct, int size_h, int size_v, const int *coef_bits,
                            struct plane *out) {
    unsigned char *rows[2 * DCTSIZE];
    JDIMENSION wide = comp->width_in_blocks, high = comp->height_in_blocks;
    JCOEF *smoothed = NULL;
    int *dc = NULL; /* three rows of DC values: above, this, below */
    if (coef_bits != NULL) {
        smoothed = malloc((size_t)wide * DCTSIZE2 * sizeof(JCOEF) + 1);
        dc = malloc((size_t)wide * 3 * sizeof(int) + 1);
        if (smoothed == NULL || dc == NULL) {
            free(smoothed);
            free(dc);
            return -1;
        }
    }
    for (JDIMENSION by = 0; by < high; by++) {
        for (int y = 0; y < size_v; y++) {
            rows[y] = out->pixels + ((size_t)by * size_v + y) * (size_t)out->width;
        }
        if (coef_bits != NULL) {
            JDIMENSION neighbours[3] = {by > 0 ? by - 1 : 0, by, by + 1 < high ? by + 1 : by};
            for (int r = 0; r < 3; r++) {
                JBLOCKARRAY row = (*cinfo->mem->access_virt_barray)((j_common_ptr)cinfo, array, neighbours[r], 1, FALSE);
                for (JDIMENSION bx = 0; bx < wide; bx++) {
                    dc[(size_t)r * wide + bx] = row[0][bx][0];
                }
            }
        }
        JBLOCKARRAY blocks = (*cinfo->mem->access_virt_barray)((j_common_ptr)cinfo, array, by, 1, FALSE);
        const JCOEF *coefficients = &blocks[0][0][0];
        if (coef_bits != NULL) {
            memcpy(smoothed, coefficients, (size_t)wide * DCTSIZE2 * sizeof(JCOEF));
            for (JDIMENSION bx = 0; bx < wide; bx++) {
                JDIMENSION columns[3] = {bx > 0 ? bx - 1 : 0, bx, bx + 1 < wide ? bx + 1 : bx};
                int around[3][3];
                for (int r = 0; r < 3; r++) {
                    for (int c = 0; c < 3; c++) {
                        around[r][c] = dc[(size_t)r * wide + columns[c]];
                    }
                }
                smooth_block(smoothed + (size_t)bx * DCTSIZE2, (const int(*)[3])around, coef_bits,
                             comp->quant_table->quantval);
            }
            coefficients = smoothed;
        }
        ijg_idct_row(idct, coefficients, wide, rows, size_h);
    }
    free(smoothed);
    free(dc);
    return 0;
}

/* jdcolor.c's tables, 16 fractional bits. `big_gamut` selects build_bg_ycc_rgb_table's constants. */
struct ycc_tables {
    int cr_r[256], cb_b[256];
    long cr_g[256], cb_g[256];
};

static void build_ycc_tables(struct ycc_tables *t, int big_gamut) {
    const double r_cr = big_gamut ? 2.804 : 1.402, b_cb = big_gamut ? 3.544 : 1.772;
    const double g_cr = big_gamut ? 1.428272572 : 0.714136286, g_cb = big_gamut ? 0.688272572 : 0.344136286;
#define YCC_FIX(x) ((long)((x) * (1L << 16) + 0.5))
    for (int i = 0; i < 256; i++) {
        long x = i - 128;
        t->cr_r[i] = (int)((YCC_FIX(r_cr) * x + (1L << 15)) >> 16);
        t->cb_b[i] = (int)((YCC_FIX(b_cb) * x + (1L << 15)) >> 16);
        t->cr_g[i] = -YCC_FIX(g_cr) * x;
        t->cb_g[i] = -YCC_FIX(g_cb) * x + (1L << 15);
    }
#undef YCC_FIX
}

/* sample_range_limit[x] for the values colour conversion can produce. */
static inline unsigned char clamp255(int value) {
    return (unsigned char)(value < 0 ? 0 : (value > 255 ? 255 : value));
}

/* One output row of a component: the plane's row itself, or jdsample.c's replication of it into `spare`. */
static const unsigned char *expanded_row(const struct plane *plane, int y, int out_w, unsigned char *spare) {
    const unsigned char *row = plane->pixels + (size_t)(y / plane->expand_v) * plane->width;
    if (plane->expand_h == 1) {
        return row;
    }
    for (int x = 0; x < out_w; x++) {
        spare[x] = row[x / plane->expand_h];
    }
    return spare;
}

/* Returns -1 if out of memory. */
static int convert_pixels(enum ijg_space space, const struct plane *planes, int ncomp, int out_w, int out_h,
                          unsigned char *output) {
    struct ycc_tables tables;
    if (space == SPACE_YCC || space == SPACE_BG_YCC || space == SPACE_YCCK) {
        build_ycc_tables(&tables, space == SPACE_BG_YCC);
    }
    unsigned char *spare = malloc((size_t)out_w * ncomp + 1);
    if (spare == NULL) {
        return -1;
    }
    for (int y = 0; y < out_h; y++) {
        const unsigned char *r[4];
        for (int c = 0; c < ncomp; c++) {
            r[c] = expanded_row(&planes[c], y, out_w, spare + (size_t)c * out_w);
        }
        unsigned char *dest = output + (size_t)y * out_w * ncomp;
        if (space == SPACE_YCC || space == SPACE_BG_YCC) {
            for (int x = 0; x < out_w; x++, dest += 3) {
                int luma = r[0][x], cb = r[1][x], cr = r[2][x];
                dest[0] = clamp255(luma + tables.cr_r[cr]);
                dest[1] = clamp255(luma + (int)((tables.cb_g[cb] + tables.cr_g[cr]) >> 16));
                dest[2] = clamp255(luma + tables.cb_b[cb]);
            }
        } else if (space == SPACE_YCCK) {
            for (int x = 0; x < out_w; x++, dest += 4) {
                int luma = r[0][x], cb = r[1][x], cr = r[2][x];
                dest[0] = clamp255(255 - (luma + tables.cr_r[cr]));
                dest[1] = clamp255(255 - (luma + (int)((tables.cb_g[cb] + tables.cr_g[cr]) >> 16)));
                dest[2] = clamp255(255 - (luma + tables.cb_b[cb]));
                dest[3] = r[3][x]; /* K passes through */
            }
        } else if (ncomp == 1) {
            memcpy(dest, r[0], (size_t)out_w);
        } else {
            for (int x = 0; x < out_w; x++, dest += ncomp) {
                for (int c = 0; c < ncomp; c++) {
                    dest[c] = r[c][x];
                }
            }
        }
    }
    free(spare);
    return 0;
}

static PyObject *decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int scale;
    if (!PyArg_ParseTuple(args, "y*i", &view, &scale)) {
        return NULL;
    }
    if (scale != 1 && scale != 2 && scale != 4 && scale != 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scale must be 1, 2, 4 or 8");
        return NULL;
    }
    struct jpeg_decompress_struct cinfo;
    struct guarded_error_mgr err;
    /* volatile: assigned after setjmp and read again after a longjmp */
    struct plane *volatile planes = NULL;
    unsigned char *volatile output = NULL;
    volatile int nplanes = 0;

    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = guarded_error_exit;
    err.pub.emit_message = guarded_emit_message;
    err.pub.output_message = silent_output_message;
    strcpy(err.message, "out of memory");

    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&cinfo);
        if (planes != NULL) {
            for (int i = 0; i < nplanes; i++) {
                free(planes[i].pixels);
            }
            free(planes);
        }
        free(output);
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "JPEG decoding failed: %s", err.message);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)view.buf, (unsigned long)view.len);
    jpeg_read_header(&cinfo, TRUE);

    enum ijg_space space = ijg_color_space(&cinfo);
    int ncomp = cinfo.num_components;
    if (space == SPACE_UNSUPPORTED || cinfo.data_precision != 8 ||
        (double)cinfo.image_width * (double)cinfo.image_height > MAX_SOURCE_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    jvirt_barray_ptr *arrays = jpeg_read_coefficients(&cinfo);
    int smoothing = ijg_would_smooth(&cinfo);

    /* jdinput.c jpeg_core_output_dimensions for scale_num 1, scale_denom `scale`, block_size DCTSIZE. */
    int min_size = DCTSIZE / scale;
    int max_h = cinfo.max_h_samp_factor, max_v = cinfo.max_v_samp_factor;
    int out_w = (int)(((unsigned long)cinfo.image_width * min_size + DCTSIZE - 1) / DCTSIZE);
    int out_h = (int)(((unsigned long)cinfo.image_height * min_size + DCTSIZE - 1) / DCTSIZE);

    planes = calloc((size_t)ncomp, sizeof(struct plane));
    if (planes == NULL) {
        longjmp(err.escape, 1);
    }
    for (int ci = 0; ci < ncomp; ci++) {
        jpeg_component_info *comp = &cinfo.comp_info[ci];
        if (comp->quant_table == NULL) {
            strcpy(err.message, "component without a quantisation table");
            longjmp(err.escape, 1);
        }
        int size_h, size_v;
        ijg_scaled_sizes(min_size, max_h, max_v, comp->h_samp_factor, comp->v_samp_factor, &size_h, &size_v);
        struct ijg_idct idct;
        if (ijg_idct_prepare(&idct, size_h, size_v, comp->quant_table->quantval) != 0) {
            strcpy(err.message, "unsupported sampling factors");
            longjmp(err.escape, 1);
        }
        /* jdsample.c jinit_upsampler: an input group of h_in samples becomes max_h pixels, by replication. */
        int in_h = comp->h_samp_factor * size_h / min_size, in_v = comp->v_samp_factor * size_v / min_size;
        if (in_h <= 0 || in_v <= 0 || max_h % in_h != 0 || max_v % in_v != 0) {
            strcpy(err.message, "fractional sampling factors are not supported");
            longjmp(err.escape, 1);
        }
        planes[ci].expand_h = max_h / in_h;
        planes[ci].expand_v = max_v / in_v;
        planes[ci].width = (int)comp->width_in_blocks * size_h;
        planes[ci].height = (int)comp->height_in_blocks * size_v;
        if ((long)planes[ci].width * planes[ci].expand_h < out_w ||
            (long)planes[ci].height * planes[ci].expand_v < out_h) {
            strcpy(err.message, "component smaller than the image");
            longjmp(err.escape, 1);
        }
        size_t bytes = (size_t)planes[ci].width * (size_t)planes[ci].height;
        planes[ci].pixels = malloc(bytes ? bytes : 1);
        if (planes[ci].pixels == NULL) {
            longjmp(err.escape, 1);
        }
        nplanes = ci + 1;
        if (decode_component(&cinfo, arrays[ci], comp, &idct, size_h, size_v,
                             smoothing ? cinfo.coef_bits[ci] : NULL, &planes[ci]) != 0) {
            longjmp(err.escape, 1);
        }
    }
    int channels = space == SPACE_GRAY ? 1 : (ncomp == 4 ? 4 : 3);
    output = malloc((size_t)out_w * out_h * channels);
    if (output == NULL) {
        longjmp(err.escape, 1);
    }
    if (convert_pixels(space, planes, ncomp, out_w, out_h, output) != 0) {
        longjmp(err.escape, 1);
    }
    for (int i = 0; i < nplanes; i++) {
        free(planes[i].pixels);
    }
    free(planes);
    planes = NULL;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    PyBuffer_Release(&view);
    PyObject *pixels = PyBytes_FromStringAndSize((const char *)output, (Py_ssize_t)out_w * out_h * channels);
    free(output);
    if (pixels == NULL) {
        return NULL;
    }
    const char *mode = channels == 1 ? "L" : (channels == 3 ? "RGB" : "CMYK");
    return Py_BuildValue("(siiN)", mode, out_w, out_h, pixels);
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, "decode(data, scale) -> (mode, width, height, pixels) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jpegdct", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jpegdct(void) {
    ijg_idct_init();
    return PyModule_Create(&module);
}
