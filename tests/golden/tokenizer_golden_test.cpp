// The Llama2 tokenizer against the real tools: tests/scripts/make_tokenizer_fixtures.py ran
// Python SentencePiece and torchtune 0.6.1's llama2_tokenizer on the test tokenizer
// (tests/assets/tokenizer/tokenizer.model) and recorded ids, decoded texts, and the tokens
// and masks of message lists. Every case must match exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/tokenizers/llama2_chat_template.h"

namespace tt::llama2 {
namespace {

using nlohmann::json;

const std::string kRoot = TT_SOURCE_DIR;

const json& fixture() {
  static const json data = [] {
    std::ifstream in(kRoot + "/tests/assets/golden/tokenizer/cases.json");
    EXPECT_TRUE(in.good()) << "missing tests/assets/golden/tokenizer/cases.json";
    return in.good() ? json::parse(in) : json::object();
  }();
  return data;
}

std::string model_path() {
  return kRoot + "/" + fixture().value("tokenizer", std::string());
}

std::vector<int64_t> ids_of(const json& j) {
  return j.get<std::vector<int64_t>>();
}

TEST(TokenizerGolden, FixtureComesFromTorchtune061) {
  ASSERT_TRUE(fixture().contains("versions"));
  EXPECT_EQ(fixture()["versions"]["torchtune"].get<std::string>().substr(0, 5), "0.6.1");
  EXPECT_GE(fixture()["encode_cases"].size(), 40u);
  EXPECT_GE(fixture()["message_cases"].size(), 8u);
}

TEST(TokenizerGolden, PropertiesMatchTorchtune) {
  const json& p = fixture()["properties"];
  Llama2Tokenizer tok(model_path());
  EXPECT_EQ(tok.vocab_size(), p["vocab_size"].get<int64_t>());
  EXPECT_EQ(tok.bos_id(), p["bos_id"].get<int64_t>());
  EXPECT_EQ(tok.eos_id(), p["eos_id"].get<int64_t>());
  EXPECT_EQ(tok.pad_id(), p["pad_id"].get<int64_t>());
  EXPECT_EQ(tok.base().pad_id(), p["spm_pad_id"].get<int64_t>());
  EXPECT_EQ(tok.base().encodes_whitespace(), p["encodes_whitespace"].get<bool>());
  EXPECT_EQ(tok.stop_tokens(), ids_of(p["stop_tokens"]));
}

TEST(TokenizerGolden, EncodeAndDecodeMatchSentencePieceAndTorchtune) {
  Llama2Tokenizer tok(model_path());
  size_t checked = 0;
  for (const json& c : fixture()["encode_cases"]) {
    const std::string name = c["name"];
    const std::string text = c["text"];
    SCOPED_TRACE(name);
    EXPECT_EQ(tok.encode(text, false, false), ids_of(c["spm_ids"]));
    for (const json& e : c["encode"]) {
      const bool bos = e["add_bos"], eos = e["add_eos"], trim = e["trim_leading_whitespace"];
      EXPECT_EQ(tok.encode(text, bos, eos, trim), ids_of(e["ids"]))
          << "add_bos=" << bos << " add_eos=" << eos << " trim_leading_whitespace=" << trim;
      ++checked;
    }
    EXPECT_EQ(tok.decode(ids_of(c["spm_ids"])), c["decode"].get<std::string>());
    EXPECT_EQ(tok.decode(ids_of(c["encode"][0]["ids"])),
              c["decode_with_special"].get<std::string>());
  }
  EXPECT_GE(checked, 200u);
}

TEST(TokenizerGolden, DecodeMatchesTorchtune) {
  Llama2Tokenizer tok(model_path());
  for (const json& c : fixture()["decode_cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(tok.decode(ids_of(c["ids"])), c["text"].get<std::string>());
  }
}

TEST(TokenizerGolden, TokenizeMessagesMatchesTorchtune) {
  for (const json& c : fixture()["message_cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<modules::Message> messages;
    for (const json& m : c["messages"])
      messages.push_back(modules::Message{m["role"], m["content"], m["masked"], m["eot"]});
    std::optional<int64_t> max_seq_len;
    if (!c["max_seq_len"].is_null()) max_seq_len = c["max_seq_len"].get<int64_t>();
    modules::PromptTemplate tmpl;
    if (!c["prompt_template"].is_null()) {
      ASSERT_EQ(c["prompt_template"], "torchtune.models.llama2.Llama2ChatTemplate");
      tmpl = modules::llama2_chat_template;
    }
    Llama2Tokenizer tok(model_path(), max_seq_len, tmpl);
    modules::TokenizedMessages got =
        tok.tokenize_messages(messages, c["add_end_tokens"], c["add_start_tokens"]);
    EXPECT_EQ(got.tokens, ids_of(c["tokens"]));
    EXPECT_EQ(got.mask, c["mask"].get<std::vector<bool>>());
  }
}

}  // namespace
}  // namespace tt::llama2
