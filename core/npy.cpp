#include "core/npy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/atomic_file.h"
#include "core/memory_budget.h"
#include "core/validate.h"

namespace fsr {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

[[noreturn]] void bad_file(std::string_view name, std::string_view rule) {
  fail_field("npy file", name, rule);
}

constexpr std::size_t kMaxRank = 32;  // numpy's own limit (NPY_MAXDIMS) in 1.x

// Number of elements, or -1 when the product leaves int64 (a header can declare any shape).
std::int64_t checked_product(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto s : shape) {
    if (s < 0 || !checked_multiply(n, s, n)) return -1;
  }
  return n;
}

// Value of `key` in the header dict, as raw text up to the next top-level comma or brace.
std::string dict_value(std::string_view header, std::string_view key, std::string_view name) {
  const std::string quoted1 = "'" + std::string(key) + "'";
  const std::string quoted2 = "\"" + std::string(key) + "\"";
  auto pos = header.find(quoted1);
  std::size_t klen = quoted1.size();
  if (pos == std::string_view::npos) pos = header.find(quoted2);
  if (pos == std::string_view::npos) bad_file(name, "header has no '" + std::string(key) + "'");
  pos = header.find(':', pos + klen);
  if (pos == std::string_view::npos) bad_file(name, "header is not a Python dict");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  std::size_t end = pos;
  if (end < header.size() && header[end] == '(') {
    end = header.find(')', end);
    if (end == std::string_view::npos) bad_file(name, "header shape tuple is not closed");
    return std::string(header.substr(pos, end - pos + 1));
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  std::string value(header.substr(pos, end - pos));
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

std::vector<std::int64_t> parse_shape(const std::string& text, std::string_view name) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    bad_file(name, "header shape '" + text + "' is not a tuple");
  }
  std::vector<std::int64_t> shape;
  std::size_t i = 1;
  while (i < text.size() - 1) {
    while (i < text.size() - 1 && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() - 1) break;
    std::size_t j = i;
    while (j < text.size() - 1 && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i || j - i > 15) bad_file(name, "header shape '" + text + "' is not a tuple of sizes");
    shape.push_back(std::stoll(text.substr(i, j - i)));
    if (shape.size() > kMaxRank) {
      bad_file(name, "header shape has more than " + std::to_string(kMaxRank) + " dimensions");
    }
    i = j;
  }
  return shape;
}

void put_header(std::string& out, const std::vector<std::int64_t>& shape, DType dtype) {
  std::string dict = "{'descr': '";
  dict += dtype == DType::kFloat32 ? "<f4" : "<f8";
  dict += "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // Version 1.0: 10-byte preamble; pad so that the data start is 64-byte aligned.
  std::size_t total = kMagicSize + 4 + dict.size() + 1;
  const std::size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict += '\n';
  out.append(kMagic, kMagicSize);
  out += static_cast<char>(1);
  out += static_cast<char>(0);
  const auto len = static_cast<std::uint16_t>(dict.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += dict;
}

}  // namespace

std::int64_t NpyArray::size() const { return checked_product(shape); }  // -1: overflows

