#include "gda/fast/kernels.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/validate.h"

namespace fsr::fast::kernels {
namespace avx512 {
Table make_table();
}
namespace avx2 {
Table make_table();
}
namespace sse2 {
Table make_table();
}

namespace {

bool supported(const std::string& isa) {
  __builtin_cpu_init();
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return isa == "sse2";  // every x86-64
}

}  // namespace

const Table* table(const char* isa) {
  // Each table is built only once its instruction set is known to run here: make_table is
  // itself compiled with that set's flags.
  const std::string name = isa;
  if (!supported(name)) return nullptr;
  if (name == "avx512") {
    static const Table t = avx512::make_table();
    return &t;
  }
  if (name == "avx2") {
    static const Table t = avx2::make_table();
    return &t;
  }
  static const Table t = sse2::make_table();
  return &t;
}

const Table& active() {
  static const Table* t = [] {
    if (const char* want = std::getenv("FSR_FAST_ISA"); want && *want) {
      const std::string w = want;
      if (w != "avx512" && w != "avx2" && w != "sse2")
        fail_field("FSR_FAST_ISA", w, "must be avx512, avx2 or sse2");
      if (const Table* x = table(want)) return x;
      fail_field("FSR_FAST_ISA", w, "is not supported by this CPU");
    }
    for (const char* isa : {"avx512", "avx2", "sse2"})
      if (const Table* x = table(isa)) return x;
    return table("sse2");
  }();
  return *t;
}

}  // namespace fsr::fast::kernels
