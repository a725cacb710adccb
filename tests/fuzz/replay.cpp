// fuzz_replay <target> <file or folder>...: runs every given input (folders recursively, in
// name order) once through a fuzz harness, the same code libFuzzer runs. CTest replays the
// committed corpora and crash inputs this way (tests/fuzz/CMakeLists.txt), so an input that
// once crashed a reader stays a test; a finding aborts the program, failing the test.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int tt_fuzz_safetensors(const uint8_t* data, size_t size);
int tt_fuzz_torch_save(const uint8_t* data, size_t size);
int tt_fuzz_config(const uint8_t* data, size_t size);
int tt_fuzz_data(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};
constexpr Target kTargets[] = {{"safetensors", tt_fuzz_safetensors},
                               {"torch_save", tt_fuzz_torch_save},
                               {"config", tt_fuzz_config},
                               {"data", tt_fuzz_data}};

}  // namespace

int main(int argc, char** argv) {
  const Target* target = nullptr;
  for (const Target& t : kTargets)
    if (argc > 1 && std::strcmp(argv[1], t.name) == 0) target = &t;
  if (target == nullptr || argc < 3) {
    std::fprintf(stderr, "usage: %s safetensors|torch_save|config|data <file or folder>...\n",
                 argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    std::vector<fs::path> found;
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.')
          found.push_back(e.path());
    } else if (fs::is_regular_file(argv[i])) {
      found.emplace_back(argv[i]);
    }
    std::sort(found.begin(), found.end());
    inputs.insert(inputs.end(), found.begin(), found.end());
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "%s: no inputs found\n", target->name);
    return 1;
  }
  for (const fs::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    target->run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs replayed, no findings\n", target->name, inputs.size());
  return 0;
}
