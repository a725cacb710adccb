// torchtune's checkpoint path helpers and the weight files of a checkpoint folder; see
// checkpoint_paths.h.
#include "torchtune_cpp/checkpointing/checkpoint_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/disk_space.h"
#include "torchtune_cpp/utils/fault_injection.h"

namespace tt::checkpointing {

namespace fs = std::filesystem;
using namespace checkpoint_internal;

namespace {

std::string weakly_canonical(const std::string& p) {
  return fs::weakly_canonical(fs::absolute(p)).string();
}

// The files copy_files() copies from `input_dir`: (source, path relative to the output).
std::vector<std::pair<fs::path, fs::path>> side_files(const std::string& input_dir) {
  static const std::vector<std::string> kIgnore = {
      ".pt",       ".bin",           ".pth",         ".safetensors", kSafetensorsIndex,
      kTorchIndex, "adapter_config", "adapter_model"};
  const uintmax_t kMaxBytes = 100ull * 1024 * 1024;
  std::vector<std::pair<fs::path, fs::path>> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(input_dir, ec), end;
  TT_CHECK(!ec, input_dir, "cannot list the checkpoint directory: ", ec.message());
  for (; it != end; it.increment(ec)) {
    TT_CHECK(!ec, input_dir, "cannot list the checkpoint directory: ", ec.message());
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    // Free functions, which follow symlinks: a Hugging Face cache snapshot is all links.
    if (!fs::is_regular_file(p, ec)) continue;
    if (std::any_of(kIgnore.begin(), kIgnore.end(),
                    [&](const std::string& s) { return ends_with(name, s); }))
      continue;
    if (fs::file_size(p, ec) > kMaxBytes) {
      log_info(str("Skipping copying ", p.string(), " as it exceeds the size limit of 100 MiB."));
      continue;
    }
    // Lexical: fs::relative() resolves symlinks, which would lead out of a cache snapshot.
    out.emplace_back(p, p.lexically_relative(input_dir));
  }
  return out;
}

}  // namespace

namespace checkpoint_internal {

nlohmann::json read_index_json(const fs::path& p) {
  std::ifstream in(p);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    TT_CHECK(false, p.string(), "is not valid JSON: ", e.what());
  }
  return {};
}

void copy_file_reporting(const fs::path& from, const fs::path& to, const char* point) {
  struct Fd {
    int fd = -1;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } in, out;
  in.fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  TT_CHECK(in.fd >= 0, from.string(), "cannot read the file: ", std::strerror(errno));
  struct stat st {};
  const mode_t mode = ::fstat(in.fd, &st) == 0 ? (st.st_mode & 0777) : 0644;
  out.fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out.fd < 0) throw_write_error(to.string(), "cannot create the file", errno);
  const bool inject_no_space = fault::fail_point(point);
  std::vector<char> buf(size_t{1} << 20);
  for (;;) {
    ssize_t n = ::read(in.fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    TT_CHECK(n >= 0, from.string(), "cannot read the file: ", std::strerror(errno));
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = -1;
      if (inject_no_space)
        errno = ENOSPC;  // a test hook: the disk is full
      else
        w = ::write(out.fd, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw_write_error(to.string(), "write failed", w < 0 ? errno : ENOSPC);
      done += w;
    }
  }
  const int rc = ::close(out.fd);
  out.fd = -1;
  if (rc != 0) throw_write_error(to.string(), "close failed", errno);
}

uint64_t copied_files_bytes(const std::string& input_dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& [from, rel] : side_files(input_dir)) {
    const uintmax_t size = fs::file_size(from, ec);
    if (!ec) n += size;
  }
  return n;
}

}  // namespace checkpoint_internal

uint64_t tensor_bytes(const PickleValue& v) {
  switch (v.kind()) {
    case PickleValue::Kind::kTensor: {
      const at::Tensor& t = v.to_tensor();
      return t.defined() && t.has_storage() ? static_cast<uint64_t>(t.storage().nbytes()) : 0;
    }
    case PickleValue::Kind::kList:
    case PickleValue::Kind::kTuple: {
      uint64_t n = 0;
      for (const PickleValue& x : v.items()) n += tensor_bytes(x);
      return n;
    }
    case PickleValue::Kind::kDict: {
      uint64_t n = 0;
      for (const auto& [k, x] : v.dict_items()) n += tensor_bytes(x);
      return n;
    }
    default:
      return 0;
  }
}

