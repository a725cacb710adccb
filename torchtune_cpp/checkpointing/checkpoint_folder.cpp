// Placing checkpoint folders and recovering from interrupted saves: the Checkpointer's staged
// save (begin_save / finish_save / abandon_save and the save_* entry points on them), the
// free-space check, pruning (keep_last_n_checkpoints), clearing what killed saves left, and
// list_checkpoints(); see checkpoint_folder.h and checkpointer.h.
#include "torchtune_cpp/checkpointing/checkpoint_folder.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/disk_space.h"
#include "torchtune_cpp/utils/fault_injection.h"

namespace tt::checkpointing {

namespace fs = std::filesystem;
using namespace checkpoint_internal;

namespace {

// Crash points of a save (TORCHTUNE_CPP_CRASH_AT, utils/fault_injection.h): "mid_weights"
// (after each weight file), "before_rename" (folder complete, not yet in place),
// "after_exchange" (replacing an existing folder: new one in place, old one not yet removed),
// "after_rename" (before the recipe-state mirror), "mid_prune" (an old checkpoint hidden, not
// yet removed). Full-disk points (TORCHTUNE_CPP_FAIL_AT=enospc:<point>): "weights",
// "recipe_state" and "index" (the writers), "side_files" and "mirror" (copy_file_reporting).
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
      for (const auto& e : fs::recursive_directory_iterator(path, ec))
        sync_one(e.path(), e.is_directory());
    sync_one(path, true);
  } else {
    sync_one(path, false);
  }
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
      TT_CHECK(false, target.string(),
               "cannot move the finished checkpoint into place: ", ec.message(),
               "; the previous folder was kept");
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(staging, target, ec);
    TT_CHECK(!ec, target.string(),
             "cannot move the finished checkpoint into place: ", ec.message());
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

std::string gib_text(uint64_t bytes) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.2f", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return gib;
}

}  // namespace

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
        if (const PickleValue* g = v.find("global_step"); g && g->is_int())
          f.global_step = g->to_int();
        if (const PickleValue* n = v.find("epochs_run"); n && n->is_int())
          f.epochs_run = n->to_int();
        if (const PickleValue* t = v.find(kSavedAtKey); t && t->is_int())
          f.saved_at_ns = t->to_int();
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

// ---- the Checkpointer's save -------------------------------------------------------------

void Checkpointer::clear_interrupted_saves() {
  recover_interrupted_saves(output_dir_);
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
  const std::string staging = begin_save(folder, recipe_state, weight_bytes);
  try {
    write_weights(model, staging);
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
      weight_bytes + copied_files_bytes(checkpoint_dir_) + 2 * state_bytes + (uint64_t{1} << 20);
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
  post_save_.start(target.string());
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
      log_info(str("Removed old checkpoint ", resumable[i].path, " (keep_last_n_checkpoints=", keep,
                   ")"));
  }
}

}  // namespace tt::checkpointing
