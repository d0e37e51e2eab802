// Conv2D (valid, stride 1, NHWC) + bias + relu + 2x2/2 max pooling as one
// pass, and its gradients, for training on TF.js's wasm heap. The 17 MB
// convolution output of this model is never written: the forward pass keeps
// only the pooled values and, per pooled value, which of the 4 window
// positions won (255: none, the maximum was not positive, so relu stops the
// gradient). Built by build.sh; pointers are byte offsets in the imported
// memory. Channel counts must be multiples of 4.
#include <stdint.h>
#include <wasm_simd128.h>

typedef struct {
  int batch, in_h, in_w, in_c, filter_h, filter_w, out_c, pool_h, pool_w;
} geometry;

#define NONE 255

static inline int patch_size(const geometry *g) {
  return g->filter_h * g->filter_w * g->in_c;
}

// Offset of x[b, row, col, 0].
static inline int x_at(const geometry *g, int b, int row, int col) {
  return ((b * g->in_h + row) * g->in_w + col) * g->in_c;
}

// Conv values of 4*BLOCKS channels from c at the 4 positions of one pooling
// window: out[k * 4 + q] for channel group k, position q. Two groups at once
// give 8 independent sums, enough to hide the adds' latency.
static inline __attribute__((always_inline)) void window4(
    const geometry *g, const float *x0, const float *w, const float *bias, int c,
    v128_t *out, const int BLOCKS, const int FH, const int FW, const int IC) {
  for (int k = 0; k < BLOCKS; k++) {
    const v128_t bk = wasm_v128_load(bias + c + 4 * k);
    for (int q = 0; q < 4; q++) out[k * 4 + q] = bk;
  }
  const int row_len = g->in_w * IC;
  int t = 0;
  for (int i = 0; i < FH; i++) {
    for (int j = 0; j < FW; j++) {
      for (int ic = 0; ic < IC; ic++, t++) {
        const float *p = x0 + i * row_len + j * IC + ic;
        const v128_t s[4] = {wasm_f32x4_splat(p[0]), wasm_f32x4_splat(p[IC]),
                             wasm_f32x4_splat(p[row_len]), wasm_f32x4_splat(p[row_len + IC])};
        for (int k = 0; k < BLOCKS; k++) {
          const v128_t wv = wasm_v128_load(w + t * g->out_c + c + 4 * k);
          for (int q = 0; q < 4; q++)
            out[k * 4 + q] = wasm_f32x4_add(out[k * 4 + q], wasm_f32x4_mul(s[q], wv));
        }
      }
    }
  }
}

// Pools 4 channels' window values: stores the relu'd maximum and the winner.
static inline void pool4(const v128_t v[4], float *y, uint8_t *arg) {
  v128_t best = wasm_f32x4_splat(0.0f);
  v128_t idx = wasm_i32x4_splat(NONE);
  for (int q = 0; q < 4; q++) {
    const v128_t better = wasm_f32x4_gt(v[q], best);
    best = wasm_v128_bitselect(v[q], best, better);
    idx = wasm_v128_bitselect(wasm_i32x4_splat(q), idx, better);
  }
  wasm_v128_store(y, best);
  const v128_t half = wasm_u16x8_narrow_i32x4(idx, idx);
  wasm_v128_store32_lane(arg, wasm_u8x16_narrow_i16x8(half, half), 0);
}

// Forward: y[b, ph, pw, c] = max(0, max over the window of conv + bias);
// arg[...] = the winning position 0..3 (row-major in the window), or NONE.
// Ties go to the first position, as in TF.js's MaxPoolGrad.
static inline __attribute__((always_inline)) void forward(
    const geometry *gp, const float *x, const float *w, const float *bias,
    float *y, uint8_t *arg, const int BLOCKS, const int FH, const int FW, const int IC) {
  // A local copy: the byte stores below may alias *gp, which would
  // make the compiler reload every field in the inner loops.
  const geometry local = *gp, *g = &local;
  const int C = g->out_c;
  int o = 0;
  for (int b = 0; b < g->batch; b++) {
    for (int ph = 0; ph < g->pool_h; ph++) {
      for (int pw = 0; pw < g->pool_w; pw++, o += C) {
        const float *x0 = x + x_at(g, b, 2 * ph, 2 * pw);
        for (int c = 0; c < C; c += 4 * BLOCKS) {
          v128_t v[8];
          window4(g, x0, w, bias, c, v, BLOCKS, FH, FW, IC);
          for (int k = 0; k < BLOCKS; k++) pool4(v + 4 * k, y + o + c + 4 * k, arg + o + c + 4 * k);
        }
      }
    }
  }
}

// The model's 3x3 single-channel filter gets a copy compiled for it: with
// the loop bounds known, the taps unroll and stay in registers.
void conv_relu_pool(const geometry *g, const float *x, const float *w,
                    const float *bias, float *y, uint8_t *arg) {
  if (g->filter_h == 3 && g->filter_w == 3 && g->in_c == 1 && g->out_c % 8 == 0)
    forward(g, x, w, bias, y, arg, 2, 3, 3, 1);
  else
    forward(g, x, w, bias, y, arg, 1, g->filter_h, g->filter_w, g->in_c);
}

// The 4 winning positions at arg[0..3], one per lane.
static inline v128_t load_arg4(const uint8_t *arg) {
  const v128_t bytes = wasm_v128_load32_zero(arg);
  return wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(bytes));
}

#define MAX_PATCH 64

