/*
 * A JPEG decoded at 1/2, 1/4 or 1/8 scale the way the IJG library (version 7 and later) does it.
 *
 * Why: Meta's reference PDQ hashes of large JPEGs were made on images decoded at reduced scale by IJG
 * libjpeg, whose reduced-size inverse DCT keeps only the low-frequency coefficients of each block and decodes
 * subsampled chroma directly at the output size with a larger inverse DCT. The libjpeg-turbo that Pillow ships
 * uses a different reduced inverse DCT, which moves PDQ by a few bits on sharp images. Here the quantised
 * coefficients are read with the system libjpeg (jpeg_read_coefficients: baseline, progressive, arithmetic)
 * and the reduced inverse DCT and YCbCr -> RGB conversion are done as IJG defines them (in floating point:
 * on Meta's reference images that reproduces every hash bit for bit). See detection/downscale.py.
 *
 * reduced_decode(data: bytes, scale: int) -> (mode, width, height, pixels) or None
 *   mode "L" or "RGB"; pixels row-major bytes. None for colour spaces handled elsewhere (CMYK, YCCK).
 * Raises ValueError on any decoding error or warning (a truncated file is only a warning to libjpeg).
 * libjpeg never prints and never exits the process here: errors longjmp back to us.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

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
     * Trace messages (level >= 0) are ignored. */
    if (msg_level < 0) {
        guarded_error_exit(cinfo);
    }
}

static void silent_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Largest image we decode this way (output pixels are at most a quarter of this). */
#define MAX_SOURCE_PIXELS (400.0 * 1000.0 * 1000.0)

/* IJG 7+: subsampled components get a larger inverse DCT rather than upsampling afterwards. */
static int component_dct_size(int luma_size, int max_samp, int samp) {
    int factor = 1;
    while (luma_size * factor <= DCTSIZE && max_samp % (samp * factor * 2) == 0) {
        factor *= 2;
    }
    return luma_size * factor;
}

/* basis[x * 8 + u] = c(u) cos((2x + 1) u pi / 2n), libjpeg's scaling: block = B F B^T / 4. */
static void fill_basis(double *basis, int n) {
    for (int x = 0; x < n; x++) {
        for (int u = 0; u < DCTSIZE; u++) {
            double c = u == 0 ? 1.0 / sqrt(2.0) : 1.0;
            basis[x * DCTSIZE + u] = c * cos((2.0 * x + 1.0) * u * M_PI / (2.0 * n));
        }
    }
}

struct plane {
    unsigned char *pixels;
    int width, height; /* in component pixels */
    int rep_h, rep_v;  /* replication still needed to reach the output grid */
};

static void decode_component(j_decompress_ptr cinfo, jvirt_barray_ptr array, jpeg_component_info *comp,
                             int luma_size, int max_h, int max_v, struct plane *out) {
    int size_h = component_dct_size(luma_size, max_h, comp->h_samp_factor);
    int size_v = component_dct_size(luma_size, max_v, comp->v_samp_factor);
    int keep_h = size_h < DCTSIZE ? size_h : DCTSIZE;
    int keep_v = size_v < DCTSIZE ? size_v : DCTSIZE;
    double basis_h[2 * DCTSIZE * DCTSIZE], basis_v[2 * DCTSIZE * DCTSIZE];
    fill_basis(basis_h, size_h);
    fill_basis(basis_v, size_v);
    const UINT16 *quant = comp->quant_table->quantval; /* natural order */
    int wide = (int)comp->width_in_blocks, high = (int)comp->height_in_blocks;
    out->width = wide * size_h;
    out->height = high * size_v;
    out->rep_h = luma_size * (max_h / comp->h_samp_factor) / size_h;
    out->rep_v = luma_size * (max_v / comp->v_samp_factor) / size_v;
    double coef[DCTSIZE][DCTSIZE], rows[DCTSIZE][2 * DCTSIZE];
    for (int by = 0; by < high; by++) {
        JBLOCKARRAY blocks = (*cinfo->mem->access_virt_barray)((j_common_ptr)cinfo, array, (JDIMENSION)by, 1, FALSE);
        for (int bx = 0; bx < wide; bx++) {
            const JCOEF *block = blocks[0][bx];
            for (int v = 0; v < keep_v; v++) {
                for (int u = 0; u < keep_h; u++) {
                    coef[v][u] = (double)block[v * DCTSIZE + u] * (double)quant[v * DCTSIZE + u];
                }
            }
            /* rows[v][x] = sum_u F[v][u] B_h[x][u]; pixel[y][x] = sum_v B_v[y][v] rows[v][x] / 4 + 128 */
            for (int v = 0; v < keep_v; v++) {
                for (int x = 0; x < size_h; x++) {
                    double sum = 0.0;
                    for (int u = 0; u < keep_h; u++) {
                        sum += coef[v][u] * basis_h[x * DCTSIZE + u];
                    }
                    rows[v][x] = sum;
                }
            }
            for (int y = 0; y < size_v; y++) {
                unsigned char *dest = out->pixels + (size_t)(by * size_v + y) * out->width + (size_t)bx * size_h;
                for (int x = 0; x < size_h; x++) {
                    double sum = 0.0;
                    for (int v = 0; v < keep_v; v++) {
                        sum += basis_v[y * DCTSIZE + v] * rows[v][x];
                    }
                    double value = floor(sum / 4.0 + 128.0 + 0.5);
                    dest[x] = (unsigned char)(value < 0.0 ? 0.0 : (value > 255.0 ? 255.0 : value));
                }
            }
        }
    }
}

