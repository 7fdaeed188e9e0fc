// The fast engine's SGDA step on a device (gda/cuda/cuda_engine.h), below the engine interface:
// a plain description of the model's layout — the CPU engine's own (gda/fast/cpu_engine.h: the
// same flat parameter vector, the same block offsets, the same quadtree rows) — and the stepper
// that owns the device buffers and runs one step. Header of plain structs only (no Eigen, no
// CUDA), so that nvcc compiles the device side without the rest of the tree.
//
//   std::unique_ptr<fsr::cuda::Stepper<float>> s = fsr::cuda::make_cuda_stepper<float>(layout);
//   s->load(theta, mom1, mom2, blocks, stage);   // host -> device, whole state
//   fsr::cuda::StepOutput out = s->step(real, latents, lr_g, lr_d);
//   s->save(theta, mom1, mom2, blocks);          // device -> host
//
// Two backends run the same step code (gda/cuda/step_impl.h): CUDA (cuBLAS for the products,
// one kernel per element-wise pass of the CPU engine, gda/cuda/kernels.h) and the host (Eigen
// products and loops over the same kernels), which lets every machine check the step's logic
// against the CPU engine; only the CUDA backend's launches and cuBLAS calls need a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fsr::cuda {

// One level of the model: sizes, the quadtree order, the taps of the transposed convolution
// into this level (l >= 2), and the offsets of its tensors in the flat parameter vector.
struct StepLevel {
  int P = 1, m = 1, U = 1, Up = 0, mi = 0, grid = 1;  // Up, mi: the parent level's U and m
  std::vector<int> order, taps_in, taps_k, taps_count;
  std::size_t M = 0, mask = 0, W = 0, bW = 0, V = 0, tau = 0, readout = 0;
  // The read-outs relative to `readout` (lin's offset) and their sizes (0: absent).
  std::size_t ro_lin = 0, ro_quad = 0, ro_cubic = 0, ro_quartic = 0, ro_cross = 0, ro_size = 0;
  std::size_t n_lin = 0, n_quad = 0, n_cubic = 0, n_quartic = 0, n_cross = 0;
};

// One named tensor in the flat vector, with the optimiser bookkeeping the CPU engine keeps.
struct StepBlock {
  char role = 'g';  // 'g' generator parameter, 'b' buffer, 'd' decoder (V, tau), 'r' read-out
  bool decoder_weight = false;  // V (the decoder rows), as opposed to tau
  int level = 1;
  std::size_t offset = 0, size = 0;
  bool has_state = false;
  std::int64_t step = 0;
};

// The model options of gda/fast/cpu_engine.h's ModelOptions that the step reads.
struct StepOptions {
  bool relative_threshold = false, unit_norm_columns = true, unit_norm_rows = true;
  bool learn_threshold = true, cubic = false, quartic = false, cross_scale = true;
  int quadratic = 2;   // 0 none, 1 diagonal, 2 full
  bool optimal = false;  // optimal read-outs (else learned)
  bool nonsaturating = false;
  double penalty_weight = 1e-3;
  int batch = 512, d_steps = 1;
  bool simultaneous = false;
  bool adam = true;
  double beta1 = 0.5, beta2 = 0.99, eps = 1e-8, momentum = 0.0;
};

struct StepLayout {
  int levels = 1, d = 1, kernel = 2, padding = 0, n1 = 1, m0 = 1;
  StepOptions o;
  std::size_t A = 0, A_mask = 0, b1 = 0, size = 0;  // offsets; size of the flat vector
  std::vector<StepLevel> L;                          // L[l - 1]
  std::vector<StepBlock> blocks;
};

struct StepStage {
  std::vector<int> trained = {1};
  int first = 1, last = 1;
};

struct StepOutput {
  double loss_d = 0, loss_g = 0, grad_norm_d = 0, grad_norm_g = 0;
  bool finite = true;
};

// The real batch of one discriminator step: per level 1..last, B x P_l x d values in the
// quadtree patch order (gda/fast/layout.h's RealBatch).
template <typename T>
using RealLevels = std::vector<std::vector<T>>;

template <typename T>
class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual std::string device() const = 0;  // "cuda:0", "host"
  // The whole state host -> device (flat vectors of layout.size values), the blocks' optimiser
  // bookkeeping and the stage; device -> host.
  virtual void load(const T* theta, const T* mom1, const T* mom2,
                    const std::vector<StepBlock>& blocks, const StepStage& stage) = 0;
  virtual void save(T* theta, T* mom1, T* mom2, std::vector<StepBlock>& blocks) = 0;
  // One SGDA step: real[k] for the k-th discriminator step (d_steps of them), latents
  // (d_steps + 1) x B x m0 (the discriminator steps' then the generator step's).
  virtual StepOutput step(const std::vector<const RealLevels<T>*>& real, const T* latents,
                          double lr_g, double lr_d) = 0;
};

// The host backend (always built): the device code path on the CPU, for the checks. With
// cublas_layout, the products go through the CUDA backend's column-major mapping and a
// reference gemm of cuBLAS's semantics (gda/cuda/blas_map.h).
template <typename T>
std::unique_ptr<Stepper<T>> make_host_stepper(const StepLayout& layout, bool cublas_layout = false);

// The CUDA backend (built with FSR_HAVE_CUDA; gda/cuda/cuda_step.cu). Throws std::runtime_error
// when the CUDA runtime finds no device.
template <typename T>
std::unique_ptr<Stepper<T>> make_cuda_stepper(const StepLayout& layout);

// Whether this build has the CUDA backend, and the number of CUDA devices the runtime sees
// (0 when the build has none, the driver is missing or too old, or no GPU is present); `why`
// gets the runtime's message when it is 0.
bool cuda_built();
int cuda_device_count(std::string* why = nullptr);

// cuBLAS float32 SGEMM (no TF32) on n x n x n operands: FLOP/s, the best of repeated products
// over about `seconds` (the benchmark's reference, bench/cuda_step_bench.cpp). Throws
// std::runtime_error without CUDA.
double cuda_sgemm_flops(int n, double seconds);

}  // namespace fsr::cuda
