// The CUDA backend of the device step (gda/cuda/step_impl.h): device memory from cudaMalloc, the
// products on cuBLAS (row-major operands passed as their column-major transposes), the
// element-wise passes of gda/cuda/kernels.h as grid-stride kernels and the reductions as one
// block per output (a fixed tree in shared memory: deterministic). Everything runs on one stream
// of its own; only to_host waits for it. Same members as gda/cuda/host_backend.h.
//
//   fsr::cuda::CudaBackend b;            // throws std::runtime_error without a CUDA device
//   float* x = b.alloc<float>(n);  b.for_each(n, fsr::cuda::Fill<float>{x, 1.0f});
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "gda/cuda/blas_map.h"
#include "gda/cuda/kernels.h"

namespace fsr::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS error in ") + what + ": status " +
                             std::to_string(int(s)));
}

// cuBLAS, opened when the first CUDA backend starts (dlopen), not linked: every program that
// links the engines would otherwise load cuBLAS (some 600 MB of libraries) at startup, GPU or
// not. The build's toolkit directory first (FSR_CUBLAS_DIR), then the loader's search path.
struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSetPointerMode_v2) set_pointer_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasDgemm_v2) dgemm = nullptr;
  decltype(&cublasSgemmStridedBatched) sgemm_batched = nullptr;
  decltype(&cublasDgemmStridedBatched) dgemm_batched = nullptr;

  static const Cublas& get() {
    static const Cublas api = load();  // thread-safe, once
    return api;
  }

 private:
  static Cublas load() {
    const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* lib = nullptr;
#if defined(FSR_CUBLAS_DIR)
    lib = dlopen((std::string(FSR_CUBLAS_DIR) + "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
    if (!lib) lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      throw std::runtime_error("cannot open " + soname + " (cuBLAS): " + (why ? why : "not found"));
    }
    Cublas c;
    sym(lib, c.create, "cublasCreate_v2");
    sym(lib, c.destroy, "cublasDestroy_v2");
    sym(lib, c.set_stream, "cublasSetStream_v2");
    sym(lib, c.set_math_mode, "cublasSetMathMode");
    sym(lib, c.set_pointer_mode, "cublasSetPointerMode_v2");
    sym(lib, c.sgemm, "cublasSgemm_v2");
    sym(lib, c.dgemm, "cublasDgemm_v2");
    sym(lib, c.sgemm_batched, "cublasSgemmStridedBatched");
    sym(lib, c.dgemm_batched, "cublasDgemmStridedBatched");
    return c;  // the library stays open for the process
  }
  template <typename Fn>
  static void sym(void* lib, Fn& fn, const char* name) {
    fn = reinterpret_cast<Fn>(dlsym(lib, name));
    if (!fn) throw std::runtime_error(std::string("cuBLAS lacks ") + name);
  }
};

