// The three full-model checkpointers; see checkpointer.h.
#include "torchtune_cpp/checkpointing/checkpointer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/disk_space.h"
#include "torchtune_cpp/utils/fault_injection.h"

extern char** environ;

namespace tt {

namespace fs = std::filesystem;

namespace {

const char* const kRecipeStateDir = "recipe_state";
const char* const kRecipeStateFile = "recipe_state.pt";
const char* const kSafetensorsIndex = "model.safetensors.index.json";
const char* const kTorchIndex = "pytorch_model.bin.index.json";

void log_info(const std::string& message) {
  std::cerr << "INFO: " << message << "\n";
}

// Crash points of a save (TORCHTUNE_CPP_CRASH_AT, utils/fault_injection.h): "mid_weights"
// (after each weight file), "before_rename" (folder complete, not yet in place),
// "after_exchange" (replacing an existing folder: new one in place, old one not yet removed),
// "after_rename" (before the recipe-state mirror), "mid_prune" (an old checkpoint hidden, not
// yet removed). Full-disk points (TORCHTUNE_CPP_FAIL_AT=enospc:<point>): "weights",
// "recipe_state" and "index" (the writers), "side_files" and "mirror" (copies below).
using fault::crash_point;

// Our key in recipe_state.pt: when the checkpoint was saved (ns since the epoch, strictly
// increasing within a process). Newest save = latest checkpoint.
const char* const kSavedAtKey = "torchtune_cpp_saved_at_ns";

int64_t next_save_time() {
  static int64_t last = 0;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  last = std::max(now, last + 1);
  return last;
}

// fsync a file, or a folder and (recursive) everything in it, so a complete-looking folder
// is complete on disk too, power loss included.
void sync_tree(const fs::path& path, bool recursive = true) {
  auto sync_one = [](const fs::path& p, bool dir) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
  };
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (recursive)
      for (const auto& e : fs::recursive_directory_iterator(path, ec)) sync_one(e.path(), e.is_directory());
    sync_one(path, true);
  } else {
    sync_one(path, false);
  }
}

// Copies `from` to `to` (created or truncated, with `from`'s permissions), reporting the
// real cause of a failure: std::filesystem::copy_file reports a full disk as "Input/output
// error". `point` names the copy for fault injection. The caller syncs.
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

// Moves the finished `staging` folder to `target` in one atomic step: a plain rename, or an
// exchange with an existing target (renameat2 RENAME_EXCHANGE) whose old contents are then
// removed, so there is no moment without a complete `target`.
void place_folder(const fs::path& staging, const fs::path& target) {
  std::error_code ec;
  const fs::path parent = target.parent_path();
  if (fs::exists(target, ec)) {
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
      crash_point("after_exchange");
      fs::remove_all(staging, ec);  // now the old contents
      sync_tree(parent, /*recursive=*/false);
      return;
    }
    // No exchange on this file system: move the old folder aside, restoring it on failure.
    const fs::path old = parent / str(".", target.filename().string(), ".old-", ::getpid());
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    TT_CHECK(!ec, target.string(), "cannot replace the existing folder: ", ec.message());
    fs::rename(staging, target, ec);
    if (ec) {
      std::error_code restore;
      fs::rename(old, target, restore);
      TT_CHECK(false, target.string(), "cannot move the finished checkpoint into place: ", ec.message(),
               "; the previous folder was kept");
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(staging, target, ec);
    TT_CHECK(!ec, target.string(), "cannot move the finished checkpoint into place: ", ec.message());
  }
  sync_tree(parent, /*recursive=*/false);
}

// Hidden leftovers of saves that were killed: .<name>.partial-<pid> (unfinished), .old-<pid>
// (a replaced folder, put back if its replacement never arrived), .removing-<pid> (pruning).
// Folders of processes still running are left alone.
void recover_interrupted_saves(const std::string& output_dir) {
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 2 || name[0] != '.' || !e.is_directory()) continue;
    std::string kind;
    size_t at = std::string::npos;
    for (const char* k : {".partial-", ".old-", ".removing-"})
      if ((at = name.rfind(k)) != std::string::npos && at > 1) {
        kind = k;
        break;
      }
    if (kind.empty()) continue;
    const std::string pid_text = name.substr(at + kind.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stoll(pid_text));
    if (pid == ::getpid() || (::kill(pid, 0) == 0 || errno == EPERM)) continue;  // still running
    const fs::path original = fs::path(output_dir) / name.substr(1, at - 1);
    if (kind == ".old-" && !fs::exists(original, ec)) {
      fs::rename(e.path(), original, ec);
      log_info(str("Restored ", original.string(), " from an interrupted save"));
      continue;
    }
    fs::remove_all(e.path(), ec);
    log_info(str("Removed the leftover of an interrupted save: ", e.path().string()));
  }
  // The recipe-state mirror's .recipe_state.pt.tmp-<pid>, left by a process killed mid-copy.
  const fs::path mirror_dir = fs::path(output_dir) / kRecipeStateDir;
  const std::string prefix = str(".", kRecipeStateFile, ".tmp-");
  for (const auto& e : fs::directory_iterator(mirror_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stoll(pid_text));
    if (pid == ::getpid() || (::kill(pid, 0) == 0 || errno == EPERM)) continue;  // still running
    std::error_code rm;
    fs::remove(e.path(), rm);
    log_info(str("Removed the leftover of an interrupted save: ", e.path().string()));
  }
}

}  // namespace

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

