/*
 * ctxlab_blas: a Node-API addon that runs single-precision matrix products through the system's
 * OpenBLAS (cblas_sgemm, both cores), directly on Float32Array views (for ctxlab, views into the
 * TF.js wasm heap, so nothing is copied). Built at setup by native/build.mjs with the system C
 * compiler; where it cannot be built or loaded, lib/tensor/native-matmul.ts keeps wasm's own matMul.
 *
 * Exports:
 *   sgemmBatch(batch, transA, transB, m, n, k, A, strideA, lda, B, strideB, ldb, C, strideC, ldc)
 *     C[i] = op(A[i]) * op(B[i]) for i < batch, row-major, alpha 1, beta 0; strides in elements
 *     (0 broadcasts one operand over the batch). Every index range is checked against the arrays.
 *   info() -> { corename, config, threads }
 *   setThreads(n)
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, NULL, "ctxlab_blas: Node-API call failed: " #call);      \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/* The last element index op(X[batch-1]) touches, +1, must fit in len. */
static int fits(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld, size_t len) {
  if (batch < 1 || rows < 1 || cols < 1 || stride < 0 || ld < cols) return 0;
  int64_t last = (batch - 1) * stride + (rows - 1) * ld + cols;
  return last <= (int64_t)len;
}

static napi_value sgemm_batch(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value a[15];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 15) {
    napi_throw_type_error(env, NULL, "ctxlab_blas.sgemmBatch: expects 15 arguments");
    return NULL;
  }
  int64_t batch, m, n, k, sa, lda, sb, ldb, sc, ldc;
  bool ta, tb;
  float *A, *B, *C;
  size_t la, lb, lc;
  if (!get_i64(env, a[0], &batch) || napi_get_value_bool(env, a[1], &ta) != napi_ok ||
      napi_get_value_bool(env, a[2], &tb) != napi_ok || !get_i64(env, a[3], &m) || !get_i64(env, a[4], &n) ||
      !get_i64(env, a[5], &k) || !get_f32(env, a[6], &A, &la) || !get_i64(env, a[7], &sa) ||
      !get_i64(env, a[8], &lda) || !get_f32(env, a[9], &B, &lb) || !get_i64(env, a[10], &sb) ||
      !get_i64(env, a[11], &ldb) || !get_f32(env, a[12], &C, &lc) || !get_i64(env, a[13], &sc) ||
      !get_i64(env, a[14], &ldc)) {
    napi_throw_type_error(env, NULL,
                          "ctxlab_blas.sgemmBatch: argument types are (int, bool, bool, int, int, int, Float32Array, "
                          "int, int, Float32Array, int, int, Float32Array, int, int)");
    return NULL;
  }
  /* stored shapes: A is [m, k] (or [k, m] when transposed), B is [k, n] (or [n, k]), C is [m, n] */
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || !fits(batch, sa, ta ? k : m, ta ? m : k, lda, la) ||
      !fits(batch, sb, tb ? n : k, tb ? k : n, ldb, lb) || !fits(batch, sc, m, n, ldc, lc) || (batch > 1 && sc < m * ldc)) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "ctxlab_blas.sgemmBatch: batch=%lld m=%lld n=%lld k=%lld with strides %lld/%lld/%lld overrun the arrays "
             "(%zu, %zu, %zu elements)",
             (long long)batch, (long long)m, (long long)n, (long long)k, (long long)sa, (long long)sb, (long long)sc,
             la, lb, lc);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, A + i * sa, (int)lda, B + i * sb, (int)ldb, 0.0f, C + i * sc, (int)ldc);
  }
  return NULL;
}

static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, s;
  CHECK(napi_create_object(env, &obj));
  const char *core = openblas_get_corename();
  CHECK(napi_create_string_utf8(env, core ? core : "?", NAPI_AUTO_LENGTH, &s));
  CHECK(napi_set_named_property(env, obj, "corename", s));
  const char *cfg = openblas_get_config();
  CHECK(napi_create_string_utf8(env, cfg ? cfg : "?", NAPI_AUTO_LENGTH, &s));
  CHECK(napi_set_named_property(env, obj, "config", s));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &s));
  CHECK(napi_set_named_property(env, obj, "threads", s));
  return obj;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 1 || napi_get_value_int32(env, a[0], &n) != napi_ok || n < 1 || n > 1024) {
    napi_throw_range_error(env, NULL, "ctxlab_blas.setThreads: n must be an integer in [1, 1024]");
    return NULL;
  }
  openblas_set_num_threads(n);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  CHECK(napi_create_function(env, "sgemmBatch", NAPI_AUTO_LENGTH, sgemm_batch, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "sgemmBatch", fn));
  CHECK(napi_create_function(env, "info", NAPI_AUTO_LENGTH, blas_info, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "info", fn));
  CHECK(napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, set_threads, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "setThreads", fn));
  return exports;
}