std::vector<std::string> formatted_checkpoint_files(const CheckpointFiles& files) {
  TT_CHECK(!files.filename_format.empty() && !files.max_filename.empty(),
           "checkpointer.checkpoint_files",
           "Must pass 'filename_format' and 'max_filename' keys to generate checkpoint filenames");
  TT_CHECK(files.max_filename_is_string, "checkpointer.checkpoint_files.max_filename",
           "`max_filename` must be a string, but found <class 'int'> instead. Quote it, e.g. "
           "max_filename: \"00003\"");
  size_t placeholders = 0;
  for (size_t pos = files.filename_format.find("{}"); pos != std::string::npos;
       pos = files.filename_format.find("{}", pos + 2))
    ++placeholders;
  TT_CHECK(placeholders == 2, "checkpointer.checkpoint_files.filename_format",
           "Filename format string must have exactly two placeholders, e.g. "
           "'file_{i}_of_{n_files}.pth'");
  int64_t n = 0;
  try {
    n = std::stoll(files.max_filename);
  } catch (const std::exception&) {
    TT_CHECK(false, "checkpointer.checkpoint_files.max_filename", "'", files.max_filename,
             "' is not a number; use the shard count as written in the file names, e.g. \"00003\"");
  }
  std::vector<std::string> out;
  for (int64_t i = 1; i <= n; ++i) {
    const std::string& f = files.filename_format;
    size_t first = f.find("{}");
    size_t second = f.find("{}", first + 2);
    out.push_back(f.substr(0, first) + zfill(std::to_string(i), files.max_filename.size()) +
                  f.substr(first + 2, second - first - 2) + files.max_filename +
                  f.substr(second + 2));
  }
  return out;
}

std::string get_path(const std::string& input_dir, const std::string& filename) {
  TT_CHECK(fs::is_directory(input_dir), input_dir, input_dir, " is not a valid directory.");
  fs::path p = fs::path(input_dir) / filename;
  TT_CHECK(fs::is_regular_file(p), p.string(), "No file with name: ", filename, " found in ",
           input_dir, ".");
  return p.string();
}

void check_outdir_not_in_ckptdir(const std::string& ckpt_dir, const std::string& out_dir) {
  fs::path ckpt = weakly_canonical(ckpt_dir);
  fs::path out = weakly_canonical(out_dir);
  bool inside = false;
  for (fs::path p = out;; p = p.parent_path()) {
    if (p == ckpt) {
      inside = true;
      break;
    }
    if (p == p.parent_path()) break;
  }
  TT_CHECK(!inside, "checkpointer.output_dir",
           "The output directory cannot be the same as or a subdirectory of the checkpoint "
           "directory. Found ckpt_dir=",
           ckpt.string(), " and out_dir=", out.string(), ".");
}

void copy_files(const std::string& input_dir, const std::string& output_dir) {
  std::error_code ec;
  for (const auto& [from, rel] : side_files(input_dir)) {
    const fs::path dest = fs::path(output_dir) / rel;
    if (fs::exists(dest)) continue;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) throw_write_error(dest.parent_path().string(), "cannot create the folder", ec.value());
    copy_file_reporting(from, dest, "side_files");
    fs::last_write_time(dest, fs::last_write_time(from), ec);  // as shutil.copy2
  }
}

const char* const kShardedCheckpointIndex = "sharded_checkpoint.json";

bool is_sharded_checkpoint(const std::string& folder) {
  return fs::is_regular_file(fs::path(folder) / kShardedCheckpointIndex);
}

std::vector<std::string> checkpoint_weight_files(const std::string& folder) {
  std::vector<std::string> files;
  if (is_sharded_checkpoint(folder)) {
    const fs::path p = fs::path(folder) / kShardedCheckpointIndex;
    const nlohmann::json j = read_index_json(p);
    TT_CHECK(j.is_object() && j.contains("files") && j["files"].is_array(), p.string(),
             "has no \"files\" list; it is not a sharded checkpoint index");
    for (const auto& f : j.at("files")) {
      TT_CHECK(f.is_string() && fs::is_regular_file(fs::path(folder) / f.get<std::string>()),
               p.string(), "lists ", f.dump(), ", which is missing: the checkpoint is incomplete");
      files.push_back((fs::path(folder) / f.get<std::string>()).string());
    }
    std::sort(files.begin(), files.end());
    return files;
  }
  for (const char* index : {kSafetensorsIndex, kTorchIndex}) {
    fs::path p = fs::path(folder) / index;
    if (!fs::exists(p)) continue;
    const nlohmann::json j = read_index_json(p);
    TT_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), p.string(),
             "has no weight_map object; it is not a Hugging Face index file");
    for (const auto& [key, file] : j.at("weight_map").items()) {
      TT_CHECK(file.is_string(), p.string(), "weight_map['", key, "'] must be a file name");
      std::string f = (fs::path(folder) / file.get<std::string>()).string();
      TT_CHECK(fs::is_regular_file(f), p.string(), "lists ", file.get<std::string>(),
               ", which is missing: the checkpoint is incomplete");
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    }
    std::sort(files.begin(), files.end());
    return files;
  }
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name == kRecipeStateFile || name.empty() || name[0] == '.')
      continue;
    for (const char* ext : {".safetensors", ".bin", ".pt", ".pth"})
      if (ends_with(name, ext)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace tt::checkpointing
