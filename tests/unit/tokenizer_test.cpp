// The Llama2 tokenizer's own behaviour: load errors, special ids, the chat template's
// items, and building it from a config through the registry (exact token values are
// compared with torchtune in tests/golden/tokenizer_golden_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/tokenizers/llama2_chat_template.h"
#include "torchtune_cpp/modules/tokenizers/sentencepiece.h"

namespace tt::llama2 {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(TT_SOURCE_DIR) + "/tests/assets/tokenizer/tokenizer.model";

// A scratch directory removed at the end of the test.
using tt::testing::TempDir;

TEST(Tokenizer, MissingModelFileNamesThePath) {
  testing::expect_error(
      [] { modules::SentencePieceBaseTokenizer tok("/nonexistent/tokenizer.model"); },
      {"/nonexistent/tokenizer.model", "no SentencePiece tokenizer model", "tokenizer.path"});
}

TEST(Tokenizer, CorruptModelFileNamesThePath) {
  TempDir dir;
  const std::string bad = (dir.path() / "tokenizer.model").string();
  std::ofstream(bad) << "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}";
  testing::expect_error([&] { modules::SentencePieceBaseTokenizer tok(bad); },
                        {bad, "cannot load this file as a SentencePiece model"});
  testing::expect_error([&] { Llama2Tokenizer tok(dir.path().string()); },
                        {dir.path().string(), "no SentencePiece tokenizer model"});
}

TEST(Tokenizer, SpecialIdsAsTorchtuneReportsThem) {
  modules::SentencePieceBaseTokenizer spm(kModel);
  EXPECT_EQ(spm.vocab_size(), 512);
  EXPECT_EQ(spm.bos_id(), 1);
  EXPECT_EQ(spm.eos_id(), 2);
  EXPECT_EQ(spm.pad_id(), -1);  // the model has no pad piece, as Llama2's
  EXPECT_TRUE(spm.encodes_whitespace());

  Llama2Tokenizer tok(kModel);
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 0);  // forced by torchtune for collation
  EXPECT_EQ(tok.stop_tokens(), (std::vector<int64_t>{2}));
  EXPECT_FALSE(tok.max_seq_len().has_value());
  EXPECT_TRUE(static_cast<bool>(tok.prompt_template()));
}

TEST(Tokenizer, EncodeDecodeRoundTripAndBadIds) {
  Llama2Tokenizer tok(kModel);
  std::vector<int64_t> ids = tok.encode("Hello world!");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(tok.decode(ids), "Hello world!");
  // Trimming drops the dummy-prefix space and, as in torchtune, the BOS too.
  std::vector<int64_t> trimmed = tok.encode("Hello", true, false, true);
  EXPECT_NE(trimmed.front(), 1);
  testing::expect_error([&] { tok.decode({5, 512}); }, {kModel, "cannot decode token id 512"});
  testing::expect_error([&] { tok.decode({-1}); }, {"cannot decode token id -1"});
}

TEST(Tokenizer, Llama2ChatTemplateFoldsSystemIntoEveryUserMessage) {
  std::vector<modules::TemplatedMessage> out = modules::llama2_chat_template(
      {modules::Message{"system", "Be brief.", true}, modules::Message{"user", "Hi", true},
       modules::Message{"assistant", "Hello."}, modules::Message{"user", "Bye", true},
       modules::Message{"assistant", "Bye."}});
  ASSERT_EQ(out.size(), 4u);
  const std::vector<std::string> first{"[INST] ",        "<<SYS>>\n", "Be brief.",
                                       "\n<</SYS>>\n\n", "Hi",        " [/INST] "};
  EXPECT_EQ(out[0].role, "user");
  EXPECT_EQ(out[0].content, first);
  EXPECT_TRUE(out[0].masked);
  EXPECT_EQ(out[1].content, (std::vector<std::string>{"Hello."}));
  EXPECT_FALSE(out[1].masked);
  EXPECT_EQ(out[2].content[1], "<<SYS>>\n");  // torchtune never clears the system message
  testing::expect_error(
      [] {
        modules::llama2_chat_template({modules::Message{"ipython", "{}"}});
      },
      {"message 0", "role 'ipython'", "prompt_template: null"});
}

