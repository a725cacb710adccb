// SentencePieceBaseTokenizer over libsentencepiece, following torchtune v0.6.1's
// modules/transforms/tokenizers/_sentencepiece.py line by line.
#include "torchtune_cpp/modules/tokenizers/sentencepiece.h"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {

// torchtune's WHITESPACE_CHARS, and the text it prepends to trim the dummy-prefix space.
const char* const kWhitespaceChars[] = {" ", "\n", "\t", "\r", "\v"};
const char kTrimPrefix[] = "\n";

}  // namespace

SentencePieceBaseTokenizer::SentencePieceBaseTokenizer(const std::string& path)
    : path_(path), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  std::error_code ec;
  TT_CHECK(std::filesystem::is_regular_file(path, ec), path,
           "no SentencePiece tokenizer model here; point tokenizer.path at the model's "
           "tokenizer.model file (for Llama2, the one downloaded with the checkpoint)");
  const auto status = processor_->Load(path);
  TT_CHECK(status.ok(), path, "cannot load this file as a SentencePiece model (", status.ToString(),
           "); tokenizer.path must be a SentencePiece tokenizer.model, not a Hugging Face "
           "tokenizer.json or a checkpoint file");
  vocab_size_ = processor_->GetPieceSize();
  bos_id_ = processor_->bos_id();
  eos_id_ = processor_->eos_id();
  pad_id_ = processor_->pad_id();
  for (const char* c : kWhitespaceChars) encodes_whitespace_ |= !encode_raw(c).empty();
  trim_prefix_size_ = encode_raw(kTrimPrefix).size();
}

SentencePieceBaseTokenizer::~SentencePieceBaseTokenizer() = default;
SentencePieceBaseTokenizer::SentencePieceBaseTokenizer(SentencePieceBaseTokenizer&&) noexcept =
    default;
SentencePieceBaseTokenizer& SentencePieceBaseTokenizer::operator=(
    SentencePieceBaseTokenizer&&) noexcept = default;

std::vector<int> SentencePieceBaseTokenizer::encode_raw(const std::string& text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  TT_CHECK(status.ok(), path_, "SentencePiece could not encode a text of ", text.size(), " bytes (",
           status.ToString(), ")");
  return ids;
}

std::vector<int64_t> SentencePieceBaseTokenizer::encode(const std::string& text, bool add_bos,
                                                        bool add_eos,
                                                        bool trim_leading_whitespace) const {
  const bool trim = trim_leading_whitespace && encodes_whitespace_;
  std::vector<int> raw = encode_raw(trim ? kTrimPrefix + text : text);
  std::vector<int64_t> ids;
  ids.reserve(raw.size() + 2);
  // SentencePiece adds BOS/EOS only when the model defines them (id >= 0).
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  ids.insert(ids.end(), raw.begin(), raw.end());
  if (add_eos && eos_id_ >= 0) ids.push_back(eos_id_);
  if (!trim) return ids;
  // torchtune slices len(prefix tokens) + int(add_bos) off, whether or not the model has a BOS.
  const size_t start = trim_prefix_size_ + (add_bos ? 1 : 0);
  if (start >= ids.size()) return {};
  return std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(start), ids.end());
}

std::string SentencePieceBaseTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> raw;
  raw.reserve(ids.size());
  for (int64_t id : ids) {
    TT_CHECK(id >= 0 && id < vocab_size_, path_, "cannot decode token id ", id,
             ": the tokenizer's ids are 0..", vocab_size_ - 1,
             "; check that the model's vocab_size matches this tokenizer");
    raw.push_back(static_cast<int>(id));
  }
  std::string text;
  const auto status = processor_->Decode(raw, &text);
  TT_CHECK(status.ok(), path_, "SentencePiece could not decode ", ids.size(), " ids (",
           status.ToString(), ")");
  return text;
}

}  // namespace tt::modules
