// The Checkpointer base (arguments, input paths, resuming) and the three full-model
// checkpointers' formats, with their registration; see checkpointer.h. Saving a folder is
// checkpoint_folder.cpp.
#include "torchtune_cpp/checkpointing/checkpointer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/fault_injection.h"

namespace tt::checkpointing {

namespace fs = std::filesystem;
using namespace checkpoint_internal;

namespace {

// "mid_weights": a crash point after each weight file (checkpoint_folder.cpp lists them all).
using fault::crash_point;

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
    return str("'", model_type,
               "' is not a torchtune ModelType; use the enum name, one of: ", names);
  }
  if (std::find(ours.begin(), ours.end(), model_type) == ours.end())
    return str("model_type ", model_type,
               " is not supported by torchtune_cpp; its checkpointers convert LLAMA2 (and LLAMA3 / "
               "MISTRAL, whose "
               "Hugging Face keys and q/k permutation are Llama2's) checkpoints");
  return std::nullopt;
}

void check_model_type(const std::string& model_type) {
  auto problem = model_type_problem(model_type);
  TT_CHECK(!problem, "checkpointer.model_type", problem.value_or(""));
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

// ---- Checkpointer -------------------------------------------------------------------

Checkpointer::Checkpointer(const CheckpointerOptions& options, bool single_file)
    : options_(options), post_save_(options.post_save_command) {
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
  if (should_load_recipe_state_) clear_interrupted_saves();
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
             "If should_load_recipe_state is True, recipe_checkpoint file must be provided. (Not "
             "found: set "
             "checkpointer.recipe_checkpoint to the recipe_state.pt of that run, relative to "
             "output_dir.)");
    recipe_path_ = p.string();
  } else {
    TT_CHECK(!options_.recipe_checkpoint, "checkpointer.recipe_checkpoint",
             "is set, but checkpointer.checkpoint_files are not found under output_dir ",
             output_dir_,
             "; list the checkpoint's files relative to output_dir (epoch_N/...), or set "
             "recipe_checkpoint: "
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
    TT_CHECK(latest != nullptr, "resume_from_checkpoint", "nothing to resume from: output_dir ",
             output_dir_,
             " holds no complete intermediate checkpoint (an epoch_N or step_N folder with its "
             "recipe_state.pt), and checkpointer.checkpoint_files are not found there; check "
             "output_dir, or set resume_from_checkpoint=False to start afresh");
    resume_folder_ = latest->path;
    paths_ = checkpoint_weight_files(latest->path);
    log_info(str("Resuming from the latest checkpoint in output_dir: ", latest->path));
  }
  log_info("Loading the recipe state using: " + *recipe_path_);
}

bool Checkpointer::resuming_shards() const {
  return should_load_recipe_state_ && resume_folder_ && is_sharded_checkpoint(*resume_folder_);
}

CheckpointDict Checkpointer::load_checkpoint() {
  if (!resuming_shards()) return load_full_checkpoint();
  CheckpointDict out;
  out.recipe_state = load_recipe_state();
  out.sharded = true;
  set_output_layout(read_sharded_output_layout(*resume_folder_));
  return out;
}

NamedOptimizerState Checkpointer::read_shards(const ModelShards& model,
                                              const PickleValue& group) const {
  TT_CHECK(resuming_shards(), "Checkpointer",
           "read_shards() needs a sharded checkpoint being resumed");
  return read_sharded_checkpoint(model, *resume_folder_, group);
}

void Checkpointer::write_rank_shard(const ModelShards& model, const NamedOptimizerState& optimizer,
                                    const std::string& staging_dir) const {
  write_sharded_checkpoint(model, optimizer, output_layout(), staging_dir);
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

void Checkpointer::wait_post_save() {
  post_save_.wait();
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

CheckpointDict FullModelHFCheckpointer::load_full_checkpoint() {
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

CheckpointDict FullModelMetaCheckpointer::load_full_checkpoint() {
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

CheckpointDict FullModelTorchTuneCheckpointer::load_full_checkpoint() {
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
             kw.where("keep_last_n_checkpoints"),
             "must be at least 1 (or null to keep every checkpoint)");
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

}  // namespace tt::checkpointing
