// Helpers shared by the C++ tests: expect a tt::Error whose text contains given parts.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "torchtune_cpp/utils/check.h"

namespace tt::testing {

// Runs `fn`, requires a tt::Error, and requires every part to appear in "where: message".
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const tt::Error& e) {
    std::string text = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(text.find(p), std::string::npos) << "missing '" << p << "' in: " << text;
    return;
  }
  ADD_FAILURE() << "expected a tt::Error mentioning '" << (parts.empty() ? "" : parts[0]) << "'";
}

}  // namespace tt::testing
