/* The sampler's first pass, in C: which few tokens of a 262,144-entry logits vector can matter.
 *
 * Between two decode steps the caches are cold (a step streams the whole model through them),
 * and there every numpy call costs 10-20 us on top of its work: the numpy version of this pass
 * (a threshold from a strided sample, a compare, a flatnonzero, two fills) took ~140 us a token
 * on a laptop core, 1.4% of a Gemma 3 270M decode step.  This is one call and one vectorisable
 * pass over the logits.
 *
 * The logits are viewed as 32 rows of w = n / 32 columns.  One pass takes each column's maximum
 * (an element-wise max of the rows, which the compiler vectorises).  With top-k on, the threshold
 * t is the k-th largest column maximum: those k maxima are k distinct logits >= t, so the k-th
 * largest logit is >= t, and every one of the k best tokens is >= t and lies in a column whose
 * maximum is >= t.  Only those columns (about k of them) are read again.  With top-k off, t is
 * the best logit minus a margin.  Every logit >= t is written out as a llama_token_data record
 * (id, logit, p), ready for llama.cpp's sampler chain: the same set the chain keeps from the
 * whole vocabulary, in a few dozen records instead of 262,144.
 *
 * NaN logits are never candidates; the caller treats an empty result as an error.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int32_t id;
    float logit;
    float p;
} token_data; /* llama.h's llama_token_data */

#define ROWS 32 /* a multiple of 8: column_maxima takes eight rows at a time */

/* Scratch for the column maxima and the heap; grown as needed.  Only touched with the GIL held. */
static float *scratch = NULL;
static Py_ssize_t scratch_len = 0;

static int ensure_scratch(Py_ssize_t len) {
    if (len <= scratch_len) {
        return 0;
    }
    float *grown = PyMem_Realloc(scratch, (size_t)len * sizeof(float));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    scratch = grown;
    scratch_len = len;
    return 0;
}

/* cm[j] = max over the rows of x[r * w + j]; NaN never wins (cm starts at -inf).
 *
 * Eight rows at a time, each read front to back.  Measured in the decode loop (Gemma 3 270M, the
 * logits out of cache): 45-50 us, against 69 us one row at a time (cm is read and written eight
 * times less) and 84 us in strips of 32 columns down all 32 rows (32 short interleaved streams,
 * which the hardware prefetcher does not follow).  An AVX2 clone gained nothing measurable over
 * the compiler's baseline SSE2/NEON code: the pass is bound by memory. */
static void column_maxima(const float *x, Py_ssize_t w, float *cm) {
    for (Py_ssize_t j = 0; j < w; j++) {
        cm[j] = -INFINITY;
    }
    for (int r = 0; r < ROWS; r += 8) {
        const float *a = x + (size_t)r * (size_t)w;
        const float *b = a + w, *c = b + w, *d = c + w, *e = d + w, *f = e + w, *g = f + w,
                    *h = g + w;
        for (Py_ssize_t j = 0; j < w; j++) {
            float m = cm[j];
            m = a[j] > m ? a[j] : m;
            m = b[j] > m ? b[j] : m;
            m = c[j] > m ? c[j] : m;
            m = d[j] > m ? d[j] : m;
            m = e[j] > m ? e[j] : m;
            m = f[j] > m ? f[j] : m;
            m = g[j] > m ? g[j] : m;
            m = h[j] > m ? h[j] : m;
            cm[j] = m;
        }
    }
}

static void sift_down(float *heap, Py_ssize_t k, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && heap[l] < heap[m]) m = l;
        if (r < k && heap[r] < heap[m]) m = r;
        if (m == i) return;
        float t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* The k-th largest of v[0..n), 1 <= k <= n, with a min-heap of the k largest seen so far. */
static float kth_largest(const float *v, Py_ssize_t n, Py_ssize_t k, float *heap) {
    memcpy(heap, v, (size_t)k * sizeof(float));
    for (Py_ssize_t i = k / 2 - 1; i >= 0; i--) {
        sift_down(heap, k, i);
    }
    for (Py_ssize_t i = k; i < n; i++) {
        if (v[i] > heap[0]) {
            heap[0] = v[i];
            sift_down(heap, k, 0);
        }
    }
    return heap[0];
}

