// A fast, torch-free SGDA step of the SPEC §4 theory model: hand-written forward and backward
// passes as batched matrix products in a channels-last layout, all buffers allocated once. It is
// the performance reference of issue 7 (bench/step_bench.cpp, bench/compare_step.sh) and the
// same step as bench/pytorch_step.py in PyTorch eager.
//
//   fsr::fast::StepShape shape = fsr::fast::step_shape(target, /*batch=*/256);
//   fsr::fast::FastSgda<float> sgda(shape, {});  sgda.init(/*seed=*/1);
//   auto real = fsr::fast::real_patches<float>(shape, fsr::sample(target, 0, shape.batch));
//   fsr::fast::StepLosses loss = sgda.step(real, rng);  // one D step, then one G step
//
// THE STEP (docs/performance.md repeats it). Levels l = 1..L, h_l = h_1 2^(l-1), P_l = h_l^2
// patches of d = r^2 c pixels, m_l generator channels, U_l discriminator units, batch B.
//   Generator (all levels):  S_1 = ReLU(z A^T - b_1), z ~ N(0, I_m0) (B x m0), unit (c, y, x);
//     S_l = ReLU(ConvTranspose2d(S_{l-1}; W_l, stride 2, kernel k, padding k / 2 - 1) - b_l), l >=
//     2; patch p of X_l: x_p = M_l s_p (M_l is d x m_l, rows in (colour, dy, dx) order).
//   Discriminator, per level: u_p = ReLU(V_l x_p - tau_l) for every patch (V_l is U_l x d), then
//     D_l(X) = sum_p [ lin_l[p] . u_p + quad_l[p] . u_p^2 ]  (+ for l >= 2, with q the parent of p
//     on the h_{l-1} grid: sum_p u_p^T C_l[p] u'_q, u' the level l-1 codes);  D = sum_l D_l.
//     Read-outs lin_l, quad_l are P_l x U_l, C_l is P_l x U_l x U_{l-1}: one weight per patch, as
//     gda/networks.cpp's TheoryDiscriminator (quadratic "diag", no cubic, cross_scale on).
//   IPM loss with an L2 penalty on the read-outs R = {lin, quad, C}:
//     D step: one real batch, fake = G(z_d) with fresh z_d; minimise
//       L_D = -(mean D(real) - mean D(fake)) + lambda ||R||^2 over V, tau, R;
//     G step: fresh z_g; minimise L_G = -mean D(G(z_g)) over A, b_1, W_l, b_l, M_l, using the
//       discriminator just updated.
//   Updates are plain SGD: theta -= lr * grad (lr_d for D, lr_g for G), no momentum.
// Parameters have no normalisation (no unit-norm columns or rows) and no channel masks: this is
// the arithmetic of the model, not the learner's recipe (gda/trainer.cpp).
//
// Internal layout (why it is fast): every activation is a row-major (rows x channels) matrix with
// rows (sample, patch) in quadtree patch order (patch_order below), so each linear map is one GEMM
// over the whole batch and each parent's cross-scale terms one GEMM for its four children; the
// transposed convolution is one GEMM into a (rows x k k m_l) column buffer followed by a fused
// gather, bias and ReLU; the discriminator runs on patch matrices directly (the fake images are
// never laid out as images) and the D step scores real and fake in one 2B-row pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr::fast {

// The generator's architecture (synth/architecture.h: h_l = grid_at(l), P_l = patches_at(l),
// d = patch_dim(), n_1 = first_layer_units()) and what only the step has.
struct StepShape : Architecture {
  std::vector<int> units;  // U_l, discriminator units
  int latent_dim = 1;      // m0
  int batch = 1;           // B
};

// The target's architecture with U_l = width * m_l units (the learner's default width 2) and
// m0 = max(latent_dim of the target, n_1) (as gda/networks.cpp's network_shape). Throws
// InputError for batch < 1 or width <= 0.
StepShape step_shape(const Target& target, int batch, double width = 2.0);

struct StepOptions {
  double lr_d = 1e-2;
  double lr_g = 1e-2;
  double lambda = 1e-3;  // L2 penalty on the read-outs
};

struct StepLosses {
  double d_loss = 0;  // L_D at the start of the D step
  double g_loss = 0;  // L_G at the start of the G step (after the D update)
};

// A parameter in the canonical (PyTorch / target) layout: name, shape, C-order values.
// Names: A (n1, m0) with row c h_1^2 + y h_1 + x; b1 (n1); W<l> (m_{l-1}, m_l, k, k); bW<l> (m_l);
// M<l> (d, m_l); V<l> (U_l, d); tau<l> (U_l); lin<l>, quad<l> (P_l, U_l); cross<l> (P_l, U_l,
// U_{l-1}).
template <typename T>
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<T> data;
};

