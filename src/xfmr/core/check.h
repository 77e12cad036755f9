// Errors and checks. Every user-facing failure is an xfmr::Error whose message names the op and the shapes,
// so the CLI can print it as one line and exit non-zero.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace xfmr {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace xfmr

// XF_CHECK(cond, "op: ", details...) throws xfmr::Error with the concatenated message when cond is false.
#define XF_CHECK(cond, ...)                                      \
  do {                                                           \
    if (!(cond)) [[unlikely]]                                    \
      throw ::xfmr::Error(::xfmr::detail::concat(__VA_ARGS__));  \
  } while (0)

// Internal invariants: on in debug builds only.
#ifndef NDEBUG
#define XF_DCHECK(cond, ...) XF_CHECK(cond, "internal error: ", __VA_ARGS__)
#else
#define XF_DCHECK(cond, ...) \
  do {                       \
  } while (0)
#endif