template <typename F>
__global__ void for_each_kernel(Index n, F f) {
  const Index stride = Index(blockDim.x) * gridDim.x;
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

constexpr int kReduceThreads = 256;

// Block b sums rows b, b + gridDim.x, ...: each thread over a stride of columns, then a tree.
template <typename T, typename F>
__global__ void reduce_rows_kernel(Index rows, Index cols, F f, T* out, bool accumulate) {
  __shared__ double sh[kReduceThreads];
  for (Index r = blockIdx.x; r < rows; r += gridDim.x) {
    double s = 0;
    for (Index c = threadIdx.x; c < cols; c += blockDim.x) s += f(r, c);
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int width = blockDim.x / 2; width > 0; width >>= 1) {
      if (threadIdx.x < width) sh[threadIdx.x] += sh[threadIdx.x + width];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = T(accumulate ? double(out[r]) + sh[0] : sh[0]);
    __syncthreads();
  }
}

// One thread per column, summing its rows in order.
template <typename T, typename F>
__global__ void reduce_cols_kernel(Index rows, Index cols, F f, T* out, bool accumulate) {
  const Index stride = Index(blockDim.x) * gridDim.x;
  for (Index c = Index(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
    double s = 0;
    for (Index r = 0; r < rows; ++r) s += f(r, c);
    out[c] = T(accumulate ? double(out[c]) + s : s);
  }
}

class CudaBackend {
 public:
  CudaBackend() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
      throw std::runtime_error(std::string("no CUDA device: ") +
                               (e != cudaSuccess ? cudaGetErrorString(e) : "none present"));
    check(cudaGetDevice(&device_), "cudaGetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(blas_.create(&handle_), "cublasCreate");
    check(blas_.set_stream(handle_, stream_), "cublasSetStream");
    // Plain float32 products (no TF32): the CPU oracle's arithmetic.
    check(blas_.set_math_mode(handle_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check(blas_.set_pointer_mode(handle_, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  }
  ~CudaBackend() {
    if (handle_) blas_.destroy(handle_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string device() const { return "cuda:" + std::to_string(device_); }
  cudaStream_t stream() const { return stream_; }

  template <typename T>
  T* alloc(std::size_t n) {
    void* p = nullptr;
    const std::size_t bytes = (n > 0 ? n : 1) * sizeof(T);
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    check(cudaMemsetAsync(p, 0, bytes, stream_), "cudaMemsetAsync");
    return static_cast<T*>(p);
  }
  void release(void* p) { cudaFree(p); }
  void to_device(void* dst, const void* src, std::size_t bytes) {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "to_device");
  }
  void to_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "to_host");
    synchronize();
  }
  void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  // Row-major C (m x n) = alpha op(A) op(B) + beta C, as cuBLAS's column-major C^T =
  // alpha op(B)^T op(A)^T + beta C^T (gda/cuda/blas_map.h, checked on the host).
  template <typename T>
  void gemm(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
            const T* B, Index ldb, T beta, T* C, Index ldc) {
    if (m == 0 || n == 0) return;
    check_int(m, n, k, lda, ldb, ldc);
    if (k == 0) {  // cuBLAS scales C by beta
      if (beta == T(0)) for_each(m * n, ZeroBlock<T>{C, n, ldc});
      return;
    }
    const ColumnMajorGemm g = column_major(ta, tb, m, n, k, lda, ldb, ldc);
    const cublasOperation_t oa = g.transa ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t ob = g.transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if constexpr (sizeof(T) == 4)
      check(blas_.sgemm(handle_, oa, ob, int(g.M), int(g.N), int(g.K), &alpha, B, int(g.lda), A,
                        int(g.ldb), &beta, C, int(g.ldc)),
            "cublasSgemm");
    else
      check(blas_.dgemm(handle_, oa, ob, int(g.M), int(g.N), int(g.K), &alpha, B, int(g.lda), A,
                        int(g.ldb), &beta, C, int(g.ldc)),
            "cublasDgemm");
  }
  // count products, the i-th on A + i sa, B + i sb, C + i sc.
  template <typename T>
  void gemm_batched(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
                    Index sa, const T* B, Index ldb, Index sb, T beta, T* C, Index ldc, Index sc,
                    Index count) {
    if (m == 0 || n == 0 || count == 0) return;
    check_int(m, n, k, lda, ldb, ldc);
    check_int(count, sa, sb, sc, 0, 0);
    if (k == 0) {
      for (Index i = 0; i < count; ++i) gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C + i * sc, ldc);
      return;
    }
    const ColumnMajorGemm g = column_major(ta, tb, m, n, k, lda, ldb, ldc);
    const cublasOperation_t oa = g.transa ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t ob = g.transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if constexpr (sizeof(T) == 4)
      check(blas_.sgemm_batched(handle_, oa, ob, int(g.M), int(g.N), int(g.K), &alpha, B,
                                      int(g.lda), (long long)sb, A, int(g.ldb), (long long)sa,
                                      &beta, C, int(g.ldc), (long long)sc, int(count)),
            "cublasSgemmStridedBatched");
    else
      check(blas_.dgemm_batched(handle_, oa, ob, int(g.M), int(g.N), int(g.K), &alpha, B,
                                      int(g.lda), (long long)sb, A, int(g.ldb), (long long)sa,
                                      &beta, C, int(g.ldc), (long long)sc, int(count)),
            "cublasDgemmStridedBatched");
  }

  template <typename F>
  void for_each(Index n, const F& f) {
    if (n <= 0) return;
    const Index blocks = std::min<Index>((n + 255) / 256, Index(1) << 16);
    for_each_kernel<<<unsigned(blocks), 256, 0, stream_>>>(n, f);
    check(cudaGetLastError(), "for_each launch");
  }
  template <typename T, typename F>
  void reduce_rows(Index rows, Index cols, const F& f, T* out, bool accumulate) {
    if (rows <= 0) return;
    const Index blocks = std::min<Index>(rows, Index(1) << 16);
    reduce_rows_kernel<T><<<unsigned(blocks), kReduceThreads, 0, stream_>>>(rows, cols, f, out,
                                                                            accumulate);
    check(cudaGetLastError(), "reduce_rows launch");
  }
  template <typename T, typename F>
  void reduce_cols(Index rows, Index cols, const F& f, T* out, bool accumulate) {
    if (cols <= 0) return;
    const Index blocks = std::min<Index>((cols + 255) / 256, Index(1) << 16);
    reduce_cols_kernel<T><<<unsigned(blocks), 256, 0, stream_>>>(rows, cols, f, out, accumulate);
    check(cudaGetLastError(), "reduce_cols launch");
  }

 private:
  static void check_int(Index a, Index b, Index c, Index d, Index e, Index f) {
    for (Index v : {a, b, c, d, e, f})
      if (v > INT_MAX) throw std::runtime_error("cuBLAS: a size or leading dimension over 2^31");
  }

  const Cublas& blas_ = Cublas::get();
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace fsr::cuda
