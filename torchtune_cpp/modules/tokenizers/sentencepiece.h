// torchtune's SentencePieceBaseTokenizer: a SentencePiece model file (Llama2's
// tokenizer.model) with encode/decode, BOS/EOS, and torchtune's trimming of the leading
// whitespace SentencePiece's dummy prefix adds, which lets a message continuing a turn be
// encoded on its own and still match the encoding of the whole text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tt::modules {

class SentencePieceBaseTokenizer {
 public:
  // Loads `path`; a missing or unreadable model is a tt::Error naming the path.
  explicit SentencePieceBaseTokenizer(const std::string& path);
  ~SentencePieceBaseTokenizer();
  SentencePieceBaseTokenizer(SentencePieceBaseTokenizer&&) noexcept;
  SentencePieceBaseTokenizer& operator=(SentencePieceBaseTokenizer&&) noexcept;

  // As torchtune: with trim_leading_whitespace (and a model that encodes whitespace) it
  // encodes "\n" + text and drops the tokens of "\n", and the BOS with them: trimmed
  // encodings never start with BOS even when add_bos is true.
  std::vector<int64_t> encode(const std::string& text, bool add_bos = true, bool add_eos = true,
                              bool trim_leading_whitespace = false) const;
  // Control ids (BOS, EOS) decode to nothing; an id outside the vocabulary is a tt::Error.
  std::string decode(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const { return vocab_size_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  // The model's own pad id: -1 for Llama2, which has no pad piece (Llama2Tokenizer uses 0).
  int64_t pad_id() const { return pad_id_; }
  // True when any of " ", "\n", "\t", "\r", "\v" encodes to tokens (so trimming applies).
  bool encodes_whitespace() const { return encodes_whitespace_; }
  const std::string& path() const { return path_; }

 private:
  std::vector<int> encode_raw(const std::string& text) const;

  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  int64_t vocab_size_ = 0;
  int64_t bos_id_ = -1;
  int64_t eos_id_ = -1;
  int64_t pad_id_ = -1;
  bool encodes_whitespace_ = false;
  size_t trim_prefix_size_ = 0;  // tokens of kTrimPrefix
};

}  // namespace tt::modules
