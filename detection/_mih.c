/*
 * Exact Hamming-radius search over 256-bit (PDQ) or 64-bit (pHash, dHash) hashes by multi-index hashing.
 *
 * Each hash is cut into m substrings of about 256/m bits (16 of 16 bits for a PDQ bank under two million rows,
 * 12 of 21-22 bits above; 4 of 16 bits for 64-bit hashes). If two hashes are within distance R, then by
 * pigeonhole at least one substring differs in at most t = floor(R / m) bits. So for every substring we look
 * up the buckets of all values within t bits of the query's substring (17 buckets of 16 bits for PDQ's usual
 * R = 31 with m = 16; 232-254 buckets of 21-22 bits with m = 12), check each candidate's full distance, and
 * report it once: from the first substring that could have found it. Exact by construction; a linear scan
 * covers radii with t above 3.
 *
 * Why the substrings grow with the bank: a query's cost is about m x buckets probed x (1 + rows per bucket).
 * At 8 million rows a 16-bit bucket holds 122 rows, so m = 16 examines some 33,000 candidates (each a random
 * read); m = 12 probes more buckets but each holds about 4 rows: some 11,000. The price is the bucket offsets,
 * (2^bits + 1) x 4 bytes per substring: 128 MB at m = 12 (less 12 bytes a row, as 4 fewer substrings need
 * postings), so banks under two million rows keep m = 16 (4 MB).
 *
 * The index is one flat, read-only image (built here into a buffer the caller provides: a bytearray or a
 * memory-mapped file), so that every process on a host can map the same file and share its pages:
 *
 *   header (128 bytes, little-endian)
 *     0  magic "TKDMIH\0\1"           8  u32 version (2; 1 = m fixed at 4 x words) 12 u32 words per hash (4|1)
 *     16 u32 substrings m             20 u32 id width (4|8)  24 u32 posting width (3|4)   28 u32 zero
 *     32 u64 n                        40 u64 hashes offset   48 u64 ids offset
 *     56 u64 bucket offsets offset    64 u64 postings offset 72..127 zero
 *   hashes    n x words u64, sorted by substring 0 (so substring 0 needs no postings)
 *   ids       n x id width, signed little-endian, in the same order
 *   offsets   per substring j, 2^bits(j) + 1 u32: bucket v of substring j is [offsets[j][v], offsets[j][v + 1]);
 *             substring j is bits [start(j), start(j) + bits(j)) of the hash's little-endian words, the first
 *             (64 x words) mod m substrings one bit wider than the rest
 *   postings  (m - 1) x n x posting width: row numbers, for substrings 1..m-1
 * Sections start on 64-byte boundaries. Memory per PDQ hash with n < 2^24 and 32-bit ids: 32 + 4 + 15 x 3
 * = 81 bytes at m = 16; 32 + 4 + 11 x 3 = 69 bytes at m = 12, plus 128 MB of offsets (8 million hashes: 680 MB;
 * 10 million: 818 MB).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 128
#define MAX_PROBE_RADIUS 3
#define MAX_SUBSTRINGS 16
#define MAX_SUBSTRING_BITS 24
#define VERSION 2
/* Above this many rows a PDQ index uses 12 wider substrings (see the top of this file). */
#define WIDE_SUBSTRINGS_FROM 2000000ULL
static const char MAGIC[8] = {'T', 'K', 'D', 'M', 'I', 'H', 0, 1};

static inline uint64_t align64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }

static inline int popcount64(uint64_t x) { return __builtin_popcountll(x); }


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
    int words, m, id_width, posting_width, max_bits;
    int bits[MAX_SUBSTRINGS], start[MAX_SUBSTRINGS];
    uint64_t table[MAX_SUBSTRINGS]; /* where substring j's bucket offsets begin, in u32s from the section */
};

/* Bits [start, start + bits) of a hash (bits <= 32, the hash's words little-endian). */
static inline unsigned substring(const struct layout *l, const uint64_t *hash, int j) {
    const int start = l->start[j], bits = l->bits[j];
    const int word = start >> 6, shift = start & 63;
    uint64_t v = hash[word] >> shift;
    if (shift + bits > 64) {
        v |= hash[word + 1] << (64 - shift);
    }
    return (unsigned)(v & ((1ULL << bits) - 1));
}

static int auto_substrings(uint64_t n, int words) {
    return words == 4 && n >= WIDE_SUBSTRINGS_FROM ? 12 : words * 4;
}

