// gda/fast/kernels.h for SSE2 (compile flags in gda/fast/CMakeLists.txt).
#define FSR_KERNEL_ISA sse2
#define FSR_KERNEL_ISA_NAME "sse2"
#include "gda/fast/kernels_impl.inc"
