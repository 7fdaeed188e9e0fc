// NumPy .npy arrays in and out: float32 and float64, C order, any rank, so that every array
// fsrlab writes opens with numpy.load and every array a user has can be fed in.
//
//   fsr::write_npy("M_1.npy", M);                        // Eigen matrix -> d x m array, float64
//   Eigen::MatrixXd S = fsr::read_npy_matrix("S.npy", "samples");   // must be rank 2
//   fsr::NpyArray a = fsr::read_npy("X_1.npy");          // any rank, values as double
//
// Orientation: an Eigen matrix with R rows and C columns is stored as a C-order array of shape
// (R, C): element [i, j] in numpy is M(i, j) here. Files are little-endian ('<f4', '<f8');
// big-endian files are read and byte-swapped. Anything else — Fortran order, another dtype,
// a truncated or garbled file — is rejected with fsr::InputError naming the file and the rule.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fsr {

enum class DType { kFloat32, kFloat64 };

struct NpyArray {
  std::vector<std::int64_t> shape;
  DType dtype = DType::kFloat64;  // as stored in the file
  std::vector<double> data;       // C order, converted to double
  std::int64_t size() const;
};

NpyArray read_npy(const std::filesystem::path& path);
// Parses .npy bytes; `name` is used in error messages.
NpyArray parse_npy(std::string_view bytes, std::string_view name);

// Writes atomically (core/atomic_file.h). `data` holds product(shape) values in C order.
void write_npy(const std::filesystem::path& path, const double* data,
               const std::vector<std::int64_t>& shape, DType dtype = DType::kFloat64);
void write_npy(const std::filesystem::path& path, const float* data,
               const std::vector<std::int64_t>& shape);
std::string encode_npy(const double* data, const std::vector<std::int64_t>& shape, DType dtype);

void write_npy(const std::filesystem::path& path, const Eigen::MatrixXd& matrix,
               DType dtype = DType::kFloat64);
void write_npy(const std::filesystem::path& path, const Eigen::VectorXd& vector,
               DType dtype = DType::kFloat64);

// Reads a rank-2 array into a matrix. `field` names the input in error messages (e.g. the flag
// "--samples"); with `require_finite` a NaN or Inf is an error naming its index.
Eigen::MatrixXd read_npy_matrix(const std::filesystem::path& path, std::string_view field,
                                bool require_finite = true);

}  // namespace fsr