namespace {

// torchtune's ModelType enum names; LLAMA2, and LLAMA3 / MISTRAL (torchtune converts them with
// the same hf_to_tune), have conversions here. One declaration, read by the checkpointer's
// argument check (`tune validate` and instantiation) and by the constructor.
const std::vector<std::string>& torchtune_model_types() {
  static const std::vector<std::string> names = {
      "GEMMA",     "GEMMA2", "LLAMA2", "LLAMA3", "LLAMA3_2",  "LLAMA3_VISION", "MISTRAL",
      "PHI3_MINI", "PHI4",   "REWARD", "QWEN2",  "CLIP_TEXT", "T5_ENCODER"};
  return names;
}
const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> names = {"LLAMA2", "LLAMA3", "MISTRAL"};
  return names;
}

std::optional<std::string> model_type_problem(const std::string& model_type) {
  const auto& all = torchtune_model_types();
  const auto& ours = supported_model_types();
  if (std::find(all.begin(), all.end(), model_type) == all.end()) {
    std::string names;
    for (const auto& n : all) names += (names.empty() ? "" : ", ") + n;
    return str("'", model_type, "' is not a torchtune ModelType; use the enum name, one of: ", names);
  }
  if (std::find(ours.begin(), ours.end(), model_type) == ours.end())
    return str("model_type ", model_type,
               " is not supported by torchtune_cpp; its checkpointers convert LLAMA2 (and LLAMA3 / MISTRAL, whose "
               "Hugging Face keys and q/k permutation are Llama2's) checkpoints");
  return std::nullopt;
}

void check_model_type(const std::string& model_type) {
  auto problem = model_type_problem(model_type);
  TT_CHECK(!problem, "checkpointer.model_type", problem.value_or(""));
}

std::string zfill(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A file's state dict with torchtune's checks (every value a tensor), keys in the order
// torchtune sees them: safetensors' safe_open().keys() is sorted, torch.load keeps file order.
StateDict load_weights_file(const std::string& path) {
  if (ends_with(path, ".safetensors")) {
    SafetensorsFile file(path);
    std::vector<std::string> keys = file.keys();
    std::sort(keys.begin(), keys.end());
    StateDict sd;
    sd.reserve(keys.size());
    for (const auto& k : keys) sd.emplace_back(k, file.tensor(k));
    return sd;
  }
  PickleValue root = load_torch_file(path);
  TT_CHECK(root.is_dict(), path, "expected a state dict (a dict of tensors), found a ",
           root.type_name(), "; point checkpoint_files at model weight files");
  StateDict sd;
  sd.reserve(root.size());
  for (const auto& [k, v] : root.dict_items()) {
    TT_CHECK(k.is_string(), path, "state dict keys must be strings, found a ", k.type_name());
    TT_CHECK(v.is_tensor(), path,
             "Expected all values in the state dict to be torch.Tensor. Found ", v.type_name(),
             " instead (key '", k.to_string(), "').");
    sd.emplace_back(k.to_string(), v.to_tensor());
  }
  return sd;
}

std::string gib_text(uint64_t bytes) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.2f", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return gib;
}

std::string weakly_canonical(const std::string& p) {
  return fs::weakly_canonical(fs::absolute(p)).string();
}

// Removes a folder tree on scope exit unless released.
class DirGuard {
 public:
  explicit DirGuard(std::string path) : path_(std::move(path)) {}
  ~DirGuard() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

// Writes a whole state dict as safetensors or torch.save, tensor by tensor; `convert` maps
// (tune key, tensor) to (output key, tensor) one at a time so no converted copy is held.
template <class Convert>
int64_t write_shard(const fs::path& dir, const std::string& name, bool safetensors,
                    const std::vector<const NamedTensor*>& tensors, Convert&& convert) {
  const std::string path = (dir / name).string();
  int64_t bytes = 0;
  if (safetensors) {
    std::vector<TensorSpec> specs;
    for (const NamedTensor* nt : tensors) {
      const at::Tensor& t = nt->second;
      specs.push_back({convert.key(nt->first), t.scalar_type(), t.sizes().vec()});
    }
    SafetensorsWriter writer(path, specs);
    for (size_t i = 0; i < tensors.size(); ++i) {
      at::Tensor out = convert.tensor(tensors[i]->first, tensors[i]->second);
      bytes += out.numel() * static_cast<int64_t>(out.element_size());
      writer.write(specs[i].name, out);
    }
    writer.finish();
    crash_point("mid_weights");
  } else {
    TorchSaveWriter writer(path);
    PickleValue root = PickleValue::ordered_dict();
    for (const NamedTensor* nt : tensors) {
      at::Tensor out = convert.tensor(nt->first, nt->second);
      bytes += out.numel() * static_cast<int64_t>(out.element_size());
      // One storage per tensor: torch.save writes a view's whole storage, so a parameter
      // that views a larger buffer would otherwise drag the buffer into the file.
      const bool owns_storage = out.is_contiguous() && out.storage_offset() == 0 &&
                                out.storage().nbytes() == out.nbytes();
      root.set(PickleValue(convert.key(nt->first)),
               writer.write(owns_storage ? out : out.contiguous().clone()));
    }
    writer.finish(root);
    crash_point("mid_weights");
  }
  return bytes;
}

struct IdentityConvert {
  std::string key(const std::string& k) const { return k; }
  at::Tensor tensor(const std::string&, const at::Tensor& t) const { return t; }
};
struct MetaConvert {
  std::string key(const std::string& k) const { return llama2::tune_to_meta_key(k); }
  at::Tensor tensor(const std::string&, const at::Tensor& t) const { return t; }
};
struct HfConvert {
  llama2::HfShape shape;
  std::string key(const std::string& k) const { return llama2::tune_to_hf_key(k); }
  at::Tensor tensor(const std::string& k, const at::Tensor& t) const {
    return llama2::tune_to_hf_tensor(k, t, shape);
  }
};

}  // namespace

// ---- path helpers -------------------------------------------------------------------

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

namespace {

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

uint64_t side_files_bytes(const std::string& input_dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& [from, rel] : side_files(input_dir)) {
    const uintmax_t size = fs::file_size(from, ec);
    if (!ec) n += size;
  }
  return n;
}

}  // namespace

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

