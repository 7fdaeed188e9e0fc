// gda/fast/kernels.h for AVX2 (compile flags in gda/fast/CMakeLists.txt).
#define FSR_KERNEL_ISA avx2
#define FSR_KERNEL_ISA_NAME "avx2"
#include "gda/fast/kernels_impl.inc"
