// checkpoint_dir given as a Hugging Face hub id, looked up in the local cache (never
// downloaded).
#pragma once

#include <string>

namespace tt::checkpointing {

// checkpoint_dir as given, or, when it is not a folder but looks like a hub id ("org/name"),
// that model's snapshot in the local Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or
// ~/.cache/huggingface/hub); refs/main picks the revision. Never downloads.
std::string resolve_checkpoint_dir(const std::string& checkpoint_dir);

}  // namespace tt::checkpointing
