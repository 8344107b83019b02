/*
 * Exact Hamming-radius search over 256-bit (PDQ) or 64-bit (pHash, dHash) hashes by multi-index hashing.
 *
 * Each hash is cut into m 16-bit substrings (16 for 256 bits, 4 for 64). If two hashes are within distance
 * R, then by pigeonhole at least one substring differs in at most t = floor(R / m) bits. So for every
 * substring we look up the buckets of all 16-bit values within t bits of the query's substring (17 buckets
 * for PDQ's usual R = 31), check each candidate's full distance, and report it once: from the first
 * substring that could have found it. Exact by construction; a linear scan covers radii above 4m - 1.
 *
 * The index is one flat, read-only image (built here into a buffer the caller provides: a bytearray or a
 * memory-mapped file), so that every process on a host can map the same file and share its pages:
 *
 *   header (128 bytes, little-endian)
 *     0  magic "TKDMIH\0\1"           8  u32 version (1)     12 u32 words per hash (4 or 1)
 *     16 u32 substrings m             20 u32 id width (4|8)  24 u32 posting width (3|4)   28 u32 zero
 *     32 u64 n                        40 u64 hashes offset   48 u64 ids offset
 *     56 u64 bucket offsets offset    64 u64 postings offset 72..127 zero
 *   hashes    n x words u64, sorted by substring 0 (so substring 0 needs no postings)
 *   ids       n x id width, signed little-endian, in the same order
 *   offsets   m x 65537 u32: bucket v of substring j is [offsets[j][v], offsets[j][v + 1])
 *   postings  (m - 1) x n x posting width: row numbers, for substrings 1..m-1
 * Sections start on 64-byte boundaries. Memory per PDQ hash with n < 2^24 and 32-bit ids: 32 + 4 + 15 x 3
 * = 81 bytes (10 million hashes: 810 MB).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 128
#define BUCKETS 65536
#define MAX_PROBE_RADIUS 3
#define VERSION 1
static const char MAGIC[8] = {'T', 'K', 'D', 'M', 'I', 'H', 0, 1};

static inline uint64_t align64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }

static inline int popcount64(uint64_t x) { return __builtin_popcountll(x); }

static inline unsigned substring(const uint64_t *hash, int j) {
    return (unsigned)((hash[j >> 2] >> ((j & 3) * 16)) & 0xFFFF);
}

static inline uint32_t read_posting(const uint8_t *p, int width) {
    uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    if (width == 4) {
        v |= (uint32_t)p[3] << 24;
    }
    return v;
}

static inline void write_posting(uint8_t *p, int width, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    if (width == 4) {
        p[3] = (uint8_t)(v >> 24);
    }
}

static inline int64_t read_id(const uint8_t *ids, int width, uint64_t row) {
    if (width == 4) {
        int32_t v;
        memcpy(&v, ids + row * 4, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, ids + row * 8, 8);
    return v;
}

struct layout {
    uint64_t n, hashes, ids, offsets, postings, total;
    int words, m, id_width, posting_width;
};

static int make_layout(struct layout *l, uint64_t n, int words, int id_width, int posting_width) {
    if ((words != 1 && words != 4) || (id_width != 4 && id_width != 8) || (posting_width != 3 && posting_width != 4)) {
        PyErr_SetString(PyExc_ValueError, "words must be 1 or 4, id width 4 or 8, posting width 3 or 4");
        return -1;
    }
    if (n >= ((uint64_t)1 << (8 * posting_width)) || n >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many hashes for this posting width");
        return -1;
    }
    l->n = n;
    l->words = words;
    l->m = words * 4;
    l->id_width = id_width;
    l->posting_width = posting_width;
    l->hashes = HEADER_SIZE;
    l->ids = align64(l->hashes + n * (uint64_t)words * 8);
    l->offsets = align64(l->ids + n * (uint64_t)id_width);
    l->postings = align64(l->offsets + (uint64_t)l->m * (BUCKETS + 1) * 4);
    l->total = align64(l->postings + (uint64_t)(l->m - 1) * n * (uint64_t)posting_width);
    return 0;
}

/* --- probe masks: every 16-bit value with at most t bits set, by increasing popcount --------------------- */