// ---- Checkpointer -------------------------------------------------------------------

Checkpointer::Checkpointer(const CheckpointerOptions& options, bool single_file)
    : options_(options) {
  // A {filename_format, max_filename} map counts as its 2 keys, as len() does in torchtune.
  const size_t n_files =
      options.checkpoint_files.formatted ? 2 : options.checkpoint_files.names.size();
  if (single_file)
    TT_CHECK(n_files == 1, "checkpointer.checkpoint_files",
             "Currently we only support reading from a single checkpoint file. Got ", n_files,
             " files instead.");
  TT_CHECK(!options.adapter_checkpoint, "checkpointer.adapter_checkpoint",
           "adapter checkpoints (LoRA) are not supported: torchtune_cpp runs full fine-tuning "
           "only; remove adapter_checkpoint or set it to null");
  should_load_recipe_state_ = options.should_load_recipe_state;
  if (options.resume_from_checkpoint) {
    log_info(
        "*resume_from_checkpoint is deprecated. Please use the 'should_load_recipe_state' instead");
    should_load_recipe_state_ = true;
  }
  check_model_type(options.model_type);
  checkpoint_dir_ = resolve_checkpoint_dir(options.checkpoint_dir);
  output_dir_ = options.output_dir;
  check_outdir_not_in_ckptdir(checkpoint_dir_, output_dir_);
  // Nothing is written to output_dir before the run has started (the recipe takes its lock,
  // then calls clear_interrupted_saves()), except that a resume must first put back what a
  // killed save left, to see the checkpoints as they were.
  if (should_load_recipe_state_) recover_interrupted_saves(output_dir_);
}

void Checkpointer::clear_interrupted_saves() {
  recover_interrupted_saves(output_dir_);
}

void Checkpointer::resolve_paths() {
  std::vector<std::string> names = options_.checkpoint_files.formatted
                                       ? formatted_checkpoint_files(options_.checkpoint_files)
                                       : options_.checkpoint_files.names;
  paths_.clear();
  if (!should_load_recipe_state_) {
    for (const auto& n : names) paths_.push_back(get_path(checkpoint_dir_, n));
    std::sort(paths_.begin(), paths_.end());
    return;
  }
  // Resuming a full fine-tune reads the weights back from output_dir. torchtune's
  // convention: checkpoint_files name them there (epoch_N/...), with the recipe state at
  // recipe_checkpoint or recipe_state/recipe_state.pt.
  bool listed = !names.empty();
  for (const auto& n : names) listed = listed && fs::is_regular_file(fs::path(output_dir_) / n);
  if (listed) {
    for (const auto& n : names) paths_.push_back(get_path(output_dir_, n));
    std::sort(paths_.begin(), paths_.end());
    resume_folder_ = fs::path(paths_.front()).parent_path().string();
    // A folder that carries its own recipe state is resumed with it: the mirror may belong
    // to a later checkpoint than the one the listed files come from.
    const fs::path own = fs::path(*resume_folder_) / kRecipeStateFile;
    fs::path p = options_.recipe_checkpoint ? fs::path(output_dir_) / *options_.recipe_checkpoint
                 : fs::exists(own)          ? own
                                            : fs::path(output_dir_) / kRecipeStateDir / kRecipeStateFile;
    TT_CHECK(fs::exists(p), p.string(),
             "If should_load_recipe_state is True, recipe_checkpoint file must be provided. (Not found: set "
             "checkpointer.recipe_checkpoint to the recipe_state.pt of that run, relative to output_dir.)");
    recipe_path_ = p.string();
  } else {
    TT_CHECK(!options_.recipe_checkpoint, "checkpointer.recipe_checkpoint",
             "is set, but checkpointer.checkpoint_files are not found under output_dir ", output_dir_,
             "; list the checkpoint's files relative to output_dir (epoch_N/...), or set recipe_checkpoint: "
             "null to resume from the latest checkpoint there");
    // Otherwise the latest complete checkpoint there: a folder with its own recipe state,
    // or torchtune v0.6's layout (the last epoch_N plus recipe_state/recipe_state.pt).
    std::vector<CheckpointFolder> found = list_checkpoints(output_dir_);
    const CheckpointFolder* latest = nullptr;
    for (const auto& f : found)
      if (f.resumable) latest = &f;
    fs::path mirror = fs::path(output_dir_) / kRecipeStateDir / kRecipeStateFile;
    if (latest != nullptr) {
      recipe_path_ = (fs::path(latest->path) / kRecipeStateFile).string();
    } else if (fs::exists(mirror)) {
      PickleValue st = load_torch_file(mirror.string());
      const PickleValue* run = st.is_dict() ? st.find("epochs_run") : nullptr;
      TT_CHECK(run != nullptr && run->is_int(), mirror.string(),
               "has no epochs_run; Checkpoint does not contain the required keys needed for "
               "updating recipe state. Are you sure you passed in the right recipe checkpoint?");
      for (const auto& f : found)
        if (f.name == str("epoch_", run->to_int() - 1)) latest = &f;
      recipe_path_ = mirror.string();
    }
    TT_CHECK(latest != nullptr, "resume_from_checkpoint",
             "nothing to resume from: output_dir ", output_dir_,
             " holds no complete intermediate checkpoint (an epoch_N or step_N folder with its "
             "recipe_state.pt), and checkpointer.checkpoint_files are not found there; check "
             "output_dir, or set resume_from_checkpoint=False to start afresh");
    resume_folder_ = latest->path;
    paths_ = checkpoint_weight_files(latest->path);
    log_info(str("Resuming from the latest checkpoint in output_dir: ", latest->path));
  }
  log_info("Loading the recipe state using: " + *recipe_path_);
}