NpyArray parse_npy(std::string_view bytes, std::string_view name) {
  static_assert(std::endian::native == std::endian::little, "fsrlab assumes a little-endian host");
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    bad_file(name, "is not a .npy file (missing the \\x93NUMPY magic)");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0;
  std::size_t offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad_file(name, "is truncated inside its header");
    header_len = 0;
    for (int k = 0; k < 4; ++k) {
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
    }
    offset = 12;
  } else {
    bad_file(name, "has .npy format version " + std::to_string(major) + ": must be 1, 2 or 3");
  }
  if (bytes.size() < offset + header_len) bad_file(name, "is truncated inside its header");
  const std::string_view header = bytes.substr(offset, header_len);
  offset += header_len;

  std::string descr = dict_value(header, "descr", name);
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) {
    descr = descr.substr(1, descr.size() - 2);
  }
  NpyArray array;
  bool swap = false;
  std::size_t item = 0;
  if (descr == "<f8" || descr == "=f8" || descr == ">f8") {
    array.dtype = DType::kFloat64;
    item = 8;
    swap = descr[0] == '>';
  } else if (descr == "<f4" || descr == "=f4" || descr == ">f4") {
    array.dtype = DType::kFloat32;
    item = 4;
    swap = descr[0] == '>';
  } else {
    bad_file(name, "has dtype '" + descr + "': must be float32 ('<f4') or float64 ('<f8')");
  }
  const std::string fortran = dict_value(header, "fortran_order", name);
  if (fortran == "True") {
    bad_file(name, "is in Fortran order: must be C order (np.ascontiguousarray before saving)");
  } else if (fortran != "False") {
    bad_file(name, "header has fortran_order '" + fortran + "': must be True or False");
  }
  array.shape = parse_shape(dict_value(header, "shape", name), name);
  // The element count is checked for overflow and against the bytes present before anything is
  // allocated: a header may declare (2^32, 2^32), or a product that wraps to a small number.
  const std::int64_t n = array.size();
  std::int64_t need_bytes = 0;
  if (n < 0 || !checked_multiply(n, static_cast<std::int64_t>(item), need_bytes)) {
    bad_file(name, "header shape " + format_shape(array.shape) +
                       " has more elements than any file can hold (the product overflows)");
  }
  const auto need = static_cast<std::size_t>(need_bytes);
  const std::size_t have = bytes.size() - offset;
  if (have < need) {
    bad_file(name, "is truncated: shape " + format_shape(array.shape) + " needs " +
                       std::to_string(need) + " data bytes, found " + std::to_string(have));
  }
  if (have > need) {
    bad_file(name, "has " + std::to_string(have - need) + " bytes after the data of shape " +
                       format_shape(array.shape) + ": garbled or not one array");
  }
  require_memory("npy file", name, 8.0 * static_cast<double>(n),
                 "the values of shape " + format_shape(array.shape) + " as float64");
  array.data.resize(static_cast<std::size_t>(n));
  const char* p = bytes.data() + offset;
  for (std::int64_t i = 0; i < n; ++i, p += item) {
    unsigned char buf[8];
    std::memcpy(buf, p, item);
    if (swap) std::reverse(buf, buf + item);
    if (item == 8) {
      double v;
      std::memcpy(&v, buf, 8);
      array.data[i] = v;
    } else {
      float v;
      std::memcpy(&v, buf, 4);
      array.data[i] = v;
    }
  }
  return array;
}

NpyArray read_npy(const std::filesystem::path& path) {
  return parse_npy(read_file(path), path.string());
}

std::string encode_npy(const double* data, const std::vector<std::int64_t>& shape, DType dtype) {
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) fail_field("shape[" + std::to_string(i) + "]", shape[i], "must be >= 0");
  }
  const std::int64_t n = checked_product(shape);
  if (n < 0) fail_field("shape", format_shape(shape), "has more elements than int64 counts");
  std::string out;
  const std::size_t item = dtype == DType::kFloat32 ? 4 : 8;
  out.reserve(128 + static_cast<std::size_t>(n) * item);
  put_header(out, shape, dtype);
  const std::size_t start = out.size();
  out.resize(start + static_cast<std::size_t>(n) * item);
  char* p = out.data() + start;
  for (std::int64_t i = 0; i < n; ++i, p += item) {
    if (dtype == DType::kFloat32) {
      const float v = static_cast<float>(data[i]);
      std::memcpy(p, &v, 4);
    } else {
      std::memcpy(p, &data[i], 8);
    }
  }
  return out;
}

void write_npy(const std::filesystem::path& path, const double* data,
               const std::vector<std::int64_t>& shape, DType dtype) {
  write_file_atomic(path, encode_npy(data, shape, dtype));
}

void write_npy(const std::filesystem::path& path, const float* data,
               const std::vector<std::int64_t>& shape) {
  const std::int64_t n = checked_product(shape);
  std::vector<double> wide(data, data + n);
  write_npy(path, wide.data(), shape, DType::kFloat32);
}

void write_npy(const std::filesystem::path& path, const Eigen::MatrixXd& matrix, DType dtype) {
  // Eigen is column-major; the file is C order.
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = matrix;
  write_npy(path, row_major.data(), {matrix.rows(), matrix.cols()}, dtype);
}

void write_npy(const std::filesystem::path& path, const Eigen::VectorXd& vector, DType dtype) {
  write_npy(path, vector.data(), {vector.size()}, dtype);
}

Eigen::MatrixXd read_npy_matrix(const std::filesystem::path& path, std::string_view field,
                                bool require_finite) {
  const NpyArray array = read_npy(path);
  if (array.shape.size() != 2) {
    fail_field(field, path.string(),
               "has shape " + format_shape(array.shape) + ": must be a rank-2 array");
  }
  if (require_finite) {
    for (std::size_t i = 0; i < array.data.size(); ++i) {
      if (!std::isfinite(array.data[i])) {
        const auto cols = static_cast<std::size_t>(array.shape[1]);
        fail_field(std::string(field) + "[" + std::to_string(i / cols) + ", " +
                       std::to_string(i % cols) + "]",
                   array.data[i], "must be finite (in " + path.string() + ")");
      }
    }
  }
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      array.data.data(), array.shape[0], array.shape[1]);
}

}  // namespace fsr