static uint16_t probe_masks[1 + 16 + 120 + 560];
static int probe_count[MAX_PROBE_RADIUS + 1];

static void init_probe_masks(void) {
    int k = 0;
    for (int bits = 0; bits <= MAX_PROBE_RADIUS; bits++) {
        for (unsigned v = 0; v < BUCKETS; v++) {
            if (__builtin_popcount(v) == bits) {
                probe_masks[k++] = (uint16_t)v;
            }
        }
        probe_count[bits] = k;
    }
}

/* --- growable result buffers -------------------------------------------------------------------------------- */

struct results {
    uint32_t *query;
    uint32_t *row;
    uint16_t *distance;
    size_t len, cap;
    int failed;
};

static inline void emit(struct results *r, uint32_t query, uint32_t row, int distance) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        uint32_t *q = realloc(r->query, cap * sizeof(uint32_t));
        if (q) r->query = q;
        uint32_t *w = realloc(r->row, cap * sizeof(uint32_t));
        if (w) r->row = w;
        uint16_t *d = realloc(r->distance, cap * sizeof(uint16_t));
        if (d) r->distance = d;
        if (!q || !w || !d) {
            r->failed = 1;
            return;
        }
        r->cap = cap;
    }
    r->query[r->len] = query;
    r->row[r->len] = row;
    r->distance[r->len] = (uint16_t)distance;
    r->len++;
}

static PyObject *results_to_python(struct results *r) {
    if (r->failed) {
        free(r->query);
        free(r->row);
        free(r->distance);
        return PyErr_NoMemory();
    }
    /* "y#" turns a NULL pointer into None: hand it an empty string when nothing was found. */
    const char *none = "";
    PyObject *out = Py_BuildValue("(y#y#y#)", r->query ? (const char *)r->query : none,
                                  (Py_ssize_t)(r->len * sizeof(uint32_t)), r->row ? (const char *)r->row : none,
                                  (Py_ssize_t)(r->len * sizeof(uint32_t)),
                                  r->distance ? (const char *)r->distance : none,
                                  (Py_ssize_t)(r->len * sizeof(uint16_t)));
    free(r->query);
    free(r->row);
    free(r->distance);
    return out;
}

static inline int is_deleted(const uint8_t *deleted, uint64_t row) {
    return deleted != NULL && (deleted[row >> 3] >> (row & 7)) & 1;
}

/* --- linear scan (small deltas, and radii beyond the probe table) ------------------------------------------ */

static void scan(const uint64_t *hashes, uint64_t n, int words, const uint8_t *deleted, const uint64_t *queries,
                 uint64_t nq, int radius, struct results *out) {
    for (uint64_t qi = 0; qi < nq && !out->failed; qi++) {
        const uint64_t *q = queries + qi * words;
        for (uint64_t row = 0; row < n; row++) {
            const uint64_t *h = hashes + row * words;
            int d = popcount64(h[0] ^ q[0]);
            if (words == 4) {
                d += popcount64(h[1] ^ q[1]) + popcount64(h[2] ^ q[2]) + popcount64(h[3] ^ q[3]);
            }
            if (d <= radius && !is_deleted(deleted, row)) {
                emit(out, (uint32_t)qi, (uint32_t)row, d);
            }
        }
    }
}