std::optional<PickleValue> Checkpointer::load_recipe_state() const {
  if (!recipe_path_) return std::nullopt;
  PickleValue state = load_torch_file(*recipe_path_);
  TT_CHECK(state.is_dict(), *recipe_path_, "a recipe state must be a dict, found a ",
           state.type_name());
  return state;
}

Checkpointer::~Checkpointer() {
  try {
    abandon_save();
    wait_post_save();
  } catch (...) {
  }
}

void Checkpointer::save_checkpoint(const StateDict& model, int epoch, bool intermediate,
                                   const PickleValue* recipe_state) {
  TT_CHECK(!intermediate || (recipe_state != nullptr && recipe_state->is_dict()), "save_checkpoint",
           "an intermediate checkpoint needs the recipe state dict");
  save_folder(model, str("epoch_", epoch), intermediate ? recipe_state : nullptr);
  if (!intermediate) log_info("Saving final epoch checkpoint.");
}

void Checkpointer::save_folder(const StateDict& model, const std::string& folder,
                               const PickleValue* recipe_state) {
  uint64_t weight_bytes = 0;
  for (const auto& [key, t] : model)
    weight_bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
  save_folder_with(folder, recipe_state, weight_bytes,
                   [&](const std::string& staging) { write_weights(model, staging); });
}

void Checkpointer::save_folder_with(const std::string& folder, const PickleValue* recipe_state,
                                    uint64_t weight_bytes, const WriteFn& write) {
  const std::string staging = begin_save(folder, recipe_state, weight_bytes);
  try {
    write(staging);
  } catch (const NoSpaceError& e) {
    fail_no_space(str("writing ", e.where()));
  } catch (...) {
    abandon_save();
    throw;
  }
  finish_save();
}

std::string Checkpointer::begin_save(const std::string& folder, const PickleValue* recipe_state,
                                     uint64_t weight_bytes) {
  abandon_save();
  TT_CHECK(recipe_state == nullptr || recipe_state->is_dict(), "save_checkpoint",
           "the recipe state must be a dict");
  PendingSave p;
  p.folder = folder;
  if (recipe_state != nullptr) {
    // The model and adapter never go into the recipe state (torchtune pops them).
    p.recipe_state = PickleValue::dict();
    for (const auto& [k, v] : recipe_state->dict_items())
      if (!(k.is_string() && (k.to_string() == "model" || k.to_string() == "adapter" ||
                              k.to_string() == "adapter_config")))
        p.recipe_state->set(k, v);
  }
  // What the save writes: the weights, the side files, the recipe state twice (the folder's
  // own and the mirror), and headers, indexes and zip records.
  const uint64_t state_bytes = p.recipe_state ? tensor_bytes(*p.recipe_state) : 0;
  p.needed =
      weight_bytes + side_files_bytes(checkpoint_dir_) + 2 * state_bytes + (uint64_t{1} << 20);
  const fs::path out(output_dir_);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw_write_error(output_dir_, "cannot create the output directory", ec.value());
  p.staging = (out / str(".", folder, ".partial-", ::getpid())).string();  // hidden, per process
  pending_ = std::move(p);
  const uint64_t free = free_bytes(output_dir_);
  if (free < pending_->needed) fail_no_space("");  // before a byte is written
  fs::remove_all(pending_->staging, ec);
  fs::create_directories(pending_->staging, ec);
  if (ec) {
    const std::string staging = pending_->staging;
    if (is_no_space(ec.value())) fail_no_space(staging + ": cannot create the folder");
    abandon_save();
    throw_write_error(staging, "cannot create the folder", ec.value());
  }
  return pending_->staging;
}

void Checkpointer::abandon_save() {
  saved_files_.clear();
  if (!pending_) return;
  std::error_code ec;
  fs::remove_all(pending_->staging, ec);
  pending_.reset();
}

void Checkpointer::fail_no_space(const std::string& detail) {
  const std::string folder = pending_ ? pending_->folder : std::string("checkpoint");
  const uint64_t needed = pending_ ? pending_->needed : 0;
  abandon_save();  // frees what this save took before measuring what is left
  throw Error((fs::path(output_dir_) / folder).string(),
              str("no space left on ", output_dir_, ": the save needed about ",
                  format_bytes(needed), ", ", format_bytes(free_bytes(output_dir_)),
                  " free; free space or change output_dir. Nothing of ", folder,
                  " was kept; earlier checkpoints are intact",
                  detail.empty() ? std::string() : str(" (", detail, ")")));
}

