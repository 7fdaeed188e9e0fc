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

}  // namespace fsr::cuda