/* --- the index type ----------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD Py_buffer view;
    int has_view;
    struct layout l;
    const uint64_t *hashes;
    const uint8_t *ids;
    const uint32_t *offsets;
    const uint8_t *postings;
} MihIndex;

static int read_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (int)v;
}

static uint64_t read_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int MihIndex_init(MihIndex *self, PyObject *args, PyObject *kwds) {
    (void)kwds;
    PyObject *source;
    if (!PyArg_ParseTuple(args, "O", &source)) {
        return -1;
    }
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    if (PyObject_GetBuffer(source, &self->view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    self->has_view = 1;
    const uint8_t *base = (const uint8_t *)self->view.buf;
    uint64_t size = (uint64_t)self->view.len;
    if (size < HEADER_SIZE || memcmp(base, MAGIC, 8) != 0 || read_u32(base + 8) != VERSION) {
        PyErr_SetString(PyExc_ValueError, "not a hash index image (bad magic or version)");
        return -1;
    }
    if ((uintptr_t)base % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "index image must be 8-byte aligned");
        return -1;
    }
    struct layout l;
    if (make_layout(&l, read_u64(base + 32), read_u32(base + 12), read_u32(base + 20), read_u32(base + 24)) < 0) {
        return -1;
    }
    if (read_u32(base + 16) != l.m || read_u64(base + 40) != l.hashes || read_u64(base + 48) != l.ids ||
        read_u64(base + 56) != l.offsets || read_u64(base + 64) != l.postings || size < l.total) {
        PyErr_SetString(PyExc_ValueError, "index image is truncated or inconsistent");
        return -1;
    }
    self->l = l;
    self->hashes = (const uint64_t *)(base + l.hashes);
    self->ids = base + l.ids;
    self->offsets = (const uint32_t *)(base + l.offsets);
    self->postings = base + l.postings;
    /* The last bucket offset of every substring must be n: a cheap guard against a half-written file. */
    for (int j = 0; j < l.m; j++) {
        if (self->offsets[(uint64_t)j * (BUCKETS + 1) + BUCKETS] != l.n) {
            PyErr_SetString(PyExc_ValueError, "index image has inconsistent bucket offsets");
            return -1;
        }
    }
    return 0;
}

static void MihIndex_dealloc(MihIndex *self) {
    if (self->has_view) {
        PyBuffer_Release(&self->view);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int get_queries(MihIndex *self, PyObject *obj, Py_buffer *view, uint64_t *nq) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    uint64_t width = (uint64_t)self->l.words * 8;
    if ((uint64_t)view->len % width != 0 || (uintptr_t)view->buf % 8 != 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "queries must be aligned uint64 words, a whole number of hashes");
        return -1;
    }
    *nq = (uint64_t)view->len / width;
    return 0;
}

static int get_deleted(MihIndex *self, PyObject *obj, Py_buffer *view, const uint8_t **deleted) {
    *deleted = NULL;
    if (obj == Py_None) {
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if ((uint64_t)view->len * 8 < self->l.n) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "deleted bitmap is shorter than the index");
        return -1;
    }
    *deleted = (const uint8_t *)view->buf;
    return 1;
}