void Checkpointer::finish_save() {
  TT_CHECK(pending_.has_value(), "save_checkpoint", "internal: finish_save() without begin_save()");
  const fs::path out(output_dir_);
  const fs::path staging(pending_->staging);
  const fs::path target = out / pending_->folder;
  try {
    copy_files(checkpoint_dir_, staging.string());
    if (pending_->recipe_state) {
      // The save time orders checkpoints (list_checkpoints): a newer save wins even at a
      // lower step.
      pending_->recipe_state->set(kSavedAtKey, next_save_time());
      save_torch_file((staging / kRecipeStateFile).string(), *pending_->recipe_state);
    }
    sync_tree(staging);
    crash_point("before_rename");
    place_folder(staging, target);
  } catch (const NoSpaceError& e) {
    fail_no_space(str("writing ", e.where()));
  } catch (...) {
    abandon_save();
    throw;
  }
  const bool intermediate = pending_->recipe_state.has_value();
  const uint64_t needed = pending_->needed;
  pending_.reset();
  crash_point("after_rename");
  // Said only now that the folder is in place under its name.
  for (const auto& [name, bytes] : saved_files_)
    log_info(str("Model checkpoint of size ", gib_text(bytes), " GiB saved to ",
                 (target / name).string()));
  saved_files_.clear();
  if (intermediate) {
    // torchtune's location, for tools that look there; the folder's own copy is the record.
    fs::path dir = out / kRecipeStateDir;
    fs::path mirror = dir / kRecipeStateFile;
    fs::path tmp = dir / str(".", kRecipeStateFile, ".tmp-", ::getpid());
    std::error_code ec;
    try {
      fs::create_directories(dir, ec);
      if (ec) throw_write_error(dir.string(), "cannot create the folder", ec.value());
      copy_file_reporting(target / kRecipeStateFile, tmp, "mirror");
      sync_tree(tmp);
      fs::rename(tmp, mirror, ec);
      if (ec) throw_write_error(mirror.string(), "cannot move the new copy into place", ec.value());
    } catch (const Error& e) {
      fs::remove(tmp, ec);
      const bool full = dynamic_cast<const NoSpaceError*>(&e) != nullptr;
      throw Error(mirror.string(),
                  str(full ? str("no space left on ", output_dir_,
                                 " for the recipe state mirror: the save needed about ",
                                 format_bytes(needed), ", ", format_bytes(free_bytes(output_dir_)),
                                 " free; free space or change output_dir")
                           : str("cannot update the recipe state mirror: ", e.message()),
                      ". The checkpoint itself, ", target.string(),
                      ", is complete and resumable (resume_from_checkpoint=True takes it)"));
    }
    sync_tree(dir, /*recursive=*/false);
    log_info(str("Recipe checkpoint of size ", gib_text(fs::file_size(mirror)), " GiB saved to ",
                 mirror.string()));
    if (options_.keep_last_n_checkpoints) {
      wait_post_save();  // a hook may still be reading a folder that pruning would remove
      prune();
    }
  }
  start_post_save(target.string());
}

void Checkpointer::note_saved(const std::string& name, int64_t bytes) {
  saved_files_.emplace_back(name, bytes);
}

void Checkpointer::prune() {
  if (!options_.keep_last_n_checkpoints) return;
  std::vector<CheckpointFolder> resumable;
  for (CheckpointFolder& f : list_checkpoints(output_dir_))
    if (f.resumable) resumable.push_back(std::move(f));
  const size_t keep = static_cast<size_t>(*options_.keep_last_n_checkpoints);
  for (size_t i = 0; i + keep < resumable.size(); ++i) {
    // Hidden first, so a crash mid-removal never leaves a half folder that looks complete.
    fs::path doomed = fs::path(output_dir_) / str(".", resumable[i].name, ".removing-", ::getpid());
    std::error_code ec;
    fs::rename(resumable[i].path, doomed, ec);
    crash_point("mid_prune");
    if (!ec) fs::remove_all(doomed, ec);
    if (ec)
      log_info(str("could not remove old checkpoint ", resumable[i].path, ": ", ec.message()));
    else
      log_info(str("Removed old checkpoint ", resumable[i].path, " (keep_last_n_checkpoints=", keep, ")"));
  }
}

void Checkpointer::start_post_save(const std::string& folder) {
  if (!options_.post_save_command || options_.post_save_command->empty()) return;
  wait_post_save();  // one hook at a time; the checkpoint itself is already complete
  // sh -c '<command> "$1"' post_save_command <folder>: the folder arrives as one argument,
  // whatever characters its path holds.
  const std::string script = *options_.post_save_command + " \"$1\"";
  std::vector<std::string> args = {"/bin/sh", "-c", script, "post_save_command", folder};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // In its own process group, so a Ctrl-C meant for training does not cut an upload short;
  // the folder is also in TORCHTUNE_CHECKPOINT_DIR for commands that cannot take it last.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("TORCHTUNE_CHECKPOINT_DIR=" + folder);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    log_info(str("WARNING: post_save_command could not start (", std::strerror(rc),
                 "); the checkpoint ", folder, " is unaffected"));
    return;
  }
  log_info(str("post_save_command started for ", folder));
  post_save_pid_ = pid;
  post_save_folder_ = folder;
}

void Checkpointer::wait_post_save() {
  if (post_save_pid_ < 0) return;
  int status = 0;
  pid_t pid = post_save_pid_;
  post_save_pid_ = -1;
  pid_t r = -1;
  while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) {
    log_info(str("WARNING: could not wait for post_save_command on ", post_save_folder_, " (",
                 std::strerror(errno), "); its outcome is unknown"));
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  log_info(str("WARNING: post_save_command failed for ", post_save_folder_, " (",
               WIFEXITED(status) ? str("exit status ", WEXITSTATUS(status))
                                 : str("signal ", WTERMSIG(status)),
               "); training goes on and the checkpoint is unaffected"));
}

// ---- finding checkpoints --------------------------------------------------------------

const char* const kShardedCheckpointIndex = "sharded_checkpoint.json";

bool is_sharded_checkpoint(const std::string& folder) {
  return fs::is_regular_file(fs::path(folder) / kShardedCheckpointIndex);
}

namespace {

nlohmann::json read_index_json(const fs::path& p) {
  std::ifstream in(p);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    TT_CHECK(false, p.string(), "is not valid JSON: ", e.what());
  }
  return {};
}

}  // namespace

