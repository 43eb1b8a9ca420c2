#pragma once
// Debian's Abseil is built with its own absl::string_view, distinct from std::string_view.
// Earshot's code speaks std::string_view; these convert at Abseil call sites.
#include <string_view>

#include "absl/strings/string_view.h"

namespace earshot {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace earshot