static void mih_search(const MihIndex *self, const uint64_t *queries, uint64_t nq, int radius,
                       const uint8_t *deleted, struct results *out) {
    const struct layout *l = &self->l;
    const int words = l->words, m = l->m, pw = l->posting_width;
    const int t = radius / m;
    const int nprobes = probe_count[t];
    const uint64_t n = l->n;
    /* Two passes per query. First every candidate row of every probed bucket is gathered and its hash
       prefetched; then each is verified. Candidates are scattered over the hash array, one cache miss each:
       issuing them all before reading any lets the memory system fetch them in parallel instead of one after
       another (a bucket holds ~15 rows at a million hashes, too few to prefetch ahead within it). */
    size_t cap = 8192;
    uint32_t *cand = malloc(cap * 2 * sizeof(uint32_t));
    uint32_t *bounds = malloc((size_t)m * (size_t)nprobes * 2 * sizeof(uint32_t));
    if (!cand || !bounds) {
        free(cand);
        free(bounds);
        out->failed = 1;
        return;
    }
    uint32_t *lo = bounds, *hi = bounds + (size_t)m * (size_t)nprobes;
    for (uint64_t qi = 0; qi < nq && !out->failed; qi++) {
        const uint64_t *q = queries + qi * words;
        unsigned qsub[16];
        for (int j = 0; j < m; j++) {
            qsub[j] = substring(q, j);
        }
        /* Bucket bounds first (prefetched, then read), then the postings' first lines, then the rows: each
           stage's cache misses overlap instead of forming one long chain per bucket. */
        for (int j = 0; j < m; j++) {
            const uint32_t *offsets = self->offsets + (uint64_t)j * (BUCKETS + 1);
            for (int p = 0; p < nprobes; p++) {
                __builtin_prefetch(offsets + (qsub[j] ^ probe_masks[p]));
            }
        }
        for (int j = 0; j < m; j++) {
            const uint32_t *offsets = self->offsets + (uint64_t)j * (BUCKETS + 1);
            const uint8_t *postings = j == 0 ? NULL : self->postings + (uint64_t)(j - 1) * n * pw;
            for (int p = 0; p < nprobes; p++) {
                unsigned v = qsub[j] ^ probe_masks[p];
                lo[j * nprobes + p] = offsets[v];
                hi[j * nprobes + p] = offsets[v + 1];
                if (j == 0) {
                    __builtin_prefetch(self->hashes + (uint64_t)offsets[v] * words);
                } else {
                    __builtin_prefetch(postings + (uint64_t)offsets[v] * pw);
                }
            }
        }
        size_t count = 0;
        for (int j = 0; j < m; j++) {
            const uint8_t *postings = j == 0 ? NULL : self->postings + (uint64_t)(j - 1) * n * pw;
            for (int p = 0; p < nprobes; p++) {
                uint32_t blo = lo[j * nprobes + p], bhi = hi[j * nprobes + p];
                if (count + (bhi - blo) > cap) {
                    size_t grown = cap;
                    while (count + (bhi - blo) > grown) grown *= 2;
                    uint32_t *bigger = realloc(cand, grown * 2 * sizeof(uint32_t));
                    if (!bigger) {
                        out->failed = 1;
                        free(cand);
                        free(bounds);
                        return;
                    }
                    cand = bigger;
                    cap = grown;
                }
                for (uint32_t k = blo; k < bhi; k++) {
                    uint32_t row = j == 0 ? k : read_posting(postings + (uint64_t)k * pw, pw);
                    __builtin_prefetch(self->hashes + (uint64_t)row * words);
                    cand[2 * count] = row;
                    cand[2 * count + 1] = (uint32_t)j;
                    count++;
                }
            }
        }
        for (size_t c = 0; c < count; c++) {
            const uint32_t row = cand[2 * c];
            const int j = (int)cand[2 * c + 1];
            const uint64_t *h = self->hashes + (uint64_t)row * words;
            int d = popcount64(h[0] ^ q[0]);
            if (words == 4) {
                d += popcount64(h[1] ^ q[1]) + popcount64(h[2] ^ q[2]) + popcount64(h[3] ^ q[3]);
            }
            if (d > radius || is_deleted(deleted, row)) {
                continue;
            }
            /* Report each hit once: from the first substring within t bits of the query's. */
            int earlier = 0;
            for (int i = 0; i < j; i++) {
                if (__builtin_popcount(substring(h, i) ^ qsub[i]) <= t) {
                    earlier = 1;
                    break;
                }
            }
            if (!earlier) {
                emit(out, (uint32_t)qi, row, d);
            }
        }
    }
    free(cand);
    free(bounds);
}