std::vector<std::string> checkpoint_weight_files(const std::string& folder) {
  std::vector<std::string> files;
  if (is_sharded_checkpoint(folder)) {
    const fs::path p = fs::path(folder) / kShardedCheckpointIndex;
    const nlohmann::json j = read_index_json(p);
    TT_CHECK(j.is_object() && j.contains("files") && j["files"].is_array(), p.string(),
             "has no \"files\" list; it is not a sharded checkpoint index");
    for (const auto& f : j.at("files")) {
      TT_CHECK(f.is_string() && fs::is_regular_file(fs::path(folder) / f.get<std::string>()), p.string(),
               "lists ", f.dump(), ", which is missing: the checkpoint is incomplete");
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
    if (!e.is_regular_file() || name == kRecipeStateFile || name.empty() || name[0] == '.') continue;
    for (const char* ext : {".safetensors", ".bin", ".pt", ".pth"})
      if (ends_with(name, ext)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<CheckpointFolder> list_checkpoints(const std::string& output_dir) {
  std::vector<CheckpointFolder> out;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool epoch = name.rfind("epoch_", 0) == 0, step = name.rfind("step_", 0) == 0;
    if (!e.is_directory() || !(epoch || step)) continue;
    const std::string digits = name.substr(epoch ? 6 : 5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    CheckpointFolder f{e.path().string(), name};
    try {
      if (checkpoint_weight_files(f.path).empty()) {
        log_info(str("WARNING: skipping ", f.path, ": it holds no weight files"));
        continue;
      }
    } catch (const Error& err) {
      // An index naming missing files: incomplete (e.g. an interrupted foreign save).
      log_info(str("WARNING: skipping ", f.path, ": ", err.what()));
      continue;
    }
    fs::path state = e.path() / kRecipeStateFile;
    if (fs::is_regular_file(state)) {
      try {
        PickleValue v = load_torch_file(state.string());
        f.resumable = v.is_dict();
        if (const PickleValue* g = v.find("global_step"); g && g->is_int()) f.global_step = g->to_int();
        if (const PickleValue* n = v.find("epochs_run"); n && n->is_int()) f.epochs_run = n->to_int();
        if (const PickleValue* t = v.find(kSavedAtKey); t && t->is_int()) f.saved_at_ns = t->to_int();
      } catch (const Error& err) {
        f.resumable = false;
        log_info(str("WARNING: ", state.string(), " cannot be read (", err.what(),
                     "); that folder is not taken for resuming"));
      }
    }
    out.push_back(std::move(f));
  }
  auto number = [](const CheckpointFolder& f) {
    return std::stoll(f.name.substr(f.name.find('_') + 1));
  };
  std::sort(out.begin(), out.end(), [&](const CheckpointFolder& a, const CheckpointFolder& b) {
    if (a.resumable != b.resumable) return !a.resumable;
    if (a.resumable && a.saved_at_ns != b.saved_at_ns) return a.saved_at_ns < b.saved_at_ns;
    if (a.resumable && a.global_step != b.global_step) return a.global_step < b.global_step;
    if (a.resumable && a.epochs_run != b.epochs_run) return a.epochs_run < b.epochs_run;
    if (a.name[0] != b.name[0]) return a.name[0] == 's';  // step_N before epoch_N (same position)
    return number(a) < number(b);
  });
  return out;
}

std::string resolve_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return dir;
  const size_t slash = dir.find('/');
  const bool hub_id = !dir.empty() && dir[0] != '/' && dir[0] != '.' && dir[0] != '~' &&
                      slash != std::string::npos && slash > 0 && dir.find('/', slash + 1) == std::string::npos &&
                      slash + 1 < dir.size();
  TT_CHECK(hub_id, "checkpointer.checkpoint_dir", dir,
           " is not a valid directory. Point checkpoint_dir at the folder holding the checkpoint");
  fs::path cache;
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) {
    cache = c;
  } else if (const char* h = std::getenv("HF_HOME"); h && *h) {
    cache = fs::path(h) / "hub";
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    cache = fs::path(x) / "huggingface" / "hub";
  } else {
    const char* home = std::getenv("HOME");
    cache = fs::path(home ? home : "/") / ".cache" / "huggingface" / "hub";
  }
  const std::string repo_folder = "models--" + dir.substr(0, slash) + "--" + dir.substr(slash + 1);
  const fs::path repo = cache / repo_folder;
  const std::string hint = str("download it first (e.g. `huggingface-cli download ", dir,
                               " --local-dir <folder>`) and set checkpoint_dir to that folder");
  TT_CHECK(fs::is_directory(repo / "snapshots", ec), "checkpointer.checkpoint_dir", dir,
           " is neither a directory nor a model in the local Hugging Face cache (looked for ",
           repo.string(), "); ", hint);
  std::string revision;
  if (std::ifstream ref(repo / "refs" / "main"); ref.good()) std::getline(ref, revision);
  fs::path snapshot;
  if (!revision.empty() && fs::is_directory(repo / "snapshots" / revision, ec)) {
    snapshot = repo / "snapshots" / revision;
  } else {
    std::vector<fs::path> snaps;
    for (const auto& e : fs::directory_iterator(repo / "snapshots", ec))
      if (e.is_directory()) snaps.push_back(e.path());
    TT_CHECK(snaps.size() == 1, "checkpointer.checkpoint_dir", repo.string(), " has ",
             snaps.size(), " snapshots and no refs/main to choose one; set checkpoint_dir to one of ",
             (repo / "snapshots").string(), "/<revision>");
    snapshot = snaps[0];
  }
  log_info(str("Resolved checkpoint_dir ", dir, " to ", snapshot.string(), " (local Hugging Face cache)"));
  return snapshot.string();
}

// ---- HF -----------------------------------------------------------------------------

HfModelConfig read_hf_model_config(const std::string& path) {
  std::ifstream in(path);
  TT_CHECK(in.good(), path,
           "cannot read config.json; FullModelHFCheckpointer needs the Hugging "
           "Face config.json next to the weights in checkpoint_dir");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    TT_CHECK(false, path, "is not valid JSON: ", e.what());
  }
  TT_CHECK(j.is_object(), path, "config.json must be a JSON object");
  auto get_int = [&](const char* key, bool required) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      TT_CHECK(!required, path, "config.json has no '", key,
               "'; it is needed to convert the weights");
      return std::nullopt;
    }
    TT_CHECK(it->is_number_integer(), path, "config.json's '", key, "' must be an integer");
    return it->get<int64_t>();
  };
  HfModelConfig c;
  c.num_attention_heads = *get_int("num_attention_heads", true);
  c.num_key_value_heads = *get_int("num_key_value_heads", true);
  c.hidden_size = *get_int("hidden_size", true);
  c.head_dim = get_int("head_dim", false);
  auto rp = j.find("rope_parameters");
  if (rp != j.end() && rp->is_object() && rp->contains("rope_theta") &&
      (*rp)["rope_theta"].is_number())
    c.rope_theta = (*rp)["rope_theta"].get<double>();
  else if (j.contains("rope_theta") && j["rope_theta"].is_number())
    c.rope_theta = j["rope_theta"].get<double>();
  TT_CHECK(c.num_attention_heads > 0 && c.num_key_value_heads > 0 && c.hidden_size > 0, path,
           "num_attention_heads, num_key_value_heads and hidden_size must be positive");
  return c;
}

