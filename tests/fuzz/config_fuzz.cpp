// Fuzz target: a recipe's config as `tune run` builds it: the YAML file read into the located
// tree, command-line overrides applied, ${...} interpolations resolved (Config::load), then
// every scalar typed as the recipes read them and the tree emitted as YAML and read back.
//
// Input: the YAML text, then one command-line override after each NUL byte
// ("lr: 1\0optimizer.lr=2\0~seed").
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/config/yaml_io.h"

namespace {

using tt::config::Node;

size_t walk(const Node& n) {
  size_t sum = n.loc.str().size() + tt::config::describe_type(n).size();
  if (n.is_scalar()) {
    sum += static_cast<size_t>(n.scalar_type());
    sum += n.as_bool().value_or(false) + static_cast<size_t>(n.as_int().value_or(0) & 1);
    sum += n.as_double().has_value() + n.python_str().size() + tt::config::emit_scalar(n).size();
  }
  for (const Node& item : n.items) sum += walk(item);
  for (const auto& [k, v] : n.entries) sum += k.size() + walk(v);
  return sum;
}

}  // namespace

int tt_fuzz_config(const uint8_t* data, size_t size) {
  static const std::string path = tt::fuzz::scratch_path("config.yaml");
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::vector<std::string> overrides;
  for (size_t start = nul; start != std::string::npos && overrides.size() < 16;) {
    const size_t next = input.find('\0', start + 1);
    overrides.push_back(
        input.substr(start + 1, next == std::string::npos ? std::string::npos : next - start - 1));
    start = next;
  }
  const std::string yaml = input.substr(0, nul);
  tt::fuzz::write_file(path, reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size());
  tt::fuzz::run_one("Config::load", [&] {
    const tt::config::Config cfg = tt::config::Config::load(path, overrides);
    size_t sum = walk(cfg.raw()) + walk(cfg.resolved());
    std::vector<std::string> refs;
    tt::config::collect_references(cfg.raw(), refs);
    for (const std::string& key : cfg.resolved().keys())
      sum += cfg.where(key).size() + cfg.has(key);
    const std::string given = tt::config::emit_yaml(cfg.raw());
    const std::string resolved =
        tt::config::emit_yaml(cfg.resolved(), tt::config::EmitOptions{2, true});
    sum += given.size() + resolved.size() + refs.size();
    // What we write as torchtune_config.yaml is read again on resume.
    tt::fuzz::run_one("parse_yaml(emit_yaml)",
                      [&] { sum += walk(tt::config::parse_yaml(given, "emitted.yaml")); });
    if (sum == 1) std::fputc(' ', stderr);  // keep the work
  });
  return 0;
}

TT_FUZZ_ENTRY(config)