TEST(Tokenizer, TruncationEndsInEosWithTheLastMessagesMask) {
  Llama2Tokenizer tok(kModel, 8);
  modules::TokenizedMessages t =
      tok.tokenize_messages({modules::Message{"user", "A long question about gardening?", true},
                             modules::Message{"assistant", "Yes."}});
  ASSERT_EQ(t.tokens.size(), 8u);
  ASSERT_EQ(t.mask.size(), 8u);
  EXPECT_EQ(t.tokens.front(), 1);
  EXPECT_EQ(t.tokens.back(), 2);
  EXPECT_TRUE(t.mask.back());  // the user message was the last one tokenized
  modules::TokenizedMessages inference =
      tok.tokenize_messages({modules::Message{"user", "Hi", true}}, false);
  EXPECT_NE(inference.tokens.back(), 2);
  testing::expect_error([] { Llama2Tokenizer bad(kModel, 0); },
                        {"tokenizer.max_seq_len", "positive"});
}

class TokenizerConfig : public ::testing::Test {
 protected:
  void SetUp() override { register_llama2_tokenizer(); }
  static TokenizerPtr build(const std::string& extra) {
    config::Config cfg(
        config::parse_yaml("tokenizer:\n  _component_: torchtune.models.llama2.llama2_tokenizer\n"
                           "  path: " +
                               kModel + "\n" + extra,
                           "x.yaml"),
        "x.yaml");
    return config::instantiate<TokenizerPtr>(cfg, "tokenizer", config::Node::map());
  }
};

TEST_F(TokenizerConfig, InstantiatesWithTorchtuneDefaults) {
  TokenizerPtr tok = build("");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_FALSE(tok->max_seq_len().has_value());
  ASSERT_TRUE(static_cast<bool>(tok->prompt_template()));  // Llama2ChatTemplate when absent
  std::vector<int64_t> with_template =
      tok->tokenize_messages({modules::Message{"user", "Hi"}}).tokens;
  // Two spaces before [/INST]: torchtune encodes " [/INST] " as its own item, rstripped to
  // " [/INST]", and SentencePiece's dummy prefix adds a second space.
  EXPECT_EQ(tok->decode(with_template), "[INST] Hi  [/INST]");
}

TEST_F(TokenizerConfig, PromptTemplateNamesAndNull) {
  TokenizerPtr none = build("  prompt_template: null\n  max_seq_len: 64\n");
  EXPECT_FALSE(static_cast<bool>(none->prompt_template()));
  EXPECT_EQ(none->max_seq_len(), std::optional<int64_t>(64));
  EXPECT_EQ(
      none->decode(none->tokenize_messages({modules::Message{"user", "Hi"}}, true).tokens),
      "H");  // with max_seq_len set, torchtune makes the last token EOS even when nothing is cut
  EXPECT_EQ(none->decode(none->tokenize_messages({modules::Message{"user", "Hi"}}, false).tokens),
            "Hi");
  for (const char* name :
       {"torchtune.models.llama2.Llama2ChatTemplate", "torchtune.data.Llama2ChatTemplate"}) {
    TokenizerPtr tok = build(std::string("  prompt_template: ") + name + "\n");
    EXPECT_TRUE(static_cast<bool>(tok->prompt_template())) << name;
  }
}

TEST_F(TokenizerConfig, ErrorsNameTheKeyAndTheFix) {
  testing::expect_error([] { build("  prompt_template: torchtune.data.ChatMLTemplate\n"); },
                        {"x.yaml:4:", "tokenizer.prompt_template", "does not provide",
                         "torchtune.models.llama2.Llama2ChatTemplate or null"});
  testing::expect_error(
      [] { build("  prompt_template: torchtune.models.llama2.Llama2ChatTemplat\n"); },
      {"unknown prompt template", "Did you mean"});
  testing::expect_error([] { build("  prompt_template:\n    user: ['<u>', '</u>']\n"); },
                        {"tokenizer.prompt_template", "custom prompt templates"});
  testing::expect_error([] { build("  max_seq_len: 0\n"); },
                        {"tokenizer.max_seq_len", "must be at least 2, got 0"});
  testing::expect_error([] { build("  max_seq_len: long\n"); },
                        {"needs an integer", "max_seq_len"});
  testing::expect_error(
      [] {
        config::Config cfg(
            config::parse_yaml(
                "tokenizer:\n  _component_: torchtune.models.llama2.llama2_tokenizer\n"
                "  path: /missing/tokenizer.model\n",
                "x.yaml"),
            "x.yaml");
        config::instantiate<TokenizerPtr>(cfg, "tokenizer", config::Node::map());
      },
      {"x.yaml:3:9", "tokenizer.path", "no tokenizer model at '/missing/tokenizer.model'"});
  testing::expect_error(
      [] {
        config::Config cfg(
            config::parse_yaml(
                "tokenizer:\n  _component_: torchtune.models.llama2.llama2_tokenizer\n", "x.yaml"),
            "x.yaml");
        config::instantiate<TokenizerPtr>(cfg, "tokenizer", config::Node::map());
      },
      {"missing required argument 'path'"});
}

}  // namespace
}  // namespace tt::llama2