static PyObject *MihIndex_search(MihIndex *self, PyObject *args) {
    PyObject *queries_obj, *deleted_obj = Py_None;
    int radius;
    if (!PyArg_ParseTuple(args, "Oi|O", &queries_obj, &radius, &deleted_obj)) {
        return NULL;
    }
    if (radius < 0) {
        PyErr_SetString(PyExc_ValueError, "max_distance must not be negative");
        return NULL;
    }
    Py_buffer qview, dview;
    uint64_t nq;
    const uint8_t *deleted;
    if (get_queries(self, queries_obj, &qview, &nq) < 0) {
        return NULL;
    }
    int has_deleted = get_deleted(self, deleted_obj, &dview, &deleted);
    if (has_deleted < 0) {
        PyBuffer_Release(&qview);
        return NULL;
    }
    struct results out = {0};
    Py_BEGIN_ALLOW_THREADS;
    if (radius / self->l.m <= MAX_PROBE_RADIUS) {
        mih_search(self, (const uint64_t *)qview.buf, nq, radius, deleted, &out);
    } else {
        scan(self->hashes, self->l.n, self->l.words, deleted, (const uint64_t *)qview.buf, nq, radius, &out);
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&qview);
    if (has_deleted) {
        PyBuffer_Release(&dview);
    }
    return results_to_python(&out);
}

static PyObject *MihIndex_ids(MihIndex *self, PyObject *args) {
    /* ids(rows: buffer of uint32) -> bytes of int64 */
    PyObject *rows_obj;
    if (!PyArg_ParseTuple(args, "O", &rows_obj)) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(rows_obj, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_ssize_t count = view.len / (Py_ssize_t)sizeof(uint32_t);
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (out != NULL) {
        int64_t *dest = (int64_t *)PyBytes_AS_STRING(out);
        const uint32_t *rows = (const uint32_t *)view.buf;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (rows[i] >= self->l.n) {
                Py_DECREF(out);
                PyBuffer_Release(&view);
                PyErr_SetString(PyExc_IndexError, "row out of range");
                return NULL;
            }
            dest[i] = read_id(self->ids, self->l.id_width, rows[i]);
        }
    }
    PyBuffer_Release(&view);
    return out;
}

static PyObject *MihIndex_len(MihIndex *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->l.n);
}

static PyObject *MihIndex_words(MihIndex *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->l.words);
}

static PyObject *MihIndex_section(MihIndex *self, PyObject *args) {
    /* section(name) -> (offset, length) of "hashes" or "ids", for zero-copy numpy views from Python */
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) {
        return NULL;
    }
    if (strcmp(name, "hashes") == 0) {
        return Py_BuildValue("(KK)", (unsigned long long)self->l.hashes,
                             (unsigned long long)(self->l.n * (uint64_t)self->l.words * 8));
    }
    if (strcmp(name, "ids") == 0) {
        return Py_BuildValue("(KKi)", (unsigned long long)self->l.ids,
                             (unsigned long long)(self->l.n * (uint64_t)self->l.id_width), self->l.id_width);
    }
    PyErr_SetString(PyExc_KeyError, name);
    return NULL;
}