static inline unsigned char clamp255(int value) {
    return (unsigned char)(value < 0 ? 0 : (value > 255 ? 255 : value));
}

static PyObject *reduced_decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int scale;
    if (!PyArg_ParseTuple(args, "y*i", &view, &scale)) {
        return NULL;
    }
    if (scale != 2 && scale != 4 && scale != 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scale must be 2, 4 or 8");
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

    J_COLOR_SPACE space = cinfo.jpeg_color_space;
    int ncomp = cinfo.num_components;
    int supported = (space == JCS_GRAYSCALE && ncomp == 1) || ((space == JCS_YCbCr || space == JCS_RGB) && ncomp == 3);
    if (!supported || (double)cinfo.image_width * (double)cinfo.image_height > MAX_SOURCE_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    jvirt_barray_ptr *arrays = jpeg_read_coefficients(&cinfo);

    int luma_size = DCTSIZE / scale;
    int max_h = cinfo.max_h_samp_factor, max_v = cinfo.max_v_samp_factor;
    int out_w = (int)((cinfo.image_width + (JDIMENSION)scale - 1) / (JDIMENSION)scale);
    int out_h = (int)((cinfo.image_height + (JDIMENSION)scale - 1) / (JDIMENSION)scale);

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
        int size_h = component_dct_size(luma_size, max_h, comp->h_samp_factor);
        int size_v = component_dct_size(luma_size, max_v, comp->v_samp_factor);
        if (size_h > 2 * DCTSIZE || size_v > 2 * DCTSIZE) {
            strcpy(err.message, "unsupported sampling factors");
            longjmp(err.escape, 1);
        }
        size_t bytes = (size_t)comp->width_in_blocks * size_h * (size_t)comp->height_in_blocks * size_v;
        planes[ci].pixels = malloc(bytes ? bytes : 1);
        if (planes[ci].pixels == NULL) {
            longjmp(err.escape, 1);
        }
        nplanes = ci + 1;
        decode_component(&cinfo, arrays[ci], comp, luma_size, max_h, max_v, &planes[ci]);
        if ((long)planes[ci].width * planes[ci].rep_h < out_w || (long)planes[ci].height * planes[ci].rep_v < out_h) {
            strcpy(err.message, "component smaller than the image");
            longjmp(err.escape, 1);
        }
    }
    int channels = ncomp == 1 ? 1 : 3;
    output = malloc((size_t)out_w * out_h * channels);
    if (output == NULL) {
        longjmp(err.escape, 1);
    }
    if (ncomp == 1) {
        for (int y = 0; y < out_h; y++) {
            memcpy(output + (size_t)y * out_w, planes[0].pixels + (size_t)(y / planes[0].rep_v) * planes[0].width,
                   (size_t)out_w);
        }
    } else {
        /* libjpeg's jdcolor.c tables: 16 fractional bits, rounded by adding one half. */
        const int one_half = 1 << 15;
        const int fix_r_cr = (int)(1.40200 * 65536 + 0.5), fix_b_cb = (int)(1.77200 * 65536 + 0.5);
        const int fix_g_cb = (int)(0.34414 * 65536 + 0.5), fix_g_cr = (int)(0.71414 * 65536 + 0.5);
        for (int y = 0; y < out_h; y++) {
            const unsigned char *row[3];
            for (int c = 0; c < 3; c++) {
                row[c] = planes[c].pixels + (size_t)(y / planes[c].rep_v) * planes[c].width;
            }
            unsigned char *dest = output + (size_t)y * out_w * 3;
            for (int x = 0; x < out_w; x++) {
                int a = row[0][x / planes[0].rep_h], b = row[1][x / planes[1].rep_h], c = row[2][x / planes[2].rep_h];
                if (space == JCS_RGB) {
                    dest[3 * x] = (unsigned char)a;
                    dest[3 * x + 1] = (unsigned char)b;
                    dest[3 * x + 2] = (unsigned char)c;
                } else {
                    int cb = b - 128, cr = c - 128;
                    dest[3 * x] = clamp255(a + ((fix_r_cr * cr + one_half) >> 16));
                    dest[3 * x + 1] = clamp255(a + ((-fix_g_cb * cb - fix_g_cr * cr + one_half) >> 16));
                    dest[3 * x + 2] = clamp255(a + ((fix_b_cb * cb + one_half) >> 16));
                }
            }
        }
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
    return Py_BuildValue("(siiN)", channels == 1 ? "L" : "RGB", out_w, out_h, pixels);
}

static PyMethodDef methods[] = {
    {"reduced_decode", reduced_decode, METH_VARARGS,
     "reduced_decode(data, scale) -> (mode, width, height, pixels) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jpegdct", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jpegdct(void) { return PyModule_Create(&module); }