FullModelHFCheckpointer::FullModelHFCheckpointer(const CheckpointerOptions& options)
    : Checkpointer(options, /*single_file=*/false) {
  config_ = read_hf_model_config((fs::path(checkpoint_dir_) / "config.json").string());
  resolve_paths();
}

CheckpointDict FullModelHFCheckpointer::load_checkpoint() {
  weight_map_.clear();
  weight_index_.clear();
  StateDict merged;
  for (size_t i = 0; i < paths_.size(); ++i) {
    std::string idx = zfill(std::to_string(i + 1), 4);
    for (auto& [k, t] : load_weights_file(paths_[i])) {
      if (weight_index_.count(k)) {
        // A later file wins, as dict.update; keep one entry in the map.
        weight_index_[k] = idx;
        for (auto& e : weight_map_)
          if (e.first == k) e.second = idx;
        for (auto& e : merged)
          if (e.first == k) e.second = t;
        continue;
      }
      weight_map_.emplace_back(k, idx);
      weight_index_[k] = idx;
      merged.emplace_back(k, std::move(t));
    }
  }
  CheckpointDict out;
  out.model = llama2::hf_to_tune(merged, config_.shape());
  out.recipe_state = load_recipe_state();
  return out;
}

void FullModelHFCheckpointer::set_output_layout(const OutputLayout& layout) {
  weight_map_ = layout;
  weight_index_.clear();
  for (const auto& [key, idx] : layout) weight_index_[key] = idx;
}

void FullModelHFCheckpointer::write_weights(const StateDict& model, const std::string& out_dir) {
  TT_CHECK(!weight_map_.empty(), "FullModelHFCheckpointer",
           "save_checkpoint needs the shard layout recorded by load_checkpoint(); call it first");
  HfConvert convert{config_.shape()};
  // Buckets by input file, in order of first appearance (torchtune's split_state_dicts).
  std::vector<std::pair<std::string, std::vector<const NamedTensor*>>> buckets;
  for (const NamedTensor& nt : model) {
    std::string hf_key = convert.key(nt.first);
    auto it = weight_index_.find(hf_key);
    TT_CHECK(it != weight_index_.end(), nt.first, "the key '", hf_key,
             "' was not in the loaded checkpoint, so it has no shard to go "
             "to; save only the keys that were loaded");
    auto b = std::find_if(buckets.begin(), buckets.end(),
                          [&](const auto& e) { return e.first == it->second; });
    if (b == buckets.end()) {
      buckets.emplace_back(it->second, std::vector<const NamedTensor*>{});
      b = std::prev(buckets.end());
    }
    b->second.push_back(&nt);
  }
  const bool safe = options_.safe_serialization;
  const std::string ext = safe ? ".safetensors" : ".bin";
  std::map<std::string, std::string> shard_names;
  std::string num_shards = zfill(std::to_string(buckets.size()), 5);
  for (const auto& [idx, _] : buckets)
    shard_names[idx] = "model-" + zfill(idx, 5) + "-of-" + num_shards;
  {
    const fs::path dir(out_dir);
    int64_t total_size = 0;
    for (const auto& [idx, tensors] : buckets) {
      const int64_t bytes = write_shard(dir, shard_names[idx] + ext, safe, tensors, convert);
      note_saved(shard_names[idx] + ext, bytes);
      total_size += bytes;
    }
    nlohmann::ordered_json index;
    index["metadata"]["total_size"] = total_size;
    index["weight_map"] = nlohmann::ordered_json::object();
    for (const auto& [key, idx] : weight_map_) {
      auto name = shard_names.find(idx);
      // A key that never reaches a shard (e.g. inv_freq) keeps its input file's new name,
      // as in torchtune; an input file with nothing saved has none.
      TT_CHECK(name != shard_names.end(), key, "no tensor of input file ", idx,
               " was saved, so its keys cannot be indexed");
      index["weight_map"][key] = name->second + ext;
    }
    AtomicFile f((dir / (safe ? kSafetensorsIndex : kTorchIndex)).string());
    std::string text = index.dump(2);
    f.append(text.data(), text.size());
    f.commit();
  }
}

// ---- Meta and torchtune -------------------------------------------------------------

FullModelMetaCheckpointer::FullModelMetaCheckpointer(const CheckpointerOptions& options)
    : Checkpointer(options, /*single_file=*/true) {
  resolve_paths();
}

CheckpointDict FullModelMetaCheckpointer::load_checkpoint() {
  CheckpointDict out;
  out.model = llama2::meta_to_tune(load_weights_file(paths_.at(0)));
  out.recipe_state = load_recipe_state();
  return out;
}

void FullModelMetaCheckpointer::write_weights(const StateDict& model, const std::string& dir) {
  std::vector<const NamedTensor*> tensors;
  for (const auto& nt : model) tensors.push_back(&nt);
  note_saved("model-00001-of-00001.bin",
             write_shard(fs::path(dir), "model-00001-of-00001.bin", false, tensors, MetaConvert{}));
}

