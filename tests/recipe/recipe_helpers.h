// Helpers shared by the end-to-end recipe tests: running commands, reading DiskLogger logs.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "common/command.h"

namespace tt::recipe_test {

namespace fs = std::filesystem;

using Result = testing::CommandResult;

inline Result shell(const std::string& cmd) {
  return testing::run_command(cmd);
}

// `tune run <recipe> --config <config> output_dir=<out> <overrides>` from the source root.
inline Result tune_run(const std::string& config, const fs::path& out, const std::string& overrides,
                       const std::string& env = "") {
  return shell("cd " + std::string(TT_SOURCE_DIR) + " && " + env + " " +
               std::string(TT_BINARY_DIR) + "/tune run full_finetune_single_device --config " +
               config + " output_dir=" + out.string() + " " + overrides);
}

// One DiskLogger line: step -> {name -> value}.
using StepLog = std::map<int, std::map<std::string, double>>;

inline StepLog read_disk_logs(const fs::path& log_dir) {
  StepLog steps;
  if (!fs::exists(log_dir)) return steps;
  for (const auto& entry : fs::directory_iterator(log_dir)) {
    std::ifstream in(entry.path());
    std::string line;
    std::regex head("^Step (\\d+) \\| (.*)$"), pair("([a-z_]+):([0-9.eE+-]+|nan|inf) ");
    std::smatch m;
    while (std::getline(in, line)) {
      if (!std::regex_search(line, m, head)) continue;
      int step = std::stoi(m[1]);
      std::string rest = m[2].str() + (m[2].str().empty() || m[2].str().back() == ' ' ? "" : " ");
      for (std::sregex_iterator it(rest.begin(), rest.end(), pair), end; it != end; ++it)
        steps[step][(*it)[1]] = std::stod((*it)[2]);
    }
  }
  return steps;
}

// A path under the temporary folder, emptied (each test its own: CTest runs them in parallel).
inline fs::path fresh(const std::string& name) {
  fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace tt::recipe_test
