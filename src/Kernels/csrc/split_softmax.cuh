// Flash-decoding's second half: one head's context splits, each a partial softmax (Σ e^{s-m}·v over its range, m,
// Σ e^{s-m}), combined into the attention output. Shared by the combine kernel (paged_attention.cu) and the
// combine-and-quantize kernel (quantize.cu), so both produce the same values bit for bit.
#pragma once
#include <cfloat>

// p: one head's partials [splits][head_dim + 2] (accumulator, then m and l). The largest m over the splits.
__device__ inline float split_max(const float* p, int head_dim, int splits) {
  float gm = -FLT_MAX;
  for (int s = 0; s < splits; s++) gm = fmaxf(gm, p[s * (head_dim + 2) + head_dim]);
  return gm;
}

// Output dim d of that head: Σ_s acc_s[d]·e^{m_s - gm} / Σ_s l_s·e^{m_s - gm}, summed in split order.
__device__ inline float combine_split(const float* p, int head_dim, int splits, float gm, int d) {
  float gl = 0.f, o = 0.f;
  for (int s = 0; s < splits; s++) {
    const float* ps = p + s * (head_dim + 2);
    const float f = __expf(ps[head_dim] - gm);
    gl += ps[head_dim + 1] * f;
    o += ps[d] * f;
  }
  return o / gl;
}