// Filter gradient: dw[t, c] = sum of dy routed to a position times the
// input under tap t there. `dw` is overwritten. Patches of at most
// MAX_PATCH taps keep their sums in registers per image and channel group.
static inline __attribute__((always_inline)) void filter_grad(
    const geometry *gp, const float *x, const float *dy, const uint8_t *arg,
    float *dw, const int FH, const int FW, const int IC) {
  // A local copy: the byte stores below may alias *gp, which would
  // make the compiler reload every field in the inner loops.
  const geometry local = *gp, *g = &local;
  const int C = g->out_c, P = FH * FW * IC, ic_n = IC;
  const int row_len = g->in_w * ic_n;
  for (int i = 0; i < P * C; i++) dw[i] = 0.0f;
  for (int b = 0; b < g->batch; b++) {
    for (int c = 0; c < C; c += 4) {
      v128_t acc[MAX_PATCH];
      for (int t = 0; t < P; t++) acc[t] = wasm_f32x4_splat(0.0f);
      // Nested loops, not p / pool_w: a division per value cost as much as its arithmetic.
      for (int ph = 0; ph < g->pool_h; ph++)
      for (int pw = 0; pw < g->pool_w; pw++) {
        const int o = ((b * g->pool_h + ph) * g->pool_w + pw) * C + c;
        const v128_t a = load_arg4(arg + o);
        if (!wasm_v128_any_true(wasm_i32x4_ne(a, wasm_i32x4_splat(NONE)))) continue;
        const v128_t live = wasm_i32x4_ne(a, wasm_i32x4_splat(NONE));
        const v128_t d = wasm_v128_and(wasm_v128_load(dy + o), live);
        const v128_t m0 = wasm_i32x4_eq(a, wasm_i32x4_splat(0));
        const v128_t m1 = wasm_i32x4_eq(a, wasm_i32x4_splat(1));
        const v128_t m2 = wasm_i32x4_eq(a, wasm_i32x4_splat(2));
        const float *x0 = x + x_at(g, b, 2 * ph, 2 * pw);
        // Each lane's gradient reached one position: pick, per lane, the
        // input under that position (no branch: which one won is random).
        int t = 0;
        for (int i = 0; i < FH; i++)
          for (int j = 0; j < FW; j++)
            for (int ic = 0; ic < ic_n; ic++, t++) {
              const float *xt = x0 + i * row_len + j * ic_n + ic;
              const v128_t s23 = wasm_v128_bitselect(wasm_f32x4_splat(xt[row_len]),
                                                     wasm_f32x4_splat(xt[row_len + ic_n]), m2);
              const v128_t s123 = wasm_v128_bitselect(wasm_f32x4_splat(xt[ic_n]), s23, m1);
              const v128_t xs = wasm_v128_bitselect(wasm_f32x4_splat(xt[0]), s123, m0);
              acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(d, xs));
            }
      }
      for (int t = 0; t < P; t++) {
        float *d = dw + t * C + c;
        wasm_v128_store(d, wasm_f32x4_add(wasm_v128_load(d), acc[t]));
      }
    }
  }
}

int conv_relu_pool_filter_grad(const geometry *g, const float *x,
                               const float *dy, const uint8_t *arg, float *dw) {
  if (patch_size(g) > MAX_PATCH) return -1;
  if (g->filter_h == 3 && g->filter_w == 3 && g->in_c == 1)
    filter_grad(g, x, dy, arg, dw, 3, 3, 1);
  else
    filter_grad(g, x, dy, arg, dw, g->filter_h, g->filter_w, g->in_c);
  return 0;
}

// Bias gradient: db[c] = sum of the dy that reached any position. `db` is
// overwritten.
void conv_relu_pool_bias_grad(const geometry *gp, const float *dy,
                              const uint8_t *arg, float *db) {
  // A local copy: the byte stores below may alias *gp, which would
  // make the compiler reload every field in the inner loops.
  const geometry local = *gp, *g = &local;
  const int C = g->out_c;
  const int n = g->batch * g->pool_h * g->pool_w;
  for (int c = 0; c < C; c += 4) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int p = 0; p < n; p++) {
      const v128_t a = load_arg4(arg + p * C + c);
      const v128_t live = wasm_i32x4_ne(a, wasm_i32x4_splat(NONE));
      acc = wasm_f32x4_add(acc, wasm_v128_and(wasm_v128_load(dy + p * C + c), live));
    }
    wasm_v128_store(db + c, acc);
  }
}

// Input gradient: dx[b, r, s, ic] = sum over the positions dy reached of
// dy times the filter weight that joined them. `dx` is overwritten. Unused
// by this model's training (its input is no variable); kept for correctness.
void conv_relu_pool_input_grad(const geometry *gp, const float *w,
                               const float *dy, const uint8_t *arg, float *dx) {
  // A local copy: the byte stores below may alias *gp, which would
  // make the compiler reload every field in the inner loops.
  const geometry local = *gp, *g = &local;
  const int C = g->out_c, ic_n = g->in_c;
  const int n_x = g->batch * g->in_h * g->in_w * ic_n;
  for (int i = 0; i < n_x; i++) dx[i] = 0.0f;
  for (int b = 0; b < g->batch; b++) {
    for (int ph = 0; ph < g->pool_h; ph++) {
      for (int pw = 0; pw < g->pool_w; pw++) {
        const int o = ((b * g->pool_h + ph) * g->pool_w + pw) * C;
        for (int c = 0; c < C; c++) {
          const int q = arg[o + c];
          if (q == NONE) continue;
          const float d = dy[o + c];
          const int row = 2 * ph + (q >> 1), col = 2 * pw + (q & 1);
          int t = 0;
          for (int i = 0; i < g->filter_h; i++)
            for (int j = 0; j < g->filter_w; j++)
              for (int ic = 0; ic < ic_n; ic++, t++)
                dx[x_at(g, b, row + i, col + j) + ic] += d * w[t * C + c];
        }
      }
    }
  }
}
