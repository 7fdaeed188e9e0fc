#include "synth/architecture.h"

#include "core/json_io.h"
#include "core/validate.h"

namespace fsr {

void require_kernel(std::string_view field, std::int64_t kernel) {
  if (kernel != 2 && kernel != 4)
    fail_field(field, kernel, "must be 2 (parent only) or 4 (padding 1, 2x2 parents)");
}

std::vector<ParentTap> parent_taps(int y, int x, int child_grid, int kernel) {
  const int hp = child_grid / 2, pad = transposed_padding(kernel);
  std::vector<ParentTap> taps;
  for (int py = 0; py < hp; ++py) {
    const int ky = y + pad - 2 * py;
    if (ky < 0 || ky >= kernel) continue;
    for (int px = 0; px < hp; ++px) {
      const int kx = x + pad - 2 * px;
      if (kx < 0 || kx >= kernel) continue;
      taps.push_back({py * hp + px, ky * kernel + kx});
    }
  }
  return taps;
}

void Architecture::validate(const std::string& prefix) const {
  require_int_in_range(prefix + "levels", levels, 1, kMaxLevels);
  require_int_in_range(prefix + "grid", grid, 1, kMaxGrid);
  require_int_in_range(prefix + "patch", patch, 1, kMaxPatch);
  require_int_in_range(prefix + "colors", colors, 1, kMaxColors);
  require_kernel(prefix + "kernel", kernel);
  if (static_cast<int>(channels.size()) != levels)
    fail_field(prefix + "channels", Json(channels).dump(), "must have levels entries");
  for (int l = 0; l < levels; ++l)
    require_int_in_range(prefix + "channels[" + std::to_string(l) + "]", channels[l], 1,
                         kMaxChannels);
}

}  // namespace fsr
