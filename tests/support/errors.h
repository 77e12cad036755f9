// Checks on xfmr::Error messages, shared by every test binary.
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "xfmr/core/check.h"

namespace xfmr::test {

// The message of the xfmr::Error that f() throws, or "(no error)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Expects f() to throw an xfmr::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected an xfmr::Error mentioning '" << *parts.begin() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message '" << msg << "' lacks '" << p << "'";
  }
}

}  // namespace xfmr::test
