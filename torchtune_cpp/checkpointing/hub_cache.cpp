// checkpoint_dir given as a hub id, found in the local Hugging Face cache; see hub_cache.h.
#include "torchtune_cpp/checkpointing/hub_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace fs = std::filesystem;
using checkpoint_internal::log_info;

std::string resolve_checkpoint_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return dir;
  const size_t slash = dir.find('/');
  const bool hub_id = !dir.empty() && dir[0] != '/' && dir[0] != '.' && dir[0] != '~' &&
                      slash != std::string::npos && slash > 0 &&
                      dir.find('/', slash + 1) == std::string::npos && slash + 1 < dir.size();
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
    TT_CHECK(snaps.size() == 1, "checkpointer.checkpoint_dir", repo.string(), " has ", snaps.size(),
             " snapshots and no refs/main to choose one; set checkpoint_dir to one of ",
             (repo / "snapshots").string(), "/<revision>");
    snapshot = snaps[0];
  }
  log_info(str("Resolved checkpoint_dir ", dir, " to ", snapshot.string(),
               " (local Hugging Face cache)"));
  return snapshot.string();
}

}  // namespace tt::checkpointing
