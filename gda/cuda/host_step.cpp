// The host instantiation of the device step (gda/cuda/step_impl.h on gda/cuda/host_backend.h),
// and, in a build without CUDA, the CUDA entry points that say so.
#include <stdexcept>

#include "gda/cuda/host_backend.h"
#include "gda/cuda/step_impl.h"

namespace fsr::cuda {

template <typename T>
std::unique_ptr<Stepper<T>> make_host_stepper(const StepLayout& layout, bool cublas_layout) {
  if (cublas_layout) return std::make_unique<StepImpl<CublasEmulationBackend, T>>(layout);
  return std::make_unique<StepImpl<HostBackend, T>>(layout);
}

template std::unique_ptr<Stepper<float>> make_host_stepper<float>(const StepLayout&, bool);
template std::unique_ptr<Stepper<double>> make_host_stepper<double>(const StepLayout&, bool);

#if !defined(FSR_HAVE_CUDA)
bool cuda_built() { return false; }

int cuda_device_count(std::string* why) {
  if (why) *why = "this build has no CUDA (configured without nvcc or with -DFSR_CUDA=OFF)";
  return 0;
}

template <typename T>
std::unique_ptr<Stepper<T>> make_cuda_stepper(const StepLayout&) {
  throw std::runtime_error("this build has no CUDA (configured without nvcc or -DFSR_CUDA=OFF)");
}
template std::unique_ptr<Stepper<float>> make_cuda_stepper<float>(const StepLayout&);
template std::unique_ptr<Stepper<double>> make_cuda_stepper<double>(const StepLayout&);

double cuda_sgemm_flops(int, double) {
  throw std::runtime_error("this build has no CUDA (configured without nvcc or -DFSR_CUDA=OFF)");
}
#endif

}  // namespace fsr::cuda