static int make_layout(struct layout *l, uint64_t n, int words, int m, int id_width, int posting_width) {
    if ((words != 1 && words != 4) || (id_width != 4 && id_width != 8) || (posting_width != 3 && posting_width != 4)) {
        PyErr_SetString(PyExc_ValueError, "words must be 1 or 4, id width 4 or 8, posting width 3 or 4");
        return -1;
    }
    if (m < 1 || m > MAX_SUBSTRINGS || (64 * words + m - 1) / m > MAX_SUBSTRING_BITS) {
        PyErr_SetString(PyExc_ValueError, "substrings must number from 1 to 16, each of at most 24 bits");
        return -1;
    }
    if (n >= ((uint64_t)1 << (8 * posting_width)) || n >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many hashes for this posting width");
        return -1;
    }
    l->n = n;
    l->words = words;
    l->m = m;
    l->id_width = id_width;
    l->posting_width = posting_width;
    int total_bits = 64 * words, start = 0;
    uint64_t tables = 0;
    l->max_bits = 0;
    for (int j = 0; j < m; j++) {
        l->bits[j] = total_bits / m + (j < total_bits % m ? 1 : 0);
        l->start[j] = start;
        start += l->bits[j];
        l->table[j] = tables;
        tables += ((uint64_t)1 << l->bits[j]) + 1;
        if (l->bits[j] > l->max_bits) l->max_bits = l->bits[j];
    }
    l->hashes = HEADER_SIZE;
    l->ids = align64(l->hashes + n * (uint64_t)words * 8);
    l->offsets = align64(l->ids + n * (uint64_t)id_width);
    l->postings = align64(l->offsets + tables * 4);
    l->total = align64(l->postings + (uint64_t)(l->m - 1) * n * (uint64_t)posting_width);
    return 0;
}

/* --- probe masks: every value of `bits` bits with at most t bits set ------------------------------------- */

/* Writes the masks into out (room for 1 + 24 + 276 + 2024) and returns how many. */
static int probe_masks(int bits, int t, uint32_t *out) {
    int k = 0;
    out[k++] = 0;
    for (int a = 0; t >= 1 && a < bits; a++) {
        out[k++] = 1U << a;
        for (int b = a + 1; t >= 2 && b < bits; b++) {
            out[k++] = (1U << a) | (1U << b);
            for (int c = b + 1; t >= 3 && c < bits; c++) {
                out[k++] = (1U << a) | (1U << b) | (1U << c);
            }
        }
    }
    return k;
}