static PyMethodDef MihIndex_methods[] = {
    {"search", (PyCFunction)MihIndex_search, METH_VARARGS,
     "search(queries, max_distance, deleted=None) -> (query indexes u32, rows u32, distances u16) as bytes"},
    {"ids", (PyCFunction)MihIndex_ids, METH_VARARGS, "ids(rows u32) -> ids as int64 bytes"},
    {"section", (PyCFunction)MihIndex_section, METH_VARARGS, "section(name) -> (offset, length[, width])"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef MihIndex_getset[] = {
    {"n", (getter)MihIndex_len, NULL, "number of hashes", NULL},
    {"words", (getter)MihIndex_words, NULL, "64-bit words per hash", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MihIndexType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "detection._mih.MihIndex",
    .tp_basicsize = sizeof(MihIndex),
    .tp_dealloc = (destructor)MihIndex_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A read-only multi-index-hashing image over a buffer (bytearray, mmap).",
    .tp_methods = MihIndex_methods,
    .tp_getset = MihIndex_getset,
    .tp_init = (initproc)MihIndex_init,
    .tp_new = PyType_GenericNew,
};

/* --- module functions --------------------------------------------------------------------------------------- */

static PyObject *image_size(PyObject *self, PyObject *args) {
    (void)self;
    unsigned long long n;
    int words, id_width, posting_width;
    if (!PyArg_ParseTuple(args, "Kiii", &n, &words, &id_width, &posting_width)) {
        return NULL;
    }
    struct layout l;
    if (make_layout(&l, n, words, id_width, posting_width) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(l.total);
}

static PyObject *build(PyObject *self, PyObject *args) {
    /* build(out, hashes u64 (n x words), ids int64 (n), words, id_width, posting_width) */
    (void)self;
    PyObject *out_obj, *hashes_obj, *ids_obj;
    int words, id_width, posting_width;
    if (!PyArg_ParseTuple(args, "OOOiii", &out_obj, &hashes_obj, &ids_obj, &words, &id_width, &posting_width)) {
        return NULL;
    }
    Py_buffer out, hv, iv;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(hashes_obj, &hv, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&out);
        return NULL;
    }
    if (PyObject_GetBuffer(ids_obj, &iv, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&out);
        PyBuffer_Release(&hv);
        return NULL;
    }
    PyObject *result = NULL;
    uint32_t *order = NULL, *counts = NULL;
    uint64_t n = (uint64_t)iv.len / 8;
    struct layout l;
    if (make_layout(&l, n, words, id_width, posting_width) < 0) {
        goto done;
    }
    if ((uint64_t)hv.len != n * (uint64_t)words * 8 || (uint64_t)out.len < l.total || (uintptr_t)out.buf % 8 ||
        (uintptr_t)hv.buf % 8 || (uintptr_t)iv.buf % 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes or alignment do not match the layout");
        goto done;
    }
    order = malloc((n ? n : 1) * sizeof(uint32_t));
    counts = calloc(BUCKETS + 1, sizeof(uint32_t));
    if (!order || !counts) {
        PyErr_NoMemory();
        goto done;
    }
    const uint64_t *src = (const uint64_t *)hv.buf;
    const int64_t *src_ids = (const int64_t *)iv.buf;
    uint8_t *base = (uint8_t *)out.buf;
    int m = l.m;
    int id_ok = 1;
    Py_BEGIN_ALLOW_THREADS;
    memset(base, 0, HEADER_SIZE);
    /* Rows in the order of substring 0 (stable counting sort), hashes and ids copied in that order. */
    uint32_t *offsets = (uint32_t *)(base + l.offsets);
    for (uint64_t r = 0; r < n; r++) counts[substring(src + r * words, 0) + 1]++;
    for (int v = 0; v < BUCKETS; v++) counts[v + 1] += counts[v];
    memcpy(offsets, counts, (BUCKETS + 1) * sizeof(uint32_t));
    for (uint64_t r = 0; r < n; r++) order[counts[substring(src + r * words, 0)]++] = (uint32_t)r;
    uint64_t *hashes = (uint64_t *)(base + l.hashes);
    uint8_t *ids = base + l.ids;
    for (uint64_t k = 0; k < n; k++) {
        memcpy(hashes + k * words, src + (uint64_t)order[k] * words, (size_t)words * 8);
        int64_t id = src_ids[order[k]];
        if (id_width == 4) {
            if (id < INT32_MIN || id > INT32_MAX) id_ok = 0;
            int32_t narrow = (int32_t)id;
            memcpy(ids + k * 4, &narrow, 4);
        } else {
            memcpy(ids + k * 8, &id, 8);
        }
    }
    /* Postings of substrings 1..m-1: rows (in the sorted order) bucketed by their substring value. */
    for (int j = 1; j < m; j++) {
        uint32_t *off = offsets + (uint64_t)j * (BUCKETS + 1);
        memset(counts, 0, (BUCKETS + 1) * sizeof(uint32_t));
        for (uint64_t k = 0; k < n; k++) counts[substring(hashes + k * words, j) + 1]++;
        for (int v = 0; v < BUCKETS; v++) counts[v + 1] += counts[v];
        memcpy(off, counts, (BUCKETS + 1) * sizeof(uint32_t));
        uint8_t *postings = base + l.postings + (uint64_t)(j - 1) * n * posting_width;
        for (uint64_t k = 0; k < n; k++) {
            unsigned v = substring(hashes + k * words, j);
            write_posting(postings + (uint64_t)counts[v]++ * posting_width, posting_width, (uint32_t)k);
        }
    }
    /* Header last: a reader never sees a valid magic on a half-built image. */
    uint32_t u32s[6] = {VERSION, (uint32_t)words, (uint32_t)m, (uint32_t)id_width, (uint32_t)posting_width, 0};
    uint64_t u64s[5] = {n, l.hashes, l.ids, l.offsets, l.postings};
    memcpy(base + 8, u32s, sizeof(u32s));
    memcpy(base + 32, u64s, sizeof(u64s));
    memcpy(base, MAGIC, 8);
    Py_END_ALLOW_THREADS;
    if (!id_ok) {
        memset(base, 0, 8);
        PyErr_SetString(PyExc_OverflowError, "an id does not fit the chosen id width");
        goto done;
    }
    result = PyLong_FromUnsignedLongLong(l.total);
done:
    free(order);
    free(counts);
    PyBuffer_Release(&out);
    PyBuffer_Release(&hv);
    PyBuffer_Release(&iv);
    return result;
}

static PyObject *scan_hashes(PyObject *self, PyObject *args) {
    /* scan(hashes u64 (n x words), words, queries u64, max_distance) -> like MihIndex.search */
    (void)self;
    PyObject *hashes_obj, *queries_obj;
    int words, radius;
    if (!PyArg_ParseTuple(args, "OiOi", &hashes_obj, &words, &queries_obj, &radius)) {
        return NULL;
    }
    if (words != 1 && words != 4) {
        PyErr_SetString(PyExc_ValueError, "words must be 1 or 4");
        return NULL;
    }
    Py_buffer hv, qv;
    if (PyObject_GetBuffer(hashes_obj, &hv, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(queries_obj, &qv, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&hv);
        return NULL;
    }
    uint64_t width = (uint64_t)words * 8;
    if ((uint64_t)hv.len % width || (uint64_t)qv.len % width || (uintptr_t)hv.buf % 8 || (uintptr_t)qv.buf % 8) {
        PyBuffer_Release(&hv);
        PyBuffer_Release(&qv);
        PyErr_SetString(PyExc_ValueError, "hashes and queries must be aligned whole uint64 hashes");
        return NULL;
    }
    struct results out = {0};
    Py_BEGIN_ALLOW_THREADS;
    scan((const uint64_t *)hv.buf, (uint64_t)hv.len / width, words, NULL, (const uint64_t *)qv.buf,
         (uint64_t)qv.len / width, radius, &out);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&hv);
    PyBuffer_Release(&qv);
    return results_to_python(&out);
}

static PyMethodDef module_methods[] = {
    {"image_size", image_size, METH_VARARGS, "image_size(n, words, id_width, posting_width) -> bytes needed"},
    {"build", build, METH_VARARGS, "build(out, hashes, ids, words, id_width, posting_width) -> bytes used"},
    {"scan", scan_hashes, METH_VARARGS, "scan(hashes, words, queries, max_distance) -> like MihIndex.search"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_mih", "Multi-index hashing for exact Hamming-radius search.", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__mih(void) {
    init_probe_masks();
    if (PyType_Ready(&MihIndexType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&MihIndexType);
    if (PyModule_AddObject(m, "MihIndex", (PyObject *)&MihIndexType) < 0) {
        Py_DECREF(&MihIndexType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
