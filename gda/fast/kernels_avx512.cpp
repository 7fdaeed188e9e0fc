// gda/fast/kernels.h for AVX512 (compile flags in gda/fast/CMakeLists.txt).
#define FSR_KERNEL_ISA avx512
#define FSR_KERNEL_ISA_NAME "avx512"
#include "gda/fast/kernels_impl.inc"
