// The CUDA instantiation of the device step (gda/cuda/step_impl.h on gda/cuda/cuda_backend.cuh),
// float32 (the engine) and float64 (the sharp oracle checks), and the device query.
#include "gda/cuda/cuda_backend.cuh"
#include "gda/cuda/step_impl.h"

namespace fsr::cuda {

template <typename T>
std::unique_ptr<Stepper<T>> make_cuda_stepper(const StepLayout& layout) {
  return std::make_unique<StepImpl<CudaBackend, T>>(layout);
}

template std::unique_ptr<Stepper<float>> make_cuda_stepper<float>(const StepLayout&);
template std::unique_ptr<Stepper<double>> make_cuda_stepper<double>(const StepLayout&);

bool cuda_built() { return true; }

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error of a failed initialisation
    return 0;
  }
  if (n == 0 && why) *why = "the CUDA runtime lists no device";
  return n;
}

double cuda_sgemm_flops(int n, double seconds) {
  CudaBackend be;
  const std::size_t nn = std::size_t(n) * n;
  float* a = be.alloc<float>(nn);
  float* b = be.alloc<float>(nn);
  float* c = be.alloc<float>(nn);
  be.for_each(Index(nn), Fill<float>{a, 1.0f / n});
  be.for_each(Index(nn), Fill<float>{b, 1.0f});
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  double best = 0, spent = 0;
  for (int reps = 1; spent < seconds; reps *= 2) {
    be.gemm<float>(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);  // warm-up
    check(cudaEventRecord(start, be.stream()), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) be.gemm<float>(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    check(cudaEventRecord(stop, be.stream()), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    spent += ms / 1e3;
    best = std::max(best, 2.0 * n * double(n) * n * reps / (ms / 1e3));
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  be.release(a);
  be.release(b);
  be.release(c);
  return best;
}

}  // namespace fsr::cuda