static token_data record(const float *x, Py_ssize_t i) {
    token_data r = {(int32_t)i, x[i], 0.0f};
    return r;
}

static Py_ssize_t select_candidates(const float *x, Py_ssize_t n, Py_ssize_t k, float margin,
                                    float *cm, float *heap, token_data *out) {
    Py_ssize_t w = n / ROWS, tail = (Py_ssize_t)ROWS * w;
    column_maxima(x, w, cm);
    float t;
    if (k > 0 && k <= w) {
        t = kth_largest(cm, w, k, heap);
    } else if (k > 0) { /* a vocabulary under 32 k: every token is a candidate */
        t = -INFINITY;
    } else {
        float best = -INFINITY;
        for (Py_ssize_t j = 0; j < w; j++) best = cm[j] > best ? cm[j] : best;
        for (Py_ssize_t i = tail; i < n; i++) best = x[i] > best ? x[i] : best;
        t = best - margin;
    }
    Py_ssize_t count = 0;
    for (Py_ssize_t j = 0; j < w; j++) {
        if (!(cm[j] >= t)) continue;
        for (int r = 0; r < ROWS; r++) {
            Py_ssize_t i = (Py_ssize_t)r * w + j;
            if (x[i] >= t) out[count++] = record(x, i);
        }
    }
    for (Py_ssize_t i = tail; i < n; i++) {
        if (x[i] >= t) out[count++] = record(x, i);
    }
    return count;
}

PyDoc_STRVAR(candidates_doc,
"candidates(logits, out, top_k, margin) -> int\n\n"
"Write every token that can survive top-k (top_k > 0) or lies within ``margin`` of the best\n"
"logit (top_k == 0) into ``out`` as llama_token_data records; return how many.\n\n"
"``logits``: a C-contiguous float32 buffer.  ``out``: a writable buffer with room for\n"
"len(logits) records of 12 bytes.  NaN logits are skipped.");

static PyObject *candidates(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "candidates() takes 4 arguments");
        return NULL;
    }
    Py_ssize_t k = PyLong_AsSsize_t(args[2]);
    if (k == -1 && PyErr_Occurred()) return NULL;
    double margin = PyFloat_AsDouble(args[3]);
    if (margin == -1.0 && PyErr_Occurred()) return NULL;
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "top_k must be 0 (off) or positive");
        return NULL;
    }
    Py_buffer logits, out;
    if (PyObject_GetBuffer(args[0], &logits, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&logits);
        return NULL;
    }
    PyObject *result = NULL;
    const char *fmt = logits.format ? logits.format : "B";
    size_t fmt_len = strlen(fmt);
    Py_ssize_t n = logits.len / (Py_ssize_t)sizeof(float), w = n / ROWS;
    if (logits.itemsize != (Py_ssize_t)sizeof(float) || fmt_len == 0 || fmt[fmt_len - 1] != 'f') {
        PyErr_SetString(PyExc_TypeError, "logits must be float32");
    } else if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many logits");
    } else if (out.len < n * (Py_ssize_t)sizeof(token_data)) {
        PyErr_SetString(PyExc_ValueError, "out has no room for one record per logit");
    } else if (ensure_scratch(w + (k < w ? k : w) + 1) == 0) {
        Py_ssize_t count = select_candidates((const float *)logits.buf, n, k, (float)margin,
                                             scratch, scratch + w, (token_data *)out.buf);
        result = PyLong_FromSsize_t(count);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&logits);
    return result;
}

static PyMethodDef methods[] = {
    {"candidates", (PyCFunction)(void (*)(void))candidates, METH_FASTCALL, candidates_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_candidates",
    "The sampler's candidate pass (see desktop_app/engine/sampler.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__candidates(void) {
    return PyModule_Create(&module_def);
}