#define MAX_PROBES (1 + 24 + 276 + 2024)

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
    int version = size >= HEADER_SIZE ? read_u32(base + 8) : 0;
    if (size < HEADER_SIZE || memcmp(base, MAGIC, 8) != 0 || (version != 1 && version != VERSION)) {
        PyErr_SetString(PyExc_ValueError, "not a hash index image (bad magic or version)");
        return -1;
    }
    if ((uintptr_t)base % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "index image must be 8-byte aligned");
        return -1;
    }
    struct layout l;
    int words = read_u32(base + 12);
    /* Version 1 images always had 16-bit substrings: 4 per 64-bit word. */
    int m = version == 1 ? 4 * words : read_u32(base + 16);
    if (make_layout(&l, read_u64(base + 32), words, m, read_u32(base + 20), read_u32(base + 24)) < 0) {
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
        if (self->offsets[l.table[j] + ((uint64_t)1 << l.bits[j])] != l.n) {
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
    const uint64_t n = l->n;
    /* The probe masks of each substring (at most two widths: the first substrings may be one bit wider). */
    uint32_t *masks = malloc(2 * MAX_PROBES * sizeof(uint32_t));
    /* Two passes per query. First every candidate row of every probed bucket is gathered and its hash
       prefetched; then each is verified. Candidates are scattered over the hash array, one cache miss each:
       issuing them all before reading any lets the memory system fetch them in parallel instead of one after
       another (a bucket holds a few to a few hundred rows, too few to prefetch ahead within it). */
    size_t cap = 8192;
    uint32_t *cand = malloc(cap * 2 * sizeof(uint32_t));
    uint32_t *bounds = malloc((size_t)m * MAX_PROBES * 2 * sizeof(uint32_t));
    if (!cand || !bounds || !masks) {
        free(cand);
        free(bounds);
        free(masks);
        out->failed = 1;
        return;
    }
    const uint32_t *mask_of[MAX_SUBSTRINGS];
    int nprobes[MAX_SUBSTRINGS];
    int wide_count = probe_masks(l->bits[0], t, masks);
    int narrow_count = probe_masks(l->bits[m - 1], t, masks + MAX_PROBES);
    for (int j = 0; j < m; j++) {
        int wide = l->bits[j] == l->bits[0];
        mask_of[j] = wide ? masks : masks + MAX_PROBES;
        nprobes[j] = wide ? wide_count : narrow_count;
    }
    uint32_t *lo = bounds, *hi = bounds + (size_t)m * MAX_PROBES;
    for (uint64_t qi = 0; qi < nq && !out->failed; qi++) {
        const uint64_t *q = queries + qi * words;
        unsigned qsub[MAX_SUBSTRINGS];
        for (int j = 0; j < m; j++) {
            qsub[j] = substring(l, q, j);
        }
        /* Bucket bounds first (prefetched, then read), then the postings' first lines, then the rows: each
           stage's cache misses overlap instead of forming one long chain per bucket. */
        for (int j = 0; j < m; j++) {
            const uint32_t *offsets = self->offsets + l->table[j];
            for (int p = 0; p < nprobes[j]; p++) {
                __builtin_prefetch(offsets + (qsub[j] ^ mask_of[j][p]));
            }
        }
        for (int j = 0; j < m; j++) {
            const uint32_t *offsets = self->offsets + l->table[j];
            const uint8_t *postings = j == 0 ? NULL : self->postings + (uint64_t)(j - 1) * n * pw;
            for (int p = 0; p < nprobes[j]; p++) {
                unsigned v = qsub[j] ^ mask_of[j][p];
                lo[j * MAX_PROBES + p] = offsets[v];
                hi[j * MAX_PROBES + p] = offsets[v + 1];
                if (offsets[v] == offsets[v + 1]) {
                    continue;
                }
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
            for (int p = 0; p < nprobes[j]; p++) {
                uint32_t blo = lo[j * MAX_PROBES + p], bhi = hi[j * MAX_PROBES + p];
                if (count + (bhi - blo) > cap) {
                    size_t grown = cap;
                    while (count + (bhi - blo) > grown) grown *= 2;
                    uint32_t *bigger = realloc(cand, grown * 2 * sizeof(uint32_t));
                    if (!bigger) {
                        out->failed = 1;
                        free(cand);
                        free(bounds);
                        free(masks);
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
                if (__builtin_popcount(substring(l, h, i) ^ qsub[i]) <= t) {
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
    free(masks);
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
    int words, id_width, posting_width, m = 0;
    if (!PyArg_ParseTuple(args, "Kiii|i", &n, &words, &id_width, &posting_width, &m)) {
        return NULL;
    }
    struct layout l;
    if (make_layout(&l, n, words, m ? m : auto_substrings(n, words), id_width, posting_width) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(l.total);
}

static PyObject *build(PyObject *self, PyObject *args) {
    /* build(out, hashes u64 (n x words), ids int64 (n), words, id_width, posting_width) */
    (void)self;
    PyObject *out_obj, *hashes_obj, *ids_obj;
    int words, id_width, posting_width, substrings = 0;
    if (!PyArg_ParseTuple(args, "OOOiii|i", &out_obj, &hashes_obj, &ids_obj, &words, &id_width, &posting_width,
                          &substrings)) {
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
    if (make_layout(&l, n, words, substrings ? substrings : auto_substrings(n, words), id_width, posting_width) < 0) {
        goto done;
    }
    if ((uint64_t)hv.len != n * (uint64_t)words * 8 || (uint64_t)out.len < l.total || (uintptr_t)out.buf % 8 ||
        (uintptr_t)hv.buf % 8 || (uintptr_t)iv.buf % 8) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes or alignment do not match the layout");
        goto done;
    }
    order = malloc((n ? n : 1) * sizeof(uint32_t));
    counts = calloc(((size_t)1 << l.max_bits) + 1, sizeof(uint32_t));
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
    const unsigned buckets0 = 1U << l.bits[0];
    for (uint64_t r = 0; r < n; r++) counts[substring(&l, src + r * words, 0) + 1]++;
    for (unsigned v = 0; v < buckets0; v++) counts[v + 1] += counts[v];
    memcpy(offsets, counts, ((size_t)buckets0 + 1) * sizeof(uint32_t));
    for (uint64_t r = 0; r < n; r++) order[counts[substring(&l, src + r * words, 0)]++] = (uint32_t)r;
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
        uint32_t *off = offsets + l.table[j];
        const unsigned buckets = 1U << l.bits[j];
        memset(counts, 0, ((size_t)buckets + 1) * sizeof(uint32_t));
        for (uint64_t k = 0; k < n; k++) counts[substring(&l, hashes + k * words, j) + 1]++;
        for (unsigned v = 0; v < buckets; v++) counts[v + 1] += counts[v];
        memcpy(off, counts, ((size_t)buckets + 1) * sizeof(uint32_t));
        uint8_t *postings = base + l.postings + (uint64_t)(j - 1) * n * posting_width;
        for (uint64_t k = 0; k < n; k++) {
            unsigned v = substring(&l, hashes + k * words, j);
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
    {"image_size", image_size, METH_VARARGS,
     "image_size(n, words, id_width, posting_width, substrings=0) -> bytes needed (0: sized to n)"},
    {"build", build, METH_VARARGS,
     "build(out, hashes, ids, words, id_width, posting_width, substrings=0) -> bytes used (0: sized to n)"},
    {"scan", scan_hashes, METH_VARARGS, "scan(hashes, words, queries, max_distance) -> like MihIndex.search"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_mih", "Multi-index hashing for exact Hamming-radius search.", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__mih(void) {
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
