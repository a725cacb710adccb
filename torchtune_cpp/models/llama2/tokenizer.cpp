// Llama2Tokenizer and its registration, following torchtune v0.6.1's _tokenizer.py,
// modules/transforms/tokenizers/_utils.py (tokenize_messages_no_special_tokens) and
// data/_utils.py (truncate), quirks included; see tokenize_templated_messages.
#include "torchtune_cpp/models/llama2/tokenizer.h"

#include <filesystem>

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/modules/tokenizers/llama2_chat_template.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::llama2 {

namespace {

const char kName[] = "torchtune.models.llama2.llama2_tokenizer";
const char kChatTemplate[] = "torchtune.models.llama2.Llama2ChatTemplate";
const char kChatTemplateAlias[] = "torchtune.data.Llama2ChatTemplate";

// torchtune's other prompt templates, which this project does not provide.
const std::vector<std::string> kOtherTorchtuneTemplates = {
    "torchtune.data.AlpacaInstructTemplate",
    "torchtune.data.ChatMLTemplate",
    "torchtune.data.GrammarErrorCorrectionTemplate",
    "torchtune.data.SummarizeTemplate",
    "torchtune.data.QuestionAnswerTemplate",
    "torchtune.models.mistral.MistralChatTemplate",
    "torchtune.data.PromptTemplate",
};

std::string rstrip_spaces(const std::string& s) {
  size_t end = s.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

// torchtune's truncate(tokens, max_seq_len, eos_id): keep the first max_seq_len and, when an
// end value is given, force the last one to it — even if nothing was cut.
template <class T>
void truncate(std::vector<T>& values, int64_t max_seq_len, const std::optional<T>& end) {
  if (static_cast<int64_t>(values.size()) > max_seq_len)
    values.resize(static_cast<size_t>(max_seq_len));
  // torchtune raises IndexError on an empty list here; an empty result is returned instead.
  if (end && !values.empty()) values.back() = *end;
}

modules::PromptTemplate template_from_config(const config::Kwargs& kw) {
  // Absent means torchtune's default template; an explicit null means none.
  if (!kw.given("prompt_template")) return Llama2Tokenizer::default_prompt_template();
  const config::Node& node = kw.node("prompt_template");
  if (node.is_null()) return modules::PromptTemplate{};
  const std::string where = kw.where("prompt_template");
  TT_CHECK(!node.is_map(), where,
           "custom prompt templates (a map of role to [prefix, suffix]) are not supported; use ",
           kChatTemplate, " or null");
  TT_CHECK(node.is_scalar() && node.scalar_type() == config::ScalarType::kString, where,
           "prompt_template must be the dotted name of a prompt template (", kChatTemplate,
           ") or null, got ", config::describe_type(node));
  const std::string& name = node.text;
  if (name == kChatTemplate || name == kChatTemplateAlias) return modules::llama2_chat_template;
  for (const std::string& other : kOtherTorchtuneTemplates)
    TT_CHECK(name != other, where, "'", name,
             "' is a torchtune prompt template that torchtune_cpp does not provide; use ",
             kChatTemplate, " or null (no template)");
  TT_CHECK(false, where, "unknown prompt template '", name, "'.",
           did_you_mean(name, {kChatTemplate, kChatTemplateAlias}), " Use ", kChatTemplate,
           " or null (no template)");
  return modules::PromptTemplate{};
}

}  // namespace

Llama2Tokenizer::Llama2Tokenizer(const std::string& path, std::optional<int64_t> max_seq_len,
                                 modules::PromptTemplate prompt_template)
    : spm_(path), max_seq_len_(max_seq_len), prompt_template_(std::move(prompt_template)) {
  TT_CHECK(!max_seq_len_ || *max_seq_len_ > 0, "tokenizer.max_seq_len",
           "must be a positive number of tokens or null, got ", max_seq_len_.value_or(0));
}

modules::PromptTemplate Llama2Tokenizer::default_prompt_template() {
  return modules::llama2_chat_template;
}

modules::TokenizedMessages Llama2Tokenizer::tokenize_messages(
    const std::vector<modules::Message>& messages, bool add_end_tokens,
    bool add_start_tokens) const {
  std::vector<modules::TemplatedMessage> templated;
  if (prompt_template_) {
    templated = prompt_template_(messages);
  } else {
    templated.reserve(messages.size());
    for (const modules::Message& m : messages) templated.push_back(modules::as_templated(m));
  }
  return tokenize_templated_messages(templated, add_end_tokens, add_start_tokens);
}

modules::TokenizedMessages Llama2Tokenizer::tokenize_templated_messages(
    const std::vector<modules::TemplatedMessage>& messages, bool add_end_tokens,
    bool add_start_tokens) const {
  modules::TokenizedMessages out;
  bool start_of_turn = true;
  bool prev_ends_with_space = false;
  const modules::TemplatedMessage* last =
      nullptr;  // the last message tokenized (Python's `message`)
  for (const modules::TemplatedMessage& message : messages) {
    last = &message;
    // Only assistant messages end a turn; eot is not consulted.
    const bool end_of_turn = message.role == "assistant";
    if (start_of_turn && add_start_tokens) {
      out.tokens.push_back(bos_id());
      out.mask.push_back(message.masked);
    }
    // A message continuing a turn loses the dummy-prefix space unless the previous one
    // ended with a space. The flag holds for every item of the message, not just the first.
    const bool trim = !start_of_turn && !prev_ends_with_space;
    for (const std::string& item : message.content) {
      std::vector<int64_t> ids = encode(rstrip_spaces(item), false, false, trim);
      out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
      out.mask.insert(out.mask.end(), ids.size(), message.masked);
    }
    // Read from the last item before stripping; with no items Python keeps the previous
    // message's last item, i.e. the flag is unchanged.
    if (!message.content.empty()) {
      const std::string& tail = message.content.back();
      prev_ends_with_space = !tail.empty() && tail.back() == ' ';
    }
    if (end_of_turn) {
      if (add_end_tokens) {
        out.tokens.push_back(eos_id());
        out.mask.push_back(message.masked);
      }
      start_of_turn = true;
    } else {
      start_of_turn = false;
    }
    if (max_seq_len_ && static_cast<int64_t>(out.tokens.size()) >= *max_seq_len_) break;
  }
  if (max_seq_len_ && last != nullptr) {
    // The mask's last entry becomes the masked flag of the last message tokenized.
    std::optional<int64_t> end_token;
    std::optional<bool> end_mask;
    if (add_end_tokens) {
      end_token = eos_id();
      end_mask = last->masked;
    }
    truncate(out.tokens, *max_seq_len_, end_token);
    truncate(out.mask, *max_seq_len_, end_mask);
  }
  return out;
}

void register_llama2_tokenizer() {
  using config::arg;
  using config::ArgType;
  config::register_component<TokenizerPtr>(
      config::ComponentSpec{
          kName,
          "tokenizer",
          "Llama2's SentencePiece tokenizer (pad id 0, Llama2 chat template by default)",
          {},
          {arg("path", ArgType::kString, "path to the SentencePiece tokenizer.model"),
           // One token trains nothing: the next-token labels of a 1-token sample are all
           // masked, and the loss is 0/0.
           arg("max_seq_len", ArgType::kInt, "null",
               "truncate each tokenized sample to this many tokens, the last one becoming EOS; "
               "null: no limit",
               config::with_hint(config::at_least(2),
                                 "a sample needs at least 2 tokens to give a next-token label "
                                 "(null: no limit)")),
           arg("prompt_template", ArgType::kAny, "null",
               str("prompt template applied to message lists: ", kChatTemplate,
                   " (used when the key is absent, as torchtune's default), ", kChatTemplateAlias,
                   ", or null for none"))}},
      [](const config::Kwargs& kw) {
        const std::string path = kw.get_string("path");
        std::error_code ec;
        TT_CHECK(std::filesystem::is_regular_file(path, ec), kw.where("path"),
                 "no tokenizer model at '", path,
                 "'; set tokenizer.path to the model's SentencePiece tokenizer.model (relative "
                 "paths are from the working directory)");
        const std::optional<int64_t> max_seq_len = kw.get_optional_int("max_seq_len");
        TT_CHECK(!max_seq_len || *max_seq_len > 0, kw.where("max_seq_len"),
                 "max_seq_len must be a positive number of tokens or null, got ",
                 max_seq_len.value_or(0));
        return std::make_shared<Llama2Tokenizer>(path, max_seq_len, template_from_config(kw));
      });
}

}  // namespace tt::llama2