// Patch order inside the step: quadtree ("Morton") order, so that the four children of a level-l
// patch are the consecutive patches 4q..4q+3 of level l+1 and each cross-scale product is one GEMM
// per parent. Level 1 is raster order (p = y h_1 + x); at level l >= 2 the patch at (y, x) is
// 4 order(l-1)[(y/2) h_{l-1} + x/2] + 2 (y%2) + (x%2). patch_order(shape, l)[y h_l + x] is that
// index. Parameters and generate() use raster order; only RealBatch is in quadtree order.
std::vector<int> patch_order(const StepShape& shape, int level);

// Real batch: per level, B x P_l x d patch values in quadtree order, (colour, dy, dx) inside a
// patch.
template <typename T>
using RealBatch = std::vector<std::vector<T>>;

// Images (count x (c, side, side), as synth::sample returns) -> count x P x d patches, raster
// order.
template <typename T>
std::vector<T> images_to_patches(const RowMatrix& images, int h, int patch, int colors);
// Images of every level -> the step's real batch (quadtree order).
template <typename T>
RealBatch<T> real_patches(const StepShape& shape, const std::vector<RowMatrix>& images);
template <typename T>
RealBatch<T> real_patches(const StepShape& shape, const SampleBatch& batch) {
  return real_patches<T>(shape, batch.x);
}

// n N(0, 1) values by single-precision Box-Muller, one rng.next_u64() per pair (tails cut at
// 5.8 sigma). The latents of step(real, rng).
template <typename T>
void fill_normals(Rng& rng, T* out, std::size_t n);

// FLOPs of one step: 2 x the multiply-adds of its matrix products (formula in fast_step.cpp and
// docs/performance.md); element-wise work (ReLU, bias, read-outs, gathers) is not counted.
double flops_per_step(const StepShape& shape);

template <typename T>
class FastSgda {
 public:
  FastSgda(const StepShape& shape, const StepOptions& options);

  const StepShape& shape() const { return shape_; }
  // Seeded initialisation (fsr::Rng streams; small random read-outs so that G gets a gradient).
  void init(std::uint64_t seed);
  std::vector<NamedTensor<T>> parameters() const;
  // Names and shapes must match parameters(); throws InputError naming the tensor otherwise.
  void set_parameters(const std::vector<NamedTensor<T>>& params);

  // One D step then one G step on given latents (B x m0 each, row-major).
  StepLosses step(const RealBatch<T>& real, const T* z_d, const T* z_g);
  // The same with z_d, z_g drawn from `rng` by fill_normals (2 B m0 normals, part of the step).
  StepLosses step(const RealBatch<T>& real, Rng& rng);

  // For checks. The flat parameter vector (internal order: G block, then D block) and the
  // gradients of L_D (w.r.t. the D block) and L_G (w.r.t. the G block) at it; no update.
  std::vector<T>& flat() { return theta_; }
  std::size_t generator_size() const { return g_end_; }
  T d_loss(const RealBatch<T>& real, const T* z_d);
  T g_loss(const T* z_g);
  std::vector<T> d_gradient(const RealBatch<T>& real, const T* z_d);
  std::vector<T> g_gradient(const T* z_g);
  // Generator outputs for z (B x m0): per level B x P_l x d patches in raster order, and the
  // codes S_l in (sample, channel, y, x) order (the layout synth::sample returns).
  void generate(const T* z, RealBatch<T>* patches, std::vector<std::vector<T>>* codes);

 private:
  struct Offsets {
    std::size_t A = 0, b1 = 0;
    std::vector<std::size_t> W, bW, M;                  // W[l], bW[l] used for l >= 2; index l - 1
    std::vector<std::size_t> V, tau, lin, quad, cross;  // cross[l - 1] for l >= 2
  };
  void generate_into(const T* z, int row0);  // fake patches into rows [row0, row0 + B) of X_
  void discriminate(int n);                  // scores f_[0..n) of X_ rows [0, n)
  T weighted_score(int n) const;             // sum_n w_n f_n
  T penalty() const;
  void d_backward(int n, bool param_grads, bool input_grads);
  void g_backward(const T* z);
  void load_real(const RealBatch<T>& real);
  void update(std::size_t begin, std::size_t end, double lr);
  void add_penalty_gradient();  // grad_ += 2 lambda theta_ on the read-outs (lin, quad, C)

  StepShape shape_;
  StepOptions options_;
  Offsets off_;
  std::size_t g_end_ = 0;
  std::vector<T> theta_, grad_;
  // Transposed-convolution taps: per level l >= 2 and output coordinate y in [0, 2 h_{l-1}),
  // tap_count[y] pairs (input coordinate, kernel index).
  std::vector<std::vector<int>> tap_in_, tap_k_, tap_count_;
  std::vector<std::vector<int>> order_;  // order_[l - 1] = patch_order(shape, l)
  // Workspace, per level (index l - 1).
  std::vector<std::vector<T>> S_, dS_, X_, dX_, u_, du_, t_, col_;
  std::vector<T> z_, f_, w_, wu_;
};

extern template class FastSgda<float>;
extern template class FastSgda<double>;

}  // namespace fsr::fast