FullModelTorchTuneCheckpointer::FullModelTorchTuneCheckpointer(const CheckpointerOptions& options)
    : Checkpointer(options, /*single_file=*/true) {
  resolve_paths();
}

CheckpointDict FullModelTorchTuneCheckpointer::load_checkpoint() {
  CheckpointDict out;
  out.model = load_weights_file(paths_.at(0));
  out.recipe_state = load_recipe_state();
  return out;
}

void FullModelTorchTuneCheckpointer::write_weights(const StateDict& model, const std::string& dir) {
  std::vector<const NamedTensor*> tensors;
  for (const auto& nt : model) tensors.push_back(&nt);
  note_saved("model-00001-of-00001.bin", write_shard(fs::path(dir), "model-00001-of-00001.bin",
                                                     false, tensors, IdentityConvert{}));
}

// ---- registration -------------------------------------------------------------------

void register_checkpointers() {
  using namespace config;
  auto common = [](bool hf) {
    std::vector<ArgSpec> args = {
        arg("checkpoint_dir", ArgType::kString, "folder holding the input checkpoint"),
        arg("checkpoint_files", ArgType::kListOrMap,
            "file names, or {filename_format, max_filename}"),
        arg("model_type", ArgType::kString, "torchtune ModelType name, e.g. LLAMA2",
            satisfies([](const Node& v) { return model_type_problem(v.text); })),
        arg("output_dir", ArgType::kString, "where epoch_N/ and recipe_state/ are written"),
        arg("adapter_checkpoint", ArgType::kString, "null", "LoRA only: not supported"),
        arg("recipe_checkpoint", ArgType::kString, "null",
            "recipe state file relative to output_dir (default recipe_state/recipe_state.pt)"),
        arg("resume_from_checkpoint", ArgType::kBool, "False",
            "deprecated: use should_load_recipe_state")};
    if (hf)
      args.push_back(
          arg("safe_serialization", ArgType::kBool, "True", "write .safetensors (else .bin)"));
    args.push_back(arg("should_load_recipe_state", ArgType::kBool, "False",
                       "passed by the recipe from resume_from_checkpoint"));
    args.push_back(arg("keep_last_n_checkpoints", ArgType::kInt, "null",
                       "keep only the newest N intermediate checkpoints (null keeps all)",
                       with_hint(at_least(1), "null keeps every checkpoint")));
    args.push_back(arg("post_save_command", ArgType::kString, "null",
                       "shell command run after each save with the folder path appended"));
    return args;
  };
  auto options_from = [](const Kwargs& kw) {
    CheckpointerOptions o;
    o.checkpoint_dir = kw.get_string("checkpoint_dir");
    const Node& files = kw.node("checkpoint_files");
    if (files.is_map()) {
      o.checkpoint_files.formatted = true;
      if (const Node* f = files.find("filename_format"))
        o.checkpoint_files.filename_format = f->text;
      if (const Node* m = files.find("max_filename")) {
        o.checkpoint_files.max_filename = m->text;
        o.checkpoint_files.max_filename_is_string = m->scalar_type() == config::ScalarType::kString;
      }
    } else {
      o.checkpoint_files.names = kw.get_string_list("checkpoint_files");
    }
    o.model_type = kw.get_string("model_type");
    o.output_dir = kw.get_string("output_dir");
    o.adapter_checkpoint = kw.get_optional_string("adapter_checkpoint");
    o.recipe_checkpoint = kw.get_optional_string("recipe_checkpoint");
    o.resume_from_checkpoint = kw.get_bool("resume_from_checkpoint");
    if (kw.spec().find_arg("safe_serialization"))
      o.safe_serialization = kw.get_bool("safe_serialization");
    o.should_load_recipe_state = kw.get_bool("should_load_recipe_state");
    o.keep_last_n_checkpoints = kw.get_optional_int("keep_last_n_checkpoints");
    TT_CHECK(!o.keep_last_n_checkpoints || *o.keep_last_n_checkpoints >= 1,
             kw.where("keep_last_n_checkpoints"), "must be at least 1 (or null to keep every checkpoint)");
    o.post_save_command = kw.get_optional_string("post_save_command");
    return o;
  };
  register_component<CheckpointerPtr>(
      ComponentSpec{"torchtune.training.FullModelHFCheckpointer",
                    "checkpointer",
                    "Hugging Face checkpoints (sharded safetensors or .bin)",
                    {},
                    common(true),
                    {"torchtune.utils.FullModelHFCheckpointer"}},
      [options_from](const Kwargs& kw) -> CheckpointerPtr {
        return std::make_shared<FullModelHFCheckpointer>(options_from(kw));
      });
  register_component<CheckpointerPtr>(
      ComponentSpec{"torchtune.training.FullModelMetaCheckpointer",
                    "checkpointer",
                    "Meta consolidated.00.pth checkpoints",
                    {},
                    common(false),
                    {"torchtune.utils.FullModelMetaCheckpointer"}},
      [options_from](const Kwargs& kw) -> CheckpointerPtr {
        return std::make_shared<FullModelMetaCheckpointer>(options_from(kw));
      });
  register_component<CheckpointerPtr>(
      ComponentSpec{"torchtune.training.FullModelTorchTuneCheckpointer",
                    "checkpointer",
                    "torchtune-keyed single-file checkpoints",
                    {},
                    common(false),
                    {"torchtune.utils.FullModelTorchTuneCheckpointer"}},
      [options_from](const Kwargs& kw) -> CheckpointerPtr {
        return std::make_shared<FullModelTorchTuneCheckpointer>(options_from(kw));
      });
}

}  // namespace tt
