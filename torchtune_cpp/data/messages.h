// torchtune's message transforms (data/_messages.py) for the instruct and chat datasets, and
// the conversation checks SFTTransform applies to every sample (validate_messages):
//   InputOutputToMessages  one prompt/response pair per record (instruct_dataset)
//   ShareGPTToMessages     "conversations": [{"from": system|human|gpt, "value": ...}, ...]
//   OpenAIToMessages       "messages": [{"role": ..., "content": str | [{"type": "text",
//                          ...}]}, ...]
// Bad records (missing or non-text columns, unknown roles, malformed turns) are tt::Errors
// naming file:line and what to fix.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/data/json_records.h"
#include "torchtune_cpp/modules/tokenizers/message.h"

namespace tt::data {

struct InputOutputOptions {
  std::string input_column = "input";
  std::string output_column = "output";
  bool train_on_input = false;
  std::optional<std::string> new_system_prompt;
};
std::vector<modules::Message> input_output_to_messages(const JsonRecord& record,
                                                       const InputOutputOptions& options);

enum class ConversationStyle { kShareGpt, kOpenAi };

struct ConversationOptions {
  ConversationStyle style = ConversationStyle::kShareGpt;
  std::string column;  // conversation_column
  bool train_on_input = false;
  std::optional<std::string> new_system_prompt;
};
std::vector<modules::Message> conversation_to_messages(const JsonRecord& record,
                                                       const ConversationOptions& options);

// torchtune's validate_messages: at least two messages, user and assistant alternating
// (assistant only after user), a system message only first. `where` names the record.
void validate_messages(const std::vector<modules::Message>& messages, const std::string& where);

}  // namespace tt::data
